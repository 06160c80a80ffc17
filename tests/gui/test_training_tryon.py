"""Training from the panel (plot, pause, stop, a responsive UI, close -> checkpoint) and UV painting for try-on."""

from __future__ import annotations

import os
import time

import numpy as np
import torch
from PySide6 import QtCore, QtGui, QtWidgets

from anr_studio.components.status import JobState


class Heartbeat:
    """Records the largest gap between 10 ms QTimer ticks: how long the event loop was blocked."""

    def __init__(self) -> None:
        self.last = time.perf_counter()
        self.max_gap = 0.0
        self.t0 = self.last
        self.cpu = time.thread_time()
        self.gaps: list[tuple[float, int]] = []
        self.timer = QtCore.QTimer()
        self.timer.setInterval(10)
        self.timer.timeout.connect(self._tick)
        self.timer.start()

    def _tick(self) -> None:
        now, cpu = time.perf_counter(), time.thread_time()
        gap = now - self.last
        if gap > 0.04:
            # (when, wall ms, this thread's CPU ms): a wall gap with little CPU means the OS ran
            # other processes, not that the studio was busy.
            self.gaps.append((round(now - self.t0, 2), round(1000 * gap), round(1000 * (cpu - self.cpu))))
        self.cpu = cpu
        self.max_gap = max(self.max_gap, gap)
        self.last = now

    def reset(self) -> None:
        self.last, self.max_gap = time.perf_counter(), 0.0


def _setup_training(window, tiny_capture, standin_body, tmp_path, steps=100000):
    panel = window.training_panel
    panel.body_override = standin_body
    panel.add_capture(tiny_capture)
    panel.preset.setCurrentText("tiny")
    panel.steps.setValue(steps)
    panel.ckpt.setValue(100000)
    panel.preview_every.setValue(3)
    panel.out.setText(str(tmp_path / "run"))
    return panel


def test_training_start_pause_stop_updates_plot_and_ui_stays_responsive(window, qtbot, tiny_capture, standin_body, tmp_path):
    torch.set_num_threads(1)
    panel = _setup_training(window, tiny_capture, standin_body, tmp_path)
    window.neural.size_px = 64  # the finished avatar opens in the neural view; keep that render small
    beat = Heartbeat()
    job = panel.start()
    assert not panel.start_btn.isEnabled() and panel.stop_btn.isEnabled()
    # Building the trainer (capture, model) happens on the worker: measure the loop from the start.
    qtbot.waitUntil(lambda: len(job.status.metrics) >= 4, timeout=60000)
    qtbot.wait(2 * 200 + 50)  # two polls
    xs, ys = panel.curves["total"].getData()
    assert len(xs) >= 4 and np.all(np.isfinite(ys))
    assert panel.progress.value() >= 4 and "ETA" in panel.eta.text()
    qtbot.waitUntil(lambda: panel.truth.image() is not None and panel.render.image() is not None, timeout=30000)
    assert "step" in panel.log.toPlainText()
    window.job_list.refresh()
    (row,) = [w for w in window.job_list.rows.values() if w.name.text() == "training"]
    assert row.bar.maximum() == 1000 and "ETA" in row.bar.format() and row.cancel.isEnabled()

    panel.pause_btn.setChecked(True)
    assert job.status.state == JobState.PAUSED and panel.pause_btn.text() == "Resume"
    # A step in flight finishes (and its report crosses the process boundary); then nothing moves.
    last, t_stable = job.step, time.monotonic()
    while time.monotonic() - t_stable < 0.8:
        qtbot.wait(50)
        if job.step != last:
            last, t_stable = job.step, time.monotonic()
    held = job.step
    qtbot.wait(800)
    assert job.step == held, "training advanced while paused"
    panel.pause_btn.setChecked(False)
    qtbot.waitUntil(lambda: job.step > held + 1, timeout=30000)

    row.cancel.click()  # cancelling from the status bar's job list stops the run cleanly: a checkpoint and avatar.anr,
    # and the row says so (it said "cancelled", as if nothing had been kept)
    qtbot.waitUntil(lambda: not job.status.state.active, timeout=60000)
    qtbot.wait(250)
    assert job.status.state == JobState.STOPPED and panel.start_btn.isEnabled()
    assert row.ended.text().startswith(f"stopped at step {job.step}, wrote ") and not row.cancel.isVisible()
    assert row.ended.toolTip() == f"training: stopped at step {job.step}, wrote {tmp_path / 'run' / 'avatar.anr'}"
    gap = beat.max_gap
    beat.timer.stop()
    busy = max((cpu for _, _, cpu in beat.gaps), default=0)
    print(f"largest event-loop gap while training: {1000 * gap:.1f} ms wall; busiest gap {busy} ms CPU; "
          f"load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; gaps > 40 ms (t s, wall ms, CPU ms): {beat.gaps}")
    # The studio's own work between two ticks must stay under 100 ms (the target). Wall-clock gaps
    # also include the OS scheduler: on 2 cores with training using one, single preemptions of
    # 100-125 ms were seen with the UI thread itself idle, so the wall bound carries 50 ms of
    # scheduler slack, and is dropped when other processes oversubscribe the CPUs.
    assert busy < 100, f"the UI thread was busy {busy} ms at a stretch while training ran"
    if os.getloadavg()[0] < (os.cpu_count() or 1) - 0.5:
        assert gap < 0.15, f"the UI event loop stalled {1000 * gap:.0f} ms while training ran"
    assert (tmp_path / "run" / "avatar.anr").exists()
    # The finished run's avatar opens in the studio and renders in the neural view.
    qtbot.waitUntil(lambda: window.avatar is not None, timeout=10000)
    qtbot.waitUntil(lambda: window.neural.last_result is not None and window.neural.worker.idle(), timeout=30000)
    assert window.neural.last_result.rgb.shape == (64, 64, 3) and window.neural.identity == "tiny"


