"""CapturePanel: open (or import, or synthesise) a capture, scrub its frames, check the coarse
mesh outline against the frame, and view the mask."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6 import QtCore, QtWidgets

from anr_studio.components.captures import open_capture
from anr_studio.components.overlay import outline_overlay
from anr_studio.components.pose_state import PoseState
from anr_studio.components.protocols import StudioBody
from anr_studio.components.status import JobState
from anr_studio.errors import AnrError
from anr_studio.gui.qt_util import ImageLabel, guarded, poll_job_progress, show_error
from anr_studio.jobs import capture_jobs
from anr_studio.jobs.runner import BackgroundJob

NO_CAPTURE = "No capture open.\nFile ▸ Open capture… (Ctrl+O), Import… (Ctrl+I) or Make synthetic capture… (Ctrl+Shift+N)."


class CapturePanel(QtWidgets.QWidget):
    """Shows one capture; ``capture_opened(path)`` fires after a capture was opened."""

    capture_opened = QtCore.Signal(str)

    def __init__(self, body: StudioBody, pose_state: PoseState, parent=None) -> None:
        super().__init__(parent)
        self.body, self.pose_state = body, pose_state
        self.capture = None
        self.path: str | None = None
        self._job: BackgroundJob | None = None
        self.image = ImageLabel(NO_CAPTURE)
        self.image.setObjectName("captureImage")
        self.slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.slider.setEnabled(False)
        self.slider.valueChanged.connect(self.show_frame)
        self.frame_label = QtWidgets.QLabel("–")
        self.outline_box = QtWidgets.QCheckBox("Mesh outline")
        self.outline_box.setChecked(True)
        self.outline_box.setToolTip("Draw the coarse body's outline (from the capture's tracked pose) on the frame")
        self.mask_box = QtWidgets.QComboBox()
        self.mask_box.addItems(["Frame", "Frame + mask", "Mask only"])
        self.pose_btn = QtWidgets.QPushButton("Pose from frame")
        self.pose_btn.setToolTip("Copy this frame's tracked pose and shape into the viewport (undoable)")
        self.pose_btn.clicked.connect(self._pose_from_frame)
        self.info = QtWidgets.QLabel("")
        self.info.setWordWrap(True)
        for w in (self.outline_box,):
            w.toggled.connect(lambda _=None: self.show_frame(self.slider.value()))
        self.mask_box.currentIndexChanged.connect(lambda _=None: self.show_frame(self.slider.value()))
        open_btn = QtWidgets.QPushButton("Open…")
        open_btn.clicked.connect(self._open_dialog)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(open_btn)
        row.addWidget(self.slider, 1)
        row.addWidget(self.frame_label)
        row2 = QtWidgets.QHBoxLayout()
        row2.addWidget(self.outline_box)
        row2.addWidget(self.mask_box)
        row2.addWidget(self.pose_btn)
        row2.addStretch(1)
        self.progress = QtWidgets.QProgressBar()
        self.progress.setVisible(False)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.image, 1)
        lay.addLayout(row)
        lay.addLayout(row2)
        lay.addWidget(self.progress)
        lay.addWidget(self.info)
        self._poll = QtCore.QTimer(self)
        self._poll.timeout.connect(self._poll_job)

    # --- opening -------------------------------------------------------------------------
    @guarded
    def _open_dialog(self, _checked: bool = False) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Open capture", "", "Captures (*.h5 *.hdf5)")
        if path:
            self.open_capture(path)

    def open_capture(self, path: str) -> None:
        """Opens ``path`` (AnrError with the validator's first problem when it is not a valid capture)."""
        cap, summary = open_capture(path, self.body)
        self.capture, self.path = cap, path
        with QtCore.QSignalBlocker(self.slider):
            self.slider.setRange(0, len(cap) - 1)
            self.slider.setValue(0)
        self.slider.setEnabled(True)
        self.info.setText(summary)
        self.show_frame(0)
        self.capture_opened.emit(path)

    def show_frame(self, i: int) -> None:
        """Draws frame ``i`` with the chosen overlays."""
        cap = self.capture
        if cap is None:
            return
        frame = cap.frame(i)
        mask = cap.mask(i)
        mode = self.mask_box.currentIndex()
        if mode == 2:
            img = np.repeat((mask if mask is not None else np.zeros(frame.shape[:2], np.uint8))[..., None], 3, -1)
        else:
            img = frame
        if self.outline_box.isChecked() or mode == 1:
            K, R, t = cap.camera(i)
            img = outline_overlay(img, self.body, cap.pose(i), cap.betas, cap.transl(i), K, R, t,
                                  mask=mask if mode == 1 else None) if self.outline_box.isChecked() else img
        self.image.set_array(img)
        self.frame_label.setText(f"{i + 1}/{len(cap)}")

    def _pose_from_frame(self) -> None:
        if self.capture is None:
            return
        i = self.slider.value()
        self.pose_state.set_pose(self.capture.pose(i))
        self.pose_state.set_betas(self.capture.betas[: self.pose_state.num_betas])

    # --- import / synth ------------------------------------------------------------------
    @guarded
    def import_dialog(self, _checked: bool = False) -> None:
        """Imports a folder (images/, masks/, parameters) or a video with an SMPL pose .npz as a capture."""
        kind, ok = QtWidgets.QInputDialog.getItem(self, "Import", "Import from:", ["Folder of images", "Video file + poses"], 0, False)
        if not ok:
            return
        poses = None
        if kind.startswith("Folder"):
            src = QtWidgets.QFileDialog.getExistingDirectory(self, "Import a capture folder (images/, masks/, metadata)")
        else:
            src, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Import a video", "", "Videos (*.mp4 *.mov *.avi *.mkv)")
            if src:
                poses, _ = QtWidgets.QFileDialog.getOpenFileName(self, "SMPL poses for the video", "", "Poses (*.npz)")
                if not poses:
                    return
        if not src:
            return
        out, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Write capture", str(Path(src).with_suffix(".h5")), "Captures (*.h5)")
        if out:
            self.import_capture(src, out, poses)

    def import_capture(self, src: str, out: str, poses: str | None = None) -> BackgroundJob:
        """Imports ``src`` into the capture ``out`` in the background and opens it when done; returns the job."""
        return self._run_job("import", lambda c: capture_jobs.import_capture(c, src, out, poses))

    @guarded
    def synth_dialog(self, _checked: bool = False) -> None:
        out, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Make synthetic capture", "synthetic.h5", "Captures (*.h5)")
        if not out:
            return
        frames, ok = QtWidgets.QInputDialog.getInt(self, "Synthetic capture", "Frames:", 60, 2, 5000)
        if ok:
            self.make_synthetic(out, frames=frames)

    def make_synthetic(self, out: str, frames: int = 60, size: int = 256, seed: int = 0) -> BackgroundJob:
        """Writes a synthetic capture in the background and opens it when done; returns the job."""
        return self._run_job("synthetic capture", lambda c: capture_jobs.make_synthetic(c, out, frames, size, seed))

    def _run_job(self, name: str, fn) -> BackgroundJob:
        if self._job is not None and self._job.running:
            raise AnrError(f"{name}: another capture job is still running, expected it to finish first")
        self._job = BackgroundJob(name, fn).start()
        self.progress.setVisible(True)
        self.progress.setRange(0, 0)
        self._poll.start(200)
        return self._job

    def _poll_job(self) -> None:
        job = self._job
        if job is None:
            return
        snap = poll_job_progress(job, self.progress, self._poll)
        if snap is None:
            return
        if snap.state == JobState.FINISHED and job.result:
            try:
                self.open_capture(str(job.result))
            except Exception as exc:  # noqa: BLE001
                show_error(self, exc)
        elif snap.state == JobState.FAILED:
            show_error(self, AnrError(snap.error or f"{job.name} failed"))

    def shutdown(self) -> None:
        if self._job is not None:
            self._job.stop()
