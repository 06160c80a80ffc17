"""CapturePanel: open, import or synthesise a capture, scrub its frames with the mesh outline or the mask,
extract masks, and run the alignment check (outline and skeleton over the frame, IoU, a verdict) as jobs."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
from PySide6 import QtCore, QtWidgets

from anr_studio.components.captures import alignment_overlay, open_capture, outline_overlay
from anr_studio.components.file_kinds import SUFFIXES, FileKind, file_kind
from anr_studio.components.job_list import JobList
from anr_studio.components.pose_state import PoseState
from anr_studio.components.protocols import StudioBody
from anr_studio.components.status import JobState
from anr_studio.errors import AnrError
from anr_studio.gui.qt_util import ImageLabel, JobWatcher, ask_user, button, combo, guarded, hbox, open_file, slider, vbox
from anr_studio.jobs import capture_jobs
from anr_studio.jobs.runner import BackgroundJob

NO_CAPTURE = "No capture open.\nFile ▸ Open capture… (Ctrl+O), Import… (Ctrl+I) or Make synthetic capture… (Ctrl+Shift+N)."


class CapturePanel(QtWidgets.QWidget):
    """Shows one capture; ``capture_opened(path)`` fires after a capture was opened, ``writing_changed()`` when a job
    that writes a capture file starts or ends (see `writer_of`)."""

    capture_opened = QtCore.Signal(str)
    writing_changed = QtCore.Signal()

    def __init__(self, body: StudioBody, pose_state: PoseState, jobs: JobList) -> None:
        super().__init__()
        self.body, self.pose_state = body, pose_state
        self.jobs = jobs  # the studio's job list (status bar)
        self.capture = None
        self.path: str | None = None
        self.report = None  # the open capture's AlignmentReport, once checked
        self._opened = 0  # counts openings: a check started before the last one reports on an older file
        self._job: BackgroundJob | None = None  # import or synthetic capture: opens the capture when done
        self._masks_job: BackgroundJob | None = None
        self._check_job: BackgroundJob | None = None
        self._writers: dict[BackgroundJob, tuple[str, str]] = {}  # running jobs that write a capture: (name, path)
        # Asked before another capture replaces the open one (unsaved edits); one answering False keeps the open one.
        self.before_close: list[Callable[[], bool]] = []
        self.watcher = JobWatcher(self, self.jobs)
        self.image = ImageLabel(NO_CAPTURE, objectName="captureImage")
        self.slider = slider(0, 0, tip="Scrub through the capture's frames", slot=self.show_frame, enabled=False)
        self.frame_label = QtWidgets.QLabel("–")
        redraw = lambda _=None: self.show_frame(self.slider.value())  # noqa: E731
        self.outline_box = button("Mesh outline", "Draw the coarse body's outline (from the capture's tracked pose) on "
                                  "the frame", redraw, kind=QtWidgets.QCheckBox, checked=True)
        self.mask_box = combo(["Frame", "Frame + mask", "Mask only"], "Show the frame, the frame with its foreground mask, "
                              "or the mask alone")
        self.pose_btn = button("Pose from frame", "Copy this frame's tracked pose and shape into the viewport (undoable)",
                               self._pose_from_frame)
        self.info = QtWidgets.QLabel("", wordWrap=True)
        self.check_box = button("Alignment check", "Draw the alignment check over the frame: the coarse body's outline "
                                "(yellow) and skeleton (red), the mask's outline (cyan) and the frame's IoU; checks the "
                                "capture in the background if it was not checked yet", self._on_check_toggled,
                                kind=QtWidgets.QCheckBox, name="alignmentOverlay")
        self.check_btn = button("Check alignment", "Measure how well the coarse body fits the person: per-frame IoU of the "
                                "rasterized body against the mask, and a verdict (a background job)", self.start_check)
        self.masks_btn = button("Extract masks", "Write foreground masks into the capture (from the background plate, or "
                                "the person segmenter when the camera moves; a background job)", self.start_masks)
        self.verdict = QtWidgets.QLabel("", objectName="alignmentVerdict", wordWrap=True)
        self.mask_box.currentIndexChanged.connect(redraw)
        open_btn = button("Open…", "Open a capture (.h5) to check and train on (Ctrl+O)",
                          lambda: open_file(self, "Open capture", "Captures (*.h5 *.hdf5)", self.open_capture))
        self.import_btn = button("Import…", "Import a folder of images or a video (with SMPL poses, or alone: the body "
                                 "is fitted to the video) as a capture, in the background (Ctrl+I)", self.import_dialog)
        # Two rows of controls (the file and the frame; how to draw and check it): the panel then fits a third of a
        # laptop's height, and its width beside the side panels in a 1024-pixel window.
        self.setLayout(vbox((self.image, 1), hbox(open_btn, self.import_btn, self.masks_btn, (self.slider, 1),
                                                  self.frame_label, self.pose_btn),
                            hbox(self.outline_box, self.mask_box, 12, self.check_box, self.check_btn, None),
                            self.verdict, self.info, margins=4))

    # --- opening -------------------------------------------------------------------------
    def open_capture(self, path: str) -> None:
        """Opens ``path`` (AnrError with the validator's first problem when it is not a valid capture) unless one of
        `before_close` keeps the open capture."""
        cap, summary = open_capture(path, self.body)
        if path != self.path and not all(keep_going() for keep_going in self.before_close):
            cap.close()
            return
        if self.capture is not None and self.capture is not cap:
            self.capture.close()
        self.capture, self.path = cap, path
        self.report = None
        self._opened += 1
        if self._check_job is not None and self._check_job.running:
            self._check_job.stop()  # it checks what the file held before
        self._check_job = None
        self.verdict.setText("Alignment: not checked yet." if cap.has_masks else
                             "Alignment: no masks to check against (Extract masks first).")
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
        self.frame_label.setText(f"{i + 1}/{len(cap)}")
        if self.check_box.isChecked():
            self.image.set_array(alignment_overlay(cap, self.body, i, self.report))
            return
        frame, mask = cap.frame(i), cap.mask(i)
        mode = self.mask_box.currentIndex()  # 0: frame, 1: frame + mask, 2: mask only
        img = frame if mode < 2 else np.repeat((np.zeros(frame.shape[:2], np.uint8) if mask is None else mask)[..., None], 3, -1)
        if self.outline_box.isChecked():
            img = outline_overlay(img, cap, self.body, i, mask=mask if mode == 1 else None)
        self.image.set_array(img)

    def _pose_from_frame(self) -> None:
        if self.capture is None:
            return
        i = self.slider.value()
        self.pose_state.set_pose(self.capture.pose(i))
        self.pose_state.set_betas(self.capture.betas[: self.pose_state.num_betas])

    # --- import / synth ------------------------------------------------------------------
    IMPORT_KINDS = ("Folder of images", "Video file + SMPL poses", "Video file only (fits the body to the video)")

    @guarded
    def import_dialog(self, _checked: bool = False) -> None:
        """Imports a folder (images/, masks/, parameters), a video with an SMPL pose .npz, or a video alone."""
        missing = capture_jobs.video_fit_missing()
        kinds = list(self.IMPORT_KINDS)
        if missing:
            kinds[2] += f" — needs pip install '{capture_jobs.VIDEO_EXTRA}'"
        kind, ok = QtWidgets.QInputDialog.getItem(self, "Import", "Import from:", kinds, 0, False)
        if not ok:
            return
        if kind == kinds[2] and missing:
            raise AnrError(missing)
        if kind == kinds[0]:
            src = QtWidgets.QFileDialog.getExistingDirectory(
                self, "Import a capture folder (images/ + metadata, People-Snapshot, EasyMocap or ZJU-MoCap)")
        else:
            videos = " ".join(f"*{suffix}" for suffix in SUFFIXES[FileKind.VIDEO])
            src, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Import a video", "", f"Videos ({videos})")
        if not src:
            return
        poses, height = None, None
        if kind == kinds[1]:
            poses, _ = QtWidgets.QFileDialog.getOpenFileName(
                self, "SMPL fits for the video", "", "Fits: SMPL .npz, ROMP / BEV, 4D-Humans / PHALP, WHAM, GLAMR "
                "(*.npz *.pkl *.pickle *.joblib *.pth)")
            if not poses:
                return
        if kind == kinds[2]:
            # One video cannot tell a tall person far away from a short one nearby: the height sizes the body.
            metres, ok = QtWidgets.QInputDialog.getDouble(self, "Import a video", "The person's standing height in metres "
                                                          "(0 if unknown):", 0.0, 0.0, capture_jobs.MAX_HEIGHT, 2)
            if not ok:
                return
            height = metres if metres >= capture_jobs.MIN_HEIGHT else None
        out, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Write capture", str(Path(src).with_suffix(".h5")), "Captures (*.h5)")
        if out:
            self.import_capture(src, out, poses, height=height)

    def import_capture(self, src: str, out: str, poses: str | None = None, height: float | None = None,
                       **models) -> BackgroundJob:
        """Imports ``src`` into the capture ``out`` as a job, then opens and checks it; returns the job. A video without
        ``poses`` is fitted (``models``: estimator / segmenter, default MediaPipe's), sized by ``height`` metres if given."""
        if poses is None and file_kind(src) == FileKind.VIDEO and not models:
            missing = capture_jobs.video_fit_missing(Path(src).name)
            if missing:
                raise AnrError(missing)
        return self._start_opening_job(f"import {Path(src).name}", out,
                                       lambda c: capture_jobs.import_capture(c, src, out, poses, height=height, **models),
                                       check=True)

    @guarded
    def synth_dialog(self, _checked: bool = False) -> None:
        out, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Make synthetic capture", "synthetic.h5", "Captures (*.h5)")
        if not out:
            return
        frames, ok = QtWidgets.QInputDialog.getInt(self, "Synthetic capture", "Frames:", 60, 2, 5000)
        if ok:
            self.make_synthetic(out, frames=frames)

    def make_synthetic(self, out: str, frames: int = 60, size: int = 256) -> BackgroundJob:
        """Writes a synthetic capture in the background and opens it when done; returns the job."""
        return self._start_opening_job("synthetic capture", out, lambda c: capture_jobs.make_synthetic(c, out, frames, size))

    def _start_opening_job(self, name: str, out: str, fn, check: bool = False) -> BackgroundJob:
        if self._job is not None and self._job.running:
            raise AnrError(f"{name}: another import is still running, expected it to finish first")
        self._job = self.start_writer(self.watcher, name, out, fn, lambda path: self._open_written(path, check))
        return self._job

    def start_writer(self, watcher: JobWatcher, name: str, path: str, fn, on_result=None, on_end=None,
                     progress=None) -> BackgroundJob:
        """Returns the job ``name`` started by ``watcher`` (see `JobWatcher.start`) that writes the capture at ``path``;
        `writer_of` names it until it ends."""
        def ended(snap) -> None:
            self._writers.pop(job, None)
            self.writing_changed.emit()
            if on_end is not None:
                on_end(snap)

        job = watcher.start(name, fn, on_result, ended, progress)
        self._writers[job] = (name, str(path))
        self.writing_changed.emit()
        return job

    def writer_of(self, path: str | None) -> str | None:
        """Returns the name of a running job that writes the capture at ``path``, None when none does."""
        return next((name for name, written in self._writers.values() if path is not None and written == str(path)), None)

    def _open_written(self, path, check: bool) -> None:
        if path:
            self.open_capture(str(path))
            if check and self.capture is not None and self.capture.has_masks:
                self.start_check()

    # --- masks and the alignment check ---------------------------------------------------
    @guarded
    def start_masks(self, _checked: bool = False, method: str = "auto") -> BackgroundJob | None:
        """Writes masks into the open capture in the background (replacing its masks, after asking); returns the job."""
        if self.path is None:
            raise AnrError("masks: no capture is open, expected File ▸ Open capture first")
        if self._masks_job is not None and self._masks_job.running:
            raise AnrError("masks: an extraction is already running, expected it to finish first")
        if self.capture.has_masks and ask_user(self, "Replace the masks?", f"{Path(self.path).name} has masks. Replace "
                                               "them with newly extracted ones?", default="No") == "No":
            return None
        path = self.path
        self.capture.close()  # the job rewrites the file
        self._masks_job = self.start_writer(self.watcher, "masks", path, lambda c: capture_jobs.extract_masks(c, path, method),
                                            lambda line: self.reopen(path, line))
        return self._masks_job

    def reopen(self, path: str, line: str | None = None) -> None:
        """Reads the open capture ``path`` again after a job rewrote it, on the same frame; ``line`` replaces the summary."""
        if path == self.path:
            i = self.slider.value()
            self.open_capture(path)
            self.slider.setValue(i)
            if line is not None:
                self.info.setText(str(line))

    @guarded
    def start_check(self, _checked: bool = False) -> BackgroundJob | None:
        """Checks the open capture's alignment in the background; the verdict and overlay follow; returns the job."""
        if self.path is None:
            raise AnrError("alignment check: no capture is open, expected File ▸ Open capture first")
        if self._check_job is not None and self._check_job.running:
            return self._check_job
        path, opened = self.path, self._opened
        self.verdict.setText("Alignment: checking…")
        self._check_job = self.watcher.start("alignment check", lambda c: capture_jobs.check_alignment(c, path, self.body),
                                             lambda report: self._checked(opened, report),
                                             lambda snap: self._check_ended(opened, snap.state))
        return self._check_job

    def _checked(self, opened: int, report) -> None:
        if opened != self._opened:
            return
        self.report = report
        self.verdict.setText(f"Alignment check: {report.summary()}")
        self.show_frame(self.slider.value())

    def _check_ended(self, opened: int, state: JobState) -> None:
        if state == JobState.STOPPED and opened == self._opened and self.report is None and self.capture is not None:
            self.verdict.setText("Alignment: check cancelled.")

    def _on_check_toggled(self, on: bool) -> None:
        # The check's drawing replaces the outline and mask views while it is on.
        self.outline_box.setEnabled(not on)
        self.mask_box.setEnabled(not on)
        if on and self.report is None and self.capture is not None and self.capture.has_masks:
            self.start_check()
        self.show_frame(self.slider.value())