def test_closing_the_window_during_training_leaves_a_loadable_checkpoint(window, qtbot, tiny_capture, standin_body, tmp_path):
    from anr_studio.train.checkpoint import load_latest_checkpoint

    panel = _setup_training(window, tiny_capture, standin_body, tmp_path)
    job = panel.start()
    qtbot.waitUntil(lambda: job.step >= 2, timeout=60000)
    window.close()
    assert not job.running and job.status.state == JobState.STOPPED
    ckpt = load_latest_checkpoint(tmp_path / "run")
    assert ckpt is not None and ckpt.step >= 2 if hasattr(ckpt, "step") else ckpt is not None


def _mouse(widget, kind, x, y):
    btn = QtCore.Qt.MouseButton.LeftButton
    types = {"press": QtCore.QEvent.Type.MouseButtonPress, "move": QtCore.QEvent.Type.MouseMove, "release": QtCore.QEvent.Type.MouseButtonRelease}
    button = QtCore.Qt.MouseButton.NoButton if kind == "move" else btn
    buttons = QtCore.Qt.MouseButton.NoButton if kind == "release" else btn
    p = QtCore.QPointF(x, y)
    ev = QtGui.QMouseEvent(types[kind], p, widget.mapToGlobal(p), button, buttons, QtCore.Qt.KeyboardModifier.NoModifier)
    QtWidgets.QApplication.sendEvent(widget, ev)


def test_painting_changes_uv_mask_and_swap_changes_only_inside(window, qtbot, tiny_avatar):
    from anr_studio.components.avatars import PREVIEW_IDENTITY

    window.neural.size_px = 64
    window.set_avatar(tiny_avatar, "tiny.anr")
    window.docks["Try-on"].raise_()
    panel = window.tryon_panel
    canvas = panel.canvas
    qtbot.waitExposed(canvas)
    assert panel.ident_a.currentText() == "alice" and panel.ident_b.currentText() == "bob"
    qtbot.waitUntil(lambda: window.neural.worker.idle() and window.neural.last_result is not None, timeout=20000)
    before = window.neural.last_result.rgb.copy()
    panel.size_slider.setValue(20)
    r = canvas.square()
    y = r.y() + r.height() * 0.5
    _mouse(canvas, "press", r.x() + r.width() * 0.1, y)
    for f in (0.3, 0.5, 0.7, 0.9):
        _mouse(canvas, "move", r.x() + r.width() * f, y)
    _mouse(canvas, "release", r.x() + r.width() * 0.9, y)
    mask = window.paint_state.mask
    row = int(mask.shape[0] * 0.5)
    assert mask[row, int(mask.shape[1] * 0.5)] > 0.99 and mask[5, 5] == 0.0
    assert 0.02 < (mask > 0).mean() < 0.5
    qtbot.waitUntil(lambda: PREVIEW_IDENTITY in tiny_avatar.identities, timeout=5000)
    swapped = tiny_avatar.texture(PREVIEW_IDENTITY)
    a, b = tiny_avatar.texture("alice"), tiny_avatar.texture("bob")
    import cv2

    m = cv2.resize(mask, (a.shape[-1], a.shape[-1]), interpolation=cv2.INTER_AREA)
    outside, inside = torch.from_numpy(m == 0), torch.from_numpy(m >= 0.999)
    assert torch.equal(swapped[:, outside], b[:, outside]), "texels outside the painted mask changed"
    torch.testing.assert_close(swapped[:, inside], a[:, inside])
    assert outside.any() and inside.any()
    qtbot.waitUntil(lambda: window.neural.identity == PREVIEW_IDENTITY and window.neural.worker.idle()
                    and window.neural.last_result.request.identity == PREVIEW_IDENTITY, timeout=20000)
    after = window.neural.last_result.rgb
    assert np.abs(after.astype(np.int16) - before).max() > 10, "the swapped avatar looks the same as identity B"


def test_region_fill_and_eraser(window):
    panel = window.tryon_panel
    panel.region.setCurrentText("shoes")
    panel.fill_region()
    filled = window.paint_state.mask.copy()
    assert 0.001 < (filled > 0.5).mean() < 0.3
    panel.eraser.setChecked(True)
    panel.fill_region()
    # Erasing with the same soft-edged region clears its core; only the feathered rim keeps a trace.
    assert np.all(window.paint_state.mask[filled > 0.99] < 0.02) and window.paint_state.mask.max() <= 0.25 + 1e-6
    window.act_undo.trigger()
    np.testing.assert_array_equal(window.paint_state.mask, filled)
