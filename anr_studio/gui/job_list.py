"""The status bar's job list: one compact row per background job (name, progress bar with ETA,
cancel), polled from the Qt-free ``JobList`` every 200 ms; ended jobs show how they ended, then go."""

from __future__ import annotations

from dataclasses import replace

from PySide6 import QtCore, QtWidgets

from anr_studio.components.job_list import JobList, JobRow
from anr_studio.components.status import JobState
from anr_studio.gui.qt_util import POLL_MS, button, hbox

MAX_ROWS = 3
"""Rows shown side by side; further jobs are summed up as "+N more" (their state in its tooltip), so the
status bar keeps its width on a 1280-pixel screen."""
ENDED_COLOURS = {JobState.FINISHED: "#7fd67f", JobState.STOPPED: "#c8c8c8", JobState.FAILED: "#ff7a7a"}


class JobRowWidget(QtWidgets.QFrame):
    """One job: its name, a progress bar (busy while the amount of work is unknown) and a cancel button."""

    def __init__(self, jobs: JobList, key: int, name: str, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent, objectName="jobRow")
        self.key = key
        self.name = QtWidgets.QLabel(name, objectName="jobName")
        self.bar = QtWidgets.QProgressBar(objectName="jobProgress", fixedWidth=170, maximumHeight=16, textVisible=True)
        self.ended = QtWidgets.QLabel("", objectName="jobEnded", maximumWidth=420, visible=False)
        self.cancel = button("✕", f"Cancel {name} (training saves a checkpoint; other jobs leave nothing half-written)",
                             lambda: jobs.cancel(key), kind=QtWidgets.QToolButton, name="cancelJob", autoRaise=True)
        self.setLayout(hbox(self.name, self.bar, self.ended, self.cancel, spacing=4,
                            contentsMargins=QtCore.QMargins(6, 0, 2, 0)))

    def _fit(self, row: JobRow, text: str) -> str:
        """Returns ``text`` as it fits the bar: without the job's own message (e.g. images/s) when too long,
        then cut from the left so the percentage and the ETA stay (the tooltip has it all)."""
        metrics, room = self.bar.fontMetrics(), self.bar.width() - 8
        if metrics.horizontalAdvance(text) > room and row.stage:
            text = replace(row, stage="").text()
        return metrics.elidedText(text, QtCore.Qt.TextElideMode.ElideLeft, room)

    def update_row(self, row: JobRow) -> None:
        """Shows ``row``: progress and ETA while the job runs, its outcome once it ended."""
        text = row.text()
        if row.state.active:
            fraction = row.fraction
            if fraction is None:
                self.bar.setRange(0, 0)  # busy indicator
            else:
                self.bar.setRange(0, 1000)
                self.bar.setValue(round(1000 * fraction))
            self.bar.setFormat(self._fit(row, text))
            self.bar.setToolTip(f"{row.name}: {text} ({row.done}/{row.total})" if row.total else f"{row.name}: {text}")
            self.cancel.setEnabled(row.state != JobState.STOPPING)
            return
        self.bar.setVisible(False)
        self.cancel.setVisible(False)
        colour = ENDED_COLOURS.get(row.state, "#c8c8c8")
        metrics = self.ended.fontMetrics()
        self.ended.setText(metrics.elidedText(text, QtCore.Qt.TextElideMode.ElideRight, self.ended.maximumWidth()))
        self.ended.setStyleSheet(f"color: {colour}")
        self.ended.setToolTip(f"{row.name}: {text}")
        self.ended.setVisible(True)


class JobListWidget(QtWidgets.QWidget):
    """The jobs of ``jobs`` side by side, running ones first (at most MAX_ROWS, then "+N more"); hidden while there is none."""

    def __init__(self, jobs: JobList, parent: QtWidgets.QWidget | None = None) -> None:
        # As wide as its rows: a lone row would otherwise stretch its name far away from its bar.
        super().__init__(parent, objectName="jobList", sizePolicy=QtWidgets.QSizePolicy(
            QtWidgets.QSizePolicy.Policy.Maximum, QtWidgets.QSizePolicy.Policy.Preferred))
        self.jobs = jobs
        self.rows: dict[int, JobRowWidget] = {}
        self.more = QtWidgets.QLabel("", objectName="moreJobs", visible=False)
        self._layout = hbox(self.more, margins=0, spacing=2)
        self.setLayout(self._layout)
        self.setVisible(False)
        self._timer = QtCore.QTimer(self, interval=POLL_MS, timeout=self.refresh)
        jobs.changed.connect(self._on_changed)

    def _on_changed(self) -> None:
        if not self._timer.isActive():
            self._timer.start()
        QtCore.QTimer.singleShot(0, self.refresh)

    def refresh(self) -> None:
        """Updates the rows from the job list; stops polling once the list is empty."""
        listed = self.jobs.rows()
        keys = {row.key for row in listed}
        for key in [k for k in self.rows if k not in keys]:
            w = self.rows.pop(key)
            self._layout.removeWidget(w)
            w.deleteLater()
        for row in listed:
            w = self.rows.get(row.key)
            if w is None:
                w = self.rows[row.key] = JobRowWidget(self.jobs, row.key, row.name, self)
                self._layout.insertWidget(self._layout.count() - 1, w)
            w.update_row(row)
        shown = sorted(listed, key=lambda r: (not r.state.active, r.key))
        for i, row in enumerate(shown):
            self.rows[row.key].setVisible(i < MAX_ROWS)
        rest = shown[MAX_ROWS:]
        self.more.setText(f"+{len(rest)} more" if rest else "")
        self.more.setToolTip("\n".join(f"{r.name}: {r.text()}" for r in rest))
        self.more.setVisible(bool(rest))
        self.setVisible(bool(listed))
        if not listed:
            self._timer.stop()
