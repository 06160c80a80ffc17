"""TrainingPanel: captures, preset and options; start, pause, resume or stop a run, or fit a new identity's texture
into the open avatar (FitDialog asks its name and steps); live loss curves polled from a bounded buffer, a
truth-vs-render preview, progress with ETA and the run's log."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from anr_studio.components.avatars import name_problem
from anr_studio.components.job_list import JobList, format_eta
from anr_studio.components.status import JobState
from anr_studio.errors import AnrError
from anr_studio.gui.qt_util import POLL_MS, ImageLabel, button, combo, form, guarded, hbox, show_error, vbox, widget
from anr_studio.jobs.training_job import (FIRST_STEP_STAGE, FIT_STEPS, POSE_FIT_STAGE, TrainingJob, TrainingOptions,
                                          preset_names, suited_preset)
from anr_studio.gui import theme

START_TIP = "Start training on the listed captures in a separate process"
COLORS = [(90, 200, 255), (255, 160, 60), (120, 230, 120), (240, 90, 110), (200, 140, 255), (230, 230, 90), (150, 150, 150)]


class TrainingPanel(QtWidgets.QWidget):
    """Runs one TrainingJob at a time; ``avatar_written(path)`` fires when a run wrote avatar.anr, ``fit_requested``
    when the user asks to fit an identity (`fit` starts it) and ``fit_ended(avatar, name, steps)`` when a fit ended
    finished or stopped: it added identity ``name`` fitted in ``steps`` to the avatar, nothing when ``steps`` is 0."""

    avatar_written = QtCore.Signal(str)
    fit_requested = QtCore.Signal()
    fit_ended = QtCore.Signal(object, str, int)

    def __init__(self, jobs: JobList) -> None:
        super().__init__()
        self.jobs = jobs  # the studio's job list (status bar)
        self.job: TrainingJob | None = None
        self.fit_avatar = None  # the avatar a running fit adds its identity to
        self.body_override = None  # tests train with a small body
        self.extra_overrides: list[str] = []  # config overrides beyond the form (scripts, tests)
        # A long path shows its end (the file name) in the narrow list instead of a sideways scroll bar.
        self.captures = QtWidgets.QListWidget(
            objectName="trainCaptures", maximumHeight=70, uniformItemSizes=True,
            toolTip="Captures to train on, one identity each (opening a capture adds it)",
            textElideMode=QtCore.Qt.TextElideMode.ElideLeft,
            horizontalScrollBarPolicy=QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        add = button("Add…", "Add a capture (.h5) to train on", self._add_dialog)
        rm = button("Remove", "Remove the selected captures from the list (the files stay)",
                    lambda: [self.captures.takeItem(self.captures.row(i)) for i in self.captures.selectedItems()])
        self.preset = combo(preset_names(), "Training preset: network sizes, losses and steps (fast: a GPU; cpu/tiny: a CPU)")
        suited, why = suited_preset()
        self.preset.setCurrentText(suited)
        self.preset_note = QtWidgets.QLabel(why, objectName="presetNote", wordWrap=True)
        self.steps = QtWidgets.QSpinBox(minimum=1, maximum=10_000_000, value=5000,
                                        toolTip="Steps in all, of a training or of an identity fit")
        self.ckpt = QtWidgets.QSpinBox(minimum=1, maximum=1_000_000, value=500, toolTip="Write a checkpoint every this "
                                       "many steps (a stopped run resumes from the last)")
        self.preview_every = QtWidgets.QSpinBox(minimum=0, maximum=1_000_000, value=50,
                                                toolTip="Render the live preview every this many steps (0: never)")
        self.split = button("Split optimization", "Split optimization: texture and renderer steps on keyframes alternate "
                            "with renderer-only steps on the other frames", kind=QtWidgets.QCheckBox, checked=True)
        self.out = QtWidgets.QLineEdit(str(Path.home() / "anr-runs" / "run1"),
                                       toolTip="Run folder: checkpoints, the log and the trained avatar (avatar.anr) go here")
        browse = button("…", "Choose the run folder", self._out_dialog, kind=QtWidgets.QToolButton)
        self.start_btn = button("Start", START_TIP, lambda: self.start(), name="trainStart")
        self.resume_box = button("From the run folder's last checkpoint", "Start continues the latest checkpoint in the "
                                 "run folder instead of a new run", kind=QtWidgets.QCheckBox)
        self.fit_btn = button("Fit identity…", "Add the person of the open capture to the open avatar: fits only a "
                              "new neural texture (its name and steps are asked; Checkpoint every, Preview every) while "
                              "the avatar's renderer stays as it is",
                              lambda: self.fit_requested.emit(), name="fitIdentity")
        self.pause_btn = button("Pause", "Pause the run between steps; press again to resume it", self._on_pause,
                                checkable=True)
        self.stop_btn = button("Stop", "Stop the run after the current step: a training writes a checkpoint and the "
                               "avatar, a fit adds the identity fitted so far", self.stop)
        self.progress = QtWidgets.QProgressBar(format="%v / %m steps")
        self.eta = QtWidgets.QLabel("ETA –")
        self.log = QtWidgets.QPlainTextEdit(readOnly=True, maximumBlockCount=2000)
        self.plot = pg.PlotWidget(background=theme.BASE, labels={"bottom": "step", "left": "loss"})
        self.plot.setObjectName("lossPlot")
        self.plot.setLogMode(y=True)
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        # The plot takes the height it is given: its 480 px preferred height would make the panel scroll on a laptop.
        self.plot.setSizePolicy(QtWidgets.QSizePolicy.Policy.Expanding, QtWidgets.QSizePolicy.Policy.Ignored)
        self.plot.setMinimumHeight(160)
        # The curves' names sit in a line under the plot, where they can never cover a curve.
        self.legend = QtWidgets.QLabel("", objectName="lossLegend", textFormat=QtCore.Qt.TextFormat.RichText, wordWrap=True,
                                       toolTip="Loss curves (log scale; zero values are left out)")
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.truth = ImageLabel("truth", minimum=120)
        self.render = ImageLabel("render", minimum=120)

        options = form(("Captures", hbox((self.captures, 1), vbox(add, rm))), ("Preset", self.preset), ("", self.preset_note),
                       ("Steps", self.steps), ("Checkpoint every", self.ckpt), ("Preview every", self.preview_every),
                       ("", self.split), ("", self.resume_box), ("Run folder", hbox((self.out, 1), browse)))
        left = vbox(options, hbox(self.start_btn, self.fit_btn, self.pause_btn, self.stop_btn),
                    hbox((self.progress, 1), self.eta), None)
        # The log sits beside the form, not under it: the panel fits a laptop's height.
        previews = vbox(QtWidgets.QLabel("Truth (held-out frame) │ current render"), (hbox(self.truth, self.render), 2),
                        (self.log, 1))
        self.setLayout(hbox((widget(left), 3), (widget(vbox((self.plot, 1), self.legend, margins=0)), 4),
                            (widget(previews), 3), margins=4))
        self._timer = QtCore.QTimer(self, interval=POLL_MS, timeout=self.poll)
        self._metrics_version, self._preview_version, self._log_len = -1, 0, 0  # what the widgets show of the run
        self._end_shown = False  # the run's end (dialog, new avatar) was handled
        self._start_after: bool | None = None  # Start while the last run's process exits: its resume choice
        self._update_buttons()

    # --- inputs --------------------------------------------------------------------------
    def add_capture(self, path: str) -> None:
        """Adds ``path`` to the run's captures (once)."""
        if not any(self.captures.item(i).text() == path for i in range(self.captures.count())):
            self.captures.addItem(path)
            self.captures.item(self.captures.count() - 1).setToolTip(path)

    @guarded
    def _add_dialog(self, _checked: bool = False) -> None:
        paths, _ = QtWidgets.QFileDialog.getOpenFileNames(self, "Add captures", "", "Captures (*.h5 *.hdf5)")
        for p in paths:
            self.add_capture(p)

    def _out_dialog(self) -> None:
        d = QtWidgets.QFileDialog.getExistingDirectory(self, "Run folder")
        if d:
            self.out.setText(d)

    def options(self, resume: bool = False) -> TrainingOptions:
        """Returns the TrainingOptions the widgets describe."""
        caps = [self.captures.item(i).text() for i in range(self.captures.count())]
        if not caps:
            raise AnrError("training: no captures were chosen, expected at least one capture (.h5) in the list")
        return TrainingOptions(captures=caps, out=self.out.text(), preset=self.preset.currentText(), steps=self.steps.value(),
                               checkpoint_every=self.ckpt.value(), preview_every=self.preview_every.value(),
                               split_optimization=self.split.isChecked(), resume=resume, body=self.body_override,
                               overrides=list(self.extra_overrides))

    # --- control -------------------------------------------------------------------------
    @guarded
    def start(self, resume: bool | None = None) -> TrainingJob | None:
        """Starts a run in a child process (``resume`` None: as the checkpoint box says); returns the job, or None
        when the last run has ended but its process is still exiting (it holds the run folder): it starts then."""
        resume = self.resume_box.isChecked() if resume is None else resume
        if self.job is not None and self.job.running and not self.job.status.state.active:
            self._start_after = resume
            self.log.appendPlainText("Start: the run starts as soon as the last run's process has exited")
            return None
        self._start_after = None
        return self._start(self.options(resume), "training")

    @guarded
    def fit(self, avatar, avatar_path: str, capture: str, name: str, steps: int) -> TrainingJob:
        """Starts fitting identity ``name`` to ``capture`` into ``avatar`` (stored in ``avatar_path``, whose renderer
        stays frozen) in ``steps`` in a child process; when it ends, finished or stopped after a step, the identity is
        added to ``avatar``; returns the job."""
        problem = name_problem(name, avatar.identities, Path(avatar_path).name)
        if problem:
            raise AnrError(f"fit identity: {problem}, expected a new name for the person of {Path(capture).name}")
        opts = TrainingOptions([capture], "", steps=steps,
                               checkpoint_every=self.ckpt.value(), preview_every=self.preview_every.value(),
                               body=self.body_override, fit_into=avatar_path, fit_name=name)
        self.fit_avatar = avatar
        return self._start(opts, f"fit {name}")

    def _start(self, options: TrainingOptions, name: str) -> TrainingJob:
        if self.job is not None and self.job.running:
            raise AnrError(f"{name}: a run is already in progress, expected it to stop first")
        self.job = TrainingJob(options).start()
        self.jobs.add(self.job, name)
        self.plot.clear()
        self.legend.setText("")
        self.curves.clear()
        self._metrics_version, self._preview_version, self._log_len = -1, 0, 0
        self._end_shown = False
        self.log.clear()
        with QtCore.QSignalBlocker(self.pause_btn):
            self.pause_btn.setChecked(False)
        self._timer.start()
        self._update_buttons()
        return self.job

    def _on_pause(self, paused: bool) -> None:
        if self.job is None:
            return
        (self.job.pause if paused else self.job.resume)()
        self.pause_btn.setText("Resume" if paused else "Pause")

    def stop(self) -> None:
        """Asks the run to stop; it checkpoints and writes avatar.anr, the poll sees it end."""
        if self.job is not None:
            self.job.stop()
        self._update_buttons()

    def _update_buttons(self) -> None:
        active = self.job is not None and self.job.status.state.active
        exiting = not active and self.job is not None and self.job.running  # ended, its process not yet gone
        self.start_btn.setEnabled(not (active or exiting))
        self.start_btn.setText("Finishing…" if exiting else "Start")
        self.start_btn.setToolTip("The last run's process is exiting; Start returns when it has (a moment)" if exiting
                                  else START_TIP)
        self.fit_btn.setEnabled(not (active or exiting))
        self.resume_box.setEnabled(not (active or exiting))
        self.pause_btn.setEnabled(active)
        self.stop_btn.setEnabled(active)

    # --- polling (main thread, every 200 ms) --------------------------------------------
    def poll(self) -> None:
        """Copies new metrics, preview, progress and log lines from the job's status into the widgets."""
        if self.job is None:
            return
        st = self.job.status
        buf = st.metrics
        if buf.version != self._metrics_version:
            self._metrics_version = buf.version
            for k, name in enumerate(buf.names()):
                xs, ys = buf.series(name)
                keep = np.isfinite(ys) & (ys > 0)  # a log axis has no place for zero: such points are left out
                if name not in self.curves:
                    width = 2 if name == "total" else 1
                    self.curves[name] = self.plot.plot([], [], pen=pg.mkPen(COLORS[k % len(COLORS)], width=width))
                    self.legend.setText(" ".join(f"<span style='color: rgb{COLORS[i % len(COLORS)]}'>━ {n}</span>"
                                                 for i, n in enumerate(self.curves)))
                # A lone point (the first step's report) shows as a dot: a line needs two.
                lone = {"symbol": "o", "symbolSize": 7, "symbolPen": None,
                        "symbolBrush": COLORS[k % len(COLORS)]} if keep.sum() == 1 else {"symbol": None}
                self.curves[name].setData(xs[keep], ys[keep], **lone)
        version, pair = st.preview()
        if pair is not None and version != self._preview_version:
            self._preview_version = version
            self.truth.set_array(pair[0])
            self.render.set_array(pair[1])
        snap = st.snapshot(log_tail=400)
        if snap.total:
            fitting = snap.message.startswith(POSE_FIT_STAGE)  # the log says whose
            first = " · running the first step…" if snap.message == FIRST_STEP_STAGE else ""
            self.progress.setFormat("Fitting poses: %v / %m frames" if fitting else f"%v / %m steps{first}")
            self.progress.setRange(0, snap.total)
            self.progress.setValue(snap.done)
        elif snap.message:  # a set-up stage (loading, building the model): its name
            self.progress.setFormat(snap.message)
            self.progress.setRange(0, 1)
            self.progress.setValue(0)
        self.eta.setText(f"ETA {format_eta(snap.eta_s) or '–'}" if snap.state.active else "")
        fresh = min(snap.log_count - self._log_len, len(snap.log))
        for line in snap.log[len(snap.log) - fresh:] if fresh > 0 else []:
            self.log.appendPlainText(line)
        self._log_len = snap.log_count
        if not snap.state.active and not self._end_shown:
            self._end_shown = True
            if snap.state == JobState.FAILED:
                show_error(self, AnrError(snap.error or "training failed"))
            elif self.job.options.fit_into:  # finished, or stopped: a stop keeps the steps made
                name, *identity = self.job.fitted or (self.job.options.fit_name,)
                if identity:
                    self.fit_avatar.add_identity(name, *identity)
                self.fit_ended.emit(self.fit_avatar, name, self.job.step if identity else 0)
            elif st.avatar_path and Path(st.avatar_path).exists():
                self.avatar_written.emit(st.avatar_path)
        if not snap.state.active:
            self._update_buttons()
            if not self.job.running:  # its process has exited too: Start is available
                self._timer.stop()
                if self._start_after is not None:
                    self.start(self._start_after)

    def end_fit(self) -> None:
        """Stops a running fit as Stop does and waits for it, so that the identity it made so far joins its avatar now
        (``fit_ended``); a fit that has just ended is taken in as well."""
        if self.job is not None and self.job.options.fit_into and not self._end_shown:
            self._stop_and_wait()
            self.poll()

    def shutdown(self) -> None:
        """Stops a running training (it checkpoints) and waits for it, so closing leaves a loadable run."""
        self._timer.stop()  # no polling while closing: the stopped run must not ask to open its avatar
        self._stop_and_wait()

    def _stop_and_wait(self) -> None:
        if self.job is not None and self.job.running:
            self.stop()
            t0 = time.monotonic()
            while not self.job.join(0.05) and time.monotonic() - t0 < 60.0:
                QtWidgets.QApplication.processEvents()


