"""File ▸ Export video…: the open avatar driven by a motion, from the viewport's view, written to an mp4 by a job."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from anr_studio.components.protocols import StudioAvatar
from anr_studio.components.scene import OrbitView
from anr_studio.components.status import JobState
from anr_studio.errors import AnrError
from anr_studio.gui.qt_util import JobWatcher, guarded
from anr_studio.jobs.preview import export_video
from anr_studio.jobs.runner import BackgroundJob


class VideoExport(QtCore.QObject):
    """Runs one video export at a time for ``window`` and lists it in the window's job list (``window.jobs``)."""

    def __init__(self, window: QtWidgets.QMainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.job: BackgroundJob | None = None
        self.watcher = JobWatcher(window, window.jobs)

    @guarded
    def dialog(self, _checked: bool = False) -> None:
        """Asks for the mp4 to write, then exports the open avatar doing the Pose panel's motion from the 3D view."""
        win = self.window
        if win.avatar is None:
            raise AnrError("export video: no avatar is open, expected File ▸ Open avatar first")
        path, _ = QtWidgets.QFileDialog.getSaveFileName(win, "Export video", "animation.mp4", "Video (*.mp4)")
        if path:
            self.start(win.avatar, win.neural.identity, win.pose_panel.motion_box.currentText(), path, win.view_state.view)

    def start(self, avatar: StudioAvatar, identity: str, motion: str, out: str, view: OrbitView, size: int = 256,
              max_frames: int | None = None) -> BackgroundJob:
        """Returns the started job that renders ``avatar``'s ``identity`` doing ``motion`` to ``out`` (.mp4, ``size``²)."""
        if self.job is not None and self.job.running:
            raise AnrError("export video: another export is running, expected it to finish first")
        self.job = self.watcher.start("export video", lambda c: export_video(avatar, identity, motion, out, view, c, size=size,
                                                                             max_frames=max_frames), on_end=self._ended)
        self.window.statusBar().showMessage(f"exporting {motion} to {out} …")
        return self.job

    def _ended(self, snap) -> None:
        if snap.state == JobState.FAILED:
            self.window.statusBar().clearMessage()
        else:
            self.window.statusBar().showMessage(f"export {snap.state.value}: {self.job.result or ''}", 10000)
