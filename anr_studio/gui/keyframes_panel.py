"""KeyframesPanel: run keyframe selection in the background, show the chosen frames as thumbnails
and the cumulative coverage curve (pyqtgraph), add or remove keyframes by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from anr_studio.errors import AnrError
from anr_studio.gui.qt_util import JobWatcher, ask_user, button, guarded, hbox, to_qimage, vbox
from anr_studio.jobs.capture_jobs import select_keyframes
from anr_studio.jobs.runner import BackgroundJob
from anr_studio.gui import theme

THUMB = 72
SAVE_TIP = "Write the keyframes into the capture file (training uses them)"


class KeyframesPanel(QtWidgets.QWidget):
    """Keyframes of the capture open in ``capture_panel``."""

    def __init__(self, capture_panel, parent=None) -> None:
        super().__init__(parent)
        self.capture_panel = capture_panel
        self.indices: list[int] = []
        self.coverage: np.ndarray | None = None
        self.unsaved = False  # hand edits not yet written into the capture
        self._path: str | None = None  # the capture the keyframes shown belong to
        self._job: BackgroundJob | None = None
        self.watcher = JobWatcher(self, capture_panel.jobs)
        self.fraction = QtWidgets.QDoubleSpinBox(minimum=0.01, maximum=1.0, singleStep=0.05, value=0.1,
                                                 toolTip="Keyframe budget as a fraction of the training frames")
        self.run_btn = button("Select keyframes", "Choose keyframes that cover the body's UV texels and silhouette best, "
                              "in the background", self.start_selection)
        self.add_btn = button("Add frame", "Add the frame shown in the Capture panel to the keyframes", self.add_current)
        self.remove_btn = button("Remove selected", "Remove the selected thumbnails from the keyframes", self.remove_selected)
        self.save_btn = button("Save to capture", SAVE_TIP, self.save)
        self.progress = QtWidgets.QProgressBar(visible=False)
        self.thumbs = QtWidgets.QListWidget(
            objectName="keyframeThumbs", toolTip="Keyframes; double-click one to show it in the Capture panel",
            viewMode=QtWidgets.QListView.ViewMode.IconMode, iconSize=QtCore.QSize(THUMB, THUMB),
            flow=QtWidgets.QListView.Flow.LeftToRight, wrapping=True, resizeMode=QtWidgets.QListView.ResizeMode.Adjust,
            selectionMode=QtWidgets.QAbstractItemView.SelectionMode.ExtendedSelection,
            itemDoubleClicked=lambda it: capture_panel.slider.setValue(int(it.data(QtCore.Qt.ItemDataRole.UserRole))))
        self.plot = pg.PlotWidget(background=theme.BASE, labels={"bottom": "keyframes", "left": "coverage"})
        self.plot.setObjectName("coveragePlot")
        self.plot.setYRange(0, 1.02)
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        self.plot.addLegend(offset=(-10, -10))
        self.curve = self.plot.plot([], [], pen=pg.mkPen((90, 200, 255), width=2), symbol="o", symbolSize=5, name="UV texels")
        self.sil_curve = self.plot.plot([], [], pen=pg.mkPen((255, 160, 60), width=1, style=QtCore.Qt.PenStyle.DashLine), name="silhouette")
        # The thumbnails and the plot take the height they are given: the plot's 480 px preferred height made the panel
        # scroll, the plot's axis and the line below it out of sight.
        split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal, minimumHeight=100, sizePolicy=QtWidgets.QSizePolicy(
            QtWidgets.QSizePolicy.Policy.Expanding, QtWidgets.QSizePolicy.Policy.Ignored))
        split.addWidget(self.thumbs)
        split.addWidget(self.plot)
        split.setSizes([500, 300])
        self.info = QtWidgets.QLabel("Open a capture, then select keyframes (paper §3.4: frames that together cover the "
                                     "body).", wordWrap=True)
        self.setLayout(vbox(hbox(QtWidgets.QLabel("Budget"), self.fraction, self.run_btn, self.add_btn, self.remove_btn,
                                 self.save_btn, None), self.progress, (split, 1), self.info, margins=4))
        capture_panel.capture_opened.connect(self._load_from_capture)
        capture_panel.writing_changed.connect(self._show_writer)
        capture_panel.before_close.append(self.confirm_close)

    def _load_from_capture(self, path: str) -> None:
        if self.unsaved and path == self._path:
            return  # the same file reopened (e.g. after a job rewrote its masks): keep the hand edits
        self._path, self.unsaved = path, False
        cap = self.capture_panel.capture
        kf = None if cap is None else cap.keyframes
        self.set_keyframes([] if kf is None else np.asarray(kf).tolist(), None if cap is None else cap.keyframe_coverage)

    def set_keyframes(self, indices, coverage=None, silhouette=None) -> None:
        """Shows ``indices`` as thumbnails and ``coverage`` / ``silhouette`` (k,) as the curves (in picking order)."""
        self.indices = sorted(int(i) for i in indices)
        self.coverage = None if coverage is None else np.asarray(coverage, np.float32)
        self.thumbs.clear()
        cap = self.capture_panel.capture
        for i in self.indices:
            item = QtWidgets.QListWidgetItem(f"#{i}")
            item.setData(QtCore.Qt.ItemDataRole.UserRole, i)
            if cap is not None:
                item.setIcon(QtGui.QIcon(QtGui.QPixmap.fromImage(to_qimage(cap.frame(i))).scaled(
                    THUMB, THUMB, QtCore.Qt.AspectRatioMode.KeepAspectRatio)))
            self.thumbs.addItem(item)
        for curve, values in ((self.curve, self.coverage), (self.sil_curve, silhouette)):
            values = np.asarray([] if values is None else values, np.float32)
            curve.setData(np.arange(1, len(values) + 1), values)
        self._show_writer()

    def _writing(self) -> str | None:
        """Returns why the keyframes cannot be saved now (a job writes the capture), None when they can."""
        path = self.capture_panel.path
        writer = self.capture_panel.writer_of(path)
        return None if writer is None else f"the {writer} job is writing {Path(path).name}"

    def _show_writer(self) -> None:
        """Enables Save unless a job writes the capture, and tells the count, coverage and why Save is off."""
        why = self._writing()
        self.save_btn.setEnabled(why is None)
        self.save_btn.setToolTip(SAVE_TIP if why is None else f"{SAVE_TIP}. Off while {why}; it comes back when the job ends")
        self.info.setText(f"{len(self.indices)} keyframes" + (f", coverage {self.coverage[-1]:.1%}" if self.coverage is not None and len(self.coverage) else "")
                          + (", not saved yet" if self.unsaved else "") + (f" (Save is off while {why})" if why else ""))

    @guarded
    def start_selection(self, _checked: bool = False) -> BackgroundJob:
        path = self.capture_panel.path
        if path is None:
            raise AnrError("keyframes: no capture is open, expected File ▸ Open capture first")
        if self._job is not None and self._job.running:
            raise AnrError("keyframes: a selection is already running, expected it to finish first")
        frac = self.fraction.value()
        self._job = self.capture_panel.start_writer(self.watcher, "keyframes", path,
                                                    lambda c: select_keyframes(c, path, frac, self.capture_panel.body),
                                                    lambda result: self._selected(path, result),
                                                    lambda _snap: self.run_btn.setEnabled(True), self.progress)
        self.run_btn.setEnabled(False)
        return self._job

    def _selected(self, path: str, result) -> None:
        if path != self.capture_panel.path:
            return  # another capture was opened meanwhile: its own keyframes stay shown
        self.unsaved = False
        self.capture_panel.reopen(path)  # the job rewrote the file: the capture's summary counts the new keyframes
        self.set_keyframes(*result)

    def add_current(self) -> None:
        if self.capture_panel.capture is not None:
            i = self.capture_panel.slider.value()
            if i not in self.indices:
                self.unsaved = True
                self.set_keyframes(self.indices + [i], None)

    def remove_selected(self) -> None:
        drop = {int(it.data(QtCore.Qt.ItemDataRole.UserRole)) for it in self.thumbs.selectedItems()}
        if drop:
            self.unsaved = True
            self.set_keyframes([i for i in self.indices if i not in drop], None)

    def confirm_close(self) -> bool:
        """Returns True when the keyframes of the open capture may be closed: nothing unsaved (or no window on screen
        to ask in), or the user saved or discarded the edits; False on Cancel or when saving failed."""
        if not self.unsaved or not self.window().isVisible():
            return True
        answer = ask_user(self, "Unsaved keyframes", f"Save changes to keyframes of {Path(self._path).name}?",
                          "Save Discard Cancel", "Save")
        if answer == "Save":
            self.save()  # a failure is a dialog and leaves the edits unsaved
            return not self.unsaved
        return answer == "Discard"

    @guarded
    def save(self, _checked: bool = False) -> None:
        """Writes the hand-edited keyframes into the capture (coverage is dropped: it no longer applies)."""
        cap = self.capture_panel.capture
        if cap is None:
            raise AnrError("keyframes: no capture is open, expected File ▸ Open capture first")
        why = self._writing()
        if why is not None:
            raise AnrError(f"keyframes: not saved while {why}, expected the job to finish first")
        cap.write_keyframes(np.asarray(self.indices, np.int64))
        self.unsaved = False
        self.capture_panel.reopen(self.capture_panel.path)  # the capture's summary counts the saved keyframes
        self.info.setText(f"saved {len(self.indices)} keyframes to {self.capture_panel.path}")
