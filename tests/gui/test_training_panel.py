"""Training panel without surprises: a preset that suits the machine, clean log plots, an ETA only while running,
one Pause/Resume button, and a question before a new avatar replaces the open one."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from anr_studio.components.status import JobState, TrainingStatus


def _fake_job(panel) -> TrainingStatus:
    status = TrainingStatus()
    panel.job = SimpleNamespace(status=status, running=True, join=lambda t=None: True, pause=lambda: None, resume=lambda: None, stop=lambda: None,
                                fitted=None, options=SimpleNamespace(fit_into=None))
    return status


def test_preset_suits_the_machine_and_says_so(window):
    import torch

    panel = window.training_panel
    if torch.cuda.is_available():
        assert panel.preset.currentText() == "fast" and "GPU" in panel.preset_note.text()
    else:
        assert panel.preset.currentText() in ("cpu", "tiny") and "No GPU" in panel.preset_note.text()
        assert panel.preset.currentText() in panel.preset_note.text()


def test_zero_losses_are_left_out_of_the_log_plot_and_the_legend_is_beside_it(window, qtbot):
    panel = window.training_panel
    status = _fake_job(panel)
    status.set_state(JobState.RUNNING)
    for step in range(1, 11):
        status.metrics.append(step, {"total": 1.0 / step, "adversarial": 0.0 if step % 2 else 0.5})
        status.set_progress(step, 100)
    panel.poll()
    xs, ys = panel.curves["adversarial"].getData()
    assert xs.tolist() == [2, 4, 6, 8, 10] and np.all(np.isfinite(ys)), "zero losses must not reach the log axis"
    assert len(panel.curves["total"].getData()[0]) == 10
    assert "total" in panel.legend.text() and "adversarial" in panel.legend.text()
    assert panel.legend.parent() is not panel.plot and panel.plot.getPlotItem().legend is None
    assert panel.eta.text().startswith("ETA")
    # One Pause button that turns into Resume; no second "resume" control beside it.
    assert not hasattr(panel, "resume_run_btn")
    status.set_state(JobState.STOPPED)
    panel.poll()
    assert panel.eta.text() == "", "the ETA stays after the run ended"
    panel.job = None


def test_the_progress_bar_names_the_set_up_stage_counts_fitted_frames_then_steps_from_the_first(window):
    from anr_studio.jobs.training_job import FIRST_STEP_STAGE

    panel = window.training_panel
    status = _fake_job(panel)
    status.set_state(JobState.RUNNING)
    status.set_progress(0, 0, "Building the model…")
    panel.poll()
    assert panel.progress.text() == "Building the model…"
    status.set_progress(48, 300, "Fitting poses to masks… (alice)")
    panel.poll()
    assert panel.progress.text() == "Fitting poses: 48 / 300 frames"
    status.set_progress(0, 5000, FIRST_STEP_STAGE)
    panel.poll()
    assert panel.progress.text() == "0 / 5000 steps · running the first step…"
    status.metrics.append(1, {"total": 0.5})
    status.set_progress(1, 5000, "3.0 images/s")
    panel.poll()
    assert panel.progress.text() == "1 / 5000 steps"
    assert panel.curves["total"].opts["symbol"] == "o", "the first step's point is not drawn (a line needs two)"
    status.metrics.append(2, {"total": 0.4})
    panel.poll()
    assert panel.curves["total"].opts["symbol"] is None
    status.set_state(JobState.STOPPED)
    panel.poll()
    panel.job = None


def test_a_finished_run_asks_before_replacing_the_open_avatar(window, tiny_avatar, monkeypatch, tmp_path):
    opened: list[str] = []
    monkeypatch.setattr(window, "open_path", lambda p: opened.append(p))
    asked: list[str] = []
    window.set_avatar(tiny_avatar, str(tmp_path / "open.anr"))
    monkeypatch.setattr(window, "ask_open_new_avatar", lambda p: asked.append(p) or False)
    window.training_panel.avatar_written.emit(str(tmp_path / "run" / "avatar.anr"))
    assert asked and not opened, "the open avatar was replaced without asking"
    monkeypatch.setattr(window, "ask_open_new_avatar", lambda p: True)
    window.training_panel.avatar_written.emit(str(tmp_path / "run" / "avatar.anr"))
    assert opened == [str(tmp_path / "run" / "avatar.anr")]


def test_closing_during_a_run_stops_it_without_asking_to_open_its_avatar(window, tiny_avatar, monkeypatch, tmp_path):
    import time

    panel = window.training_panel
    written = tmp_path / "run" / "avatar.anr"
    written.parent.mkdir()
    written.write_bytes(b"avatar")
    window.set_avatar(tiny_avatar, str(tmp_path / "open.anr"))
    asked: list[str] = []
    monkeypatch.setattr(window, "ask_open_new_avatar", lambda p: asked.append(p) or False)
    status = _fake_job(panel)
    status.set_state(JobState.RUNNING)
    ends = time.monotonic() + 1.0

    def stop() -> None:  # the run checkpoints, writes its avatar and ends a moment later
        status.avatar_path = str(written)
        status.set_state(JobState.STOPPED)

    panel.job.stop = stop
    panel.job.join = lambda t=None: time.sleep(t or 0) or time.monotonic() > ends
    panel._timer.start()
    panel.shutdown()
    assert not asked, "closing the studio asked to open the stopped run's avatar (a modal question while closing)"
    panel.job = None


def test_a_run_killed_by_the_system_ends_in_one_dialog_that_says_why_and_the_panel_is_idle(window, qtbot, tiny_capture,
                                                                                             standin_body, tmp_path):
    """The panel's default preset trains; the kernel's out-of-memory killer (SIGKILL) ends the training process
    (as `paper` on a CPU does): one dialog names the likely cause and the panel can start again."""
    import os
    import signal

    from PySide6 import QtWidgets

    panel = window.training_panel
    panel.body_override = standin_body
    panel.add_capture(tiny_capture)
    panel.out.setText(str(tmp_path / "run"))
    job = panel.start()
    qtbot.waitUntil(lambda: job.step > 0, timeout=120000)
    os.kill(job._proc.pid, signal.SIGKILL)
    qtbot.waitUntil(lambda: panel.start_btn.isEnabled(), timeout=30000)
    dialogs = [w for w in QtWidgets.QApplication.topLevelWidgets() if w.objectName() == "errorDialog" and w.isVisible()]
    assert len(dialogs) == 1 and "killed (SIGKILL), most likely by the system for lack of memory" in dialogs[0].text()
    assert f"the {panel.preset.currentText()} preset" in dialogs[0].text()
    assert not panel.stop_btn.isEnabled() and not panel.pause_btn.isEnabled() and panel.eta.text() == ""
    dialogs[0].close()


def test_start_is_available_when_the_ended_runs_process_has_exited_and_waits_for_it(window, qtbot, tiny_capture,
                                                                                    standin_body, tmp_path):
    """A failed run's status is final a moment before its process exits (and frees the run folder): Start says so
    and comes back then; pressed before, the new run starts once the old process has exited."""
    from PySide6 import QtWidgets

    panel = window.training_panel
    panel.body_override = standin_body
    panel.preset.setCurrentText("tiny")
    panel.out.setText(str(tmp_path / "run"))
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"not a capture")
    panel.add_capture(str(bad))
    failed = panel.start()
    qtbot.waitUntil(lambda: failed.status.state == JobState.FAILED, timeout=120000)
    panel.poll()
    if failed.running:  # almost always: the process exits some 0.5 s after it reported the error
        assert not panel.start_btn.isEnabled() and panel.start_btn.text() == "Finishing…"
        assert "exiting" in panel.start_btn.toolTip()
    panel.captures.clear()
    panel.add_capture(tiny_capture)
    assert panel.start() is None or not failed.running  # waits; never "a run is already in progress"
    dialogs = [w for w in QtWidgets.QApplication.topLevelWidgets() if w.objectName() == "errorDialog" and w.isVisible()]
    assert len(dialogs) == 1 and "bad.h5" in dialogs[0].text()
    dialogs[0].close()
    qtbot.waitUntil(lambda: panel.job is not failed, timeout=30000)
    assert not failed.running and panel.start_btn.text() == "Start" and not panel.start_btn.isEnabled()
    qtbot.waitUntil(lambda: panel.job.step > 0, timeout=120000)
    panel.stop()
    assert panel.job.join(120)
    panel.poll()
    assert panel.start_btn.isEnabled()
