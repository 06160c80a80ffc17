"""Files dropped on the window open as the File menu would (avatar, capture, video or image folder, motion);
anything else gets a note in the status bar."""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore, QtWidgets

from anr_studio.components.file_kinds import ACCEPTED, FileKind, plan_opening
from anr_studio.gui.qt_util import show_error
from anr_studio.jobs import capture_jobs

MESSAGE_MS = 12000


def local_paths(mime: QtCore.QMimeData) -> list[str]:
    """Returns the local file paths a drag carries (URLs of other kinds left out)."""
    return [u.toLocalFile() for u in mime.urls() if u.isLocalFile()] if mime.hasUrls() else []


class FileDrop(QtCore.QObject):
    """Handles drags and drops of files onto ``window`` (the studio's MainWindow)."""

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        window.setAcceptDrops(True)
        window.installEventFilter(self)

    def eventFilter(self, _obj, event: QtCore.QEvent) -> bool:  # noqa: N802 - Qt name
        """Accepts any drag of local files (an unknown kind is explained on the drop, not refused silently) and
        opens the dropped ones."""
        E = QtCore.QEvent.Type
        if event.type() not in (E.DragEnter, E.DragMove, E.Drop):
            return False
        paths = local_paths(event.mimeData())
        if not paths:
            event.ignore()
            return True
        event.acceptProposedAction()
        if event.type() == E.Drop:
            self.open_files(paths)
        return True

    def open_files(self, paths: list[str]) -> str:
        """Opens ``paths`` by kind (avatars first, then captures, motions, videos); returns the status line shown."""
        plan, poses = plan_opening(paths)
        notes = []
        for kind, path in plan:
            try:
                notes.append(self._open(kind, path, poses))
            except Exception as exc:  # noqa: BLE001 - one failing file is reported; the others still open
                show_error(self.window, exc)
                notes.append(f"{path.name}: not opened")
        line = "; ".join(n for n in notes if n)
        self.window.statusBar().showMessage(line, MESSAGE_MS)
        return line

    def _open(self, kind: FileKind, path: Path, poses: Path | None) -> str:
        win = self.window
        if kind in (FileKind.AVATAR, FileKind.CAPTURE):
            win.open_path.__wrapped__(win, str(path))  # without its error dialog: open_files reports
            if kind == FileKind.CAPTURE:
                win.workspaces.show_workspace("Capture")
            return f"Opened {kind.value} {path.name}"
        if kind == FileKind.MOTION:
            win.pose_panel.load_motion.__wrapped__(win.pose_panel, str(path))
            win.workspaces.show_workspace("Pose")
            return f"Loaded motion {path.name} ({len(win.pose_panel.playback.clip)} frames): press Play in the Pose panel"
        if kind == FileKind.VIDEO:
            return self._import_video(path, poses)
        if kind == FileKind.FOLDER:
            return self._import(path, None)
        return f"{path.name}: not opened — the studio opens {ACCEPTED}"

    def _import_video(self, video: Path, poses: Path | None) -> str:
        """Asks for the video's SMPL poses (unless dropped with it; none: the body is fitted to the video
        where that is installed), then the capture to write, then imports."""
        win = self.window
        if poses is None:
            missing = capture_jobs.video_fit_missing(video.name)
            title = f"SMPL poses for {video.name}" + ("" if missing else " (Cancel: fit the body to the video)")
            chosen, _ = QtWidgets.QFileDialog.getOpenFileName(win, title, str(video.parent), "Poses (*.npz)")
            if chosen:
                poses = Path(chosen)
            elif missing:
                return f"{video.name}: import cancelled (no poses, and {missing.split(': ', 1)[-1]})"
        return self._import(video, poses)

    def _import(self, src: Path, poses: Path | None) -> str:
        """Asks for the capture to write, then imports ``src`` (a video with ``poses``, or a folder) through the Capture panel."""
        win = self.window
        out, _ = QtWidgets.QFileDialog.getSaveFileName(win, "Write capture", str(src.with_suffix(".h5")), "Captures (*.h5)")
        if not out:
            return f"{src.name}: import cancelled"
        win.capture_panel.import_capture(str(src), out, None if poses is None else str(poses))
        win.workspaces.show_workspace("Capture")
        with_poses = "" if poses is None else f" with {poses.name}"
        return f"Importing {src.name}{with_poses} into {Path(out).name} (progress and cancel in the status bar)"