class FitDialog(QtWidgets.QDialog):
    """Asks the name of the identity that a fit of the person in ``capture`` adds to ``avatar`` (offered:
    ``identity``, the capture's) and its steps (offered: `FIT_STEPS`, as `anr-studio fit`); OK is off while the name
    is empty or one of ``identities``, and the line above the buttons says why."""

    def __init__(self, parent: QtWidgets.QWidget, capture: str, avatar: str, identity: str,
                 identities: Sequence[str]) -> None:
        super().__init__(parent, windowTitle="Fit identity", objectName="fitDialog")
        self.avatar, self.identities = avatar, list(identities)
        self.name = QtWidgets.QLineEdit(identity, objectName="fitName", toolTip=f"The new identity's name in {avatar}")
        self.steps = QtWidgets.QSpinBox(minimum=1, maximum=10_000_000, value=FIT_STEPS, objectName="fitSteps",
                                        toolTip="Steps of the fit, each a few seconds on a CPU")
        self.reason = QtWidgets.QLabel(objectName="fitReason", styleSheet="color: #f0a050;")
        self.reason.setMinimumHeight(self.reason.fontMetrics().height())  # the box keeps its size as the reason comes and goes
        Btn = QtWidgets.QDialogButtonBox.StandardButton
        buttons = QtWidgets.QDialogButtonBox(Btn.Ok | Btn.Cancel, accepted=self.accept, rejected=self.reject)
        self.ok = buttons.button(Btn.Ok)
        intro = QtWidgets.QLabel(f"Add the person of {capture} to {avatar}: a new neural texture is fitted while "
                                 "the avatar's renderer stays as it is.", wordWrap=True)
        self.setLayout(vbox(intro, form(("Name", self.name), ("Steps", self.steps)), self.reason, buttons))
        self.name.textChanged.connect(self._check)
        self._check()
        self.setMinimumWidth(420)

    def _check(self) -> None:
        problem = name_problem(self.name.text(), self.identities, self.avatar)
        self.reason.setText(f"{problem[:1].upper()}{problem[1:]}." if problem else "")
        self.ok.setEnabled(not problem)

    def answer(self) -> tuple[str, int] | None:
        """Returns (name, steps) once the user pressed OK, None on Cancel."""
        return (self.name.text().strip(), self.steps.value()) if self.exec() else None
