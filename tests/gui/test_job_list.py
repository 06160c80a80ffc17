"""One job list in the status bar: real capture jobs (masks, keyframes, import, the alignment check) show
their progress there, a cancel writes nothing, ended jobs say how they ended and go; the capture panel
draws the alignment check over the frame with its verdict."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PySide6 import QtWidgets

from anr_studio.components import job_list as job_list_module
from anr_studio.components.status import JobState
from anr_studio.errors import AnrError
from tests.gui.test_capture_keyframes import qimage_to_array

SHOTS = os.environ.get("ANR_SCREENSHOTS")  # a folder: the tests also save their screenshots there


def _row(window, name):
    """Returns the status bar's row widget of the job called ``name`` (None when it is not listed)."""
    window.job_list.refresh()
    for w in window.job_list.rows.values():
        if w.name.text() == name:
            return w
    return None


def _save(widget, name):
    img = widget.grab()
    assert not img.isNull() and img.width() > 50
    if SHOTS:
        img.save(str(Path(SHOTS) / name))
    return img


def test_a_running_masks_job_shows_progress_in_the_status_bar_and_cancel_writes_nothing(window, qtbot, tiny_capture, monkeypatch):
    monkeypatch.setattr(job_list_module, "DONE_LINGER_S", 0.6)
    from anr_studio.capture import Capture

    window.open_path(tiny_capture)
    before = np.stack([Capture(tiny_capture).mask(i) for i in range(6)])
    stat = os.stat(tiny_capture)
    job = window.capture_panel.start_masks(method="plate")
    job.pause()  # holds at its next frame, so the row can be seen and cancelled mid-way
    qtbot.waitUntil(lambda: job.status.state == JobState.PAUSED, timeout=30000)
    row = _row(window, "masks")
    assert row is not None and window.job_list.isVisible() and row.bar.isVisible()
    snap = job.status.snapshot()
    assert 1 <= snap.done < 6 and snap.total == 6
    assert row.bar.value() == round(1000 * snap.done / 6) and "paused" in row.bar.format()
    assert row.cancel.isVisible() and row.cancel.isEnabled()
    _save(window.statusBar(), "status_bar_job_paused.png")

    row.cancel.click()
    qtbot.waitUntil(lambda: job.status.state == JobState.STOPPED, timeout=30000)
    row = _row(window, "masks")
    assert row.ended.text() == "cancelled" and not row.bar.isVisible() and not row.cancel.isVisible()
    after = os.stat(tiny_capture)
    assert (after.st_ino, after.st_mtime_ns) == (stat.st_ino, stat.st_mtime_ns)
    np.testing.assert_array_equal(np.stack([Capture(tiny_capture).mask(i) for i in range(6)]), before)
    assert sorted(os.listdir(Path(tiny_capture).parent)) == ["tiny.h5"]
    qtbot.waitUntil(lambda: _row(window, "masks") is None and not window.job_list.isVisible(), timeout=5000)


def test_keyframes_and_masks_run_side_by_side_in_the_job_list(window, qtbot, tiny_capture, monkeypatch):
    monkeypatch.setattr(job_list_module, "DONE_LINGER_S", 60.0)
    window.open_path(tiny_capture)
    kf = window.keyframes_panel.start_selection()
    kf.pause()
    masks = window.capture_panel.start_masks(method="plate")
    masks.pause()
    qtbot.waitUntil(lambda: kf.status.state == JobState.PAUSED and masks.status.state == JobState.PAUSED, timeout=30000)
    names = [w.name.text() for w in (_row(window, "keyframes"), _row(window, "masks"))]
    assert names == ["keyframes", "masks"] and len(window.job_list.rows) == 2
    kf_row = _row(window, "keyframes")
    assert kf_row.bar.maximum() == 1000 and kf_row.bar.value() > 0
    _save(window.statusBar(), "status_bar_two_jobs.png")
    kf.resume()
    masks.resume()
    qtbot.waitUntil(lambda: not kf.status.state.active and not masks.status.state.active, timeout=60000)
    qtbot.waitUntil(lambda: _row(window, "masks").ended.text() == "done" and _row(window, "keyframes").ended.text() == "done",
                    timeout=5000)
    # The masks job rewrote the capture; the panel reopened it and says what was written.
    qtbot.waitUntil(lambda: "wrote 6 masks" in window.capture_panel.info.text(), timeout=5000)
    # A row says "done" from its job's status; the keyframes panel takes the selection at its next poll, and
    # until then shows what the masks reopen read, which may predate the keyframes' rewrite.
    selected = sorted(kf.result[0].tolist())
    qtbot.waitUntil(lambda: window.keyframes_panel.indices == selected, timeout=5000)
    # Both rewrites of the file kept their change: the new keyframes are in it beside the new masks.
    from anr_studio.capture import Capture

    cap = Capture(tiny_capture)
    assert sorted(cap.keyframes.tolist()) == selected and cap.has_masks


def test_alignment_check_overlay_and_verdict_in_the_capture_panel(window, qtbot, tiny_capture):
    window.open_path(tiny_capture)
    panel = window.capture_panel
    assert panel.verdict.text() == "Alignment: not checked yet."
    panel.check_box.setChecked(True)  # no report yet: the check starts in the background
    assert _row(window, "alignment check") is not None
    qtbot.waitUntil(lambda: panel.report is not None, timeout=60000)
    report = panel.report
    assert report.verdict == "good" and len(report.iou) == 6
    text = panel.verdict.text()
    assert text.startswith("Alignment check: median IoU") and text.endswith("alignment good")
    assert f"{np.median(report.iou):.2f}" in text
    img = qimage_to_array(panel.image.image())[..., :3].astype(int)
    frame = panel.capture.frame(0).astype(int)
    changed = np.abs(img - frame).sum(-1) > 60
    yellow = changed & (img[..., 0] > 180) & (img[..., 1] > 180) & (img[..., 2] < 120)
    red = changed & (img[..., 0] > 180) & (img[..., 1] < 110) & (img[..., 2] < 110)
    assert yellow.sum() > 20 and red.sum() > 5, "no body outline or skeleton drawn"
    panel.slider.setValue(2)
    assert panel.frame_label.text() == "3/6"
    panel.outline_box.setChecked(False)
    panel.check_box.setChecked(False)
    np.testing.assert_array_equal(qimage_to_array(panel.image.image())[..., :3], panel.capture.frame(2))
    panel.check_box.setChecked(True)
    _save(window.docks["Capture"], "capture_panel_alignment_check.png")


def test_import_from_the_capture_panel_runs_as_a_job_opens_and_checks_the_capture(window, qtbot, tmp_path, monkeypatch):
    import cv2

    monkeypatch.setattr(job_list_module, "DONE_LINGER_S", 60.0)
    src = tmp_path / "subject"
    (src / "images").mkdir(parents=True)
    (src / "masks").mkdir()
    for i in range(4):
        cv2.imwrite(str(src / "images" / f"{i:04d}.png"), np.full((40, 32, 3), 60 + 30 * i, np.uint8))
        m = np.zeros((40, 32), np.uint8)
        m[5:35, 8:24] = 255
        cv2.imwrite(str(src / "masks" / f"{i:04d}.png"), m)
    K = np.array([[50.0, 0, 16], [0, 50.0, 20], [0, 0, 1]])
    E = np.eye(4)
    E[2, 3] = 3.0
    np.savez(src / "fits.npz", poses=np.zeros((4, 72)), trans=np.zeros((4, 3)), betas=np.zeros(10), K=K, E=E)
    panel = window.capture_panel

    # Cancelled: nothing is written and nothing opens.
    out = tmp_path / "cancelled.h5"
    job = panel.import_capture(str(src), str(out))
    job.pause()
    qtbot.waitUntil(lambda: job.status.state == JobState.PAUSED, timeout=30000)
    assert _row(window, "import subject") is not None
    _row(window, "import subject").cancel.click()
    qtbot.waitUntil(lambda: job.status.state == JobState.STOPPED, timeout=30000)
    qtbot.wait(450)
    assert not out.exists() and panel.capture is None and sorted(os.listdir(tmp_path)) == ["subject"]

    out = tmp_path / "subject.h5"
    job = panel.import_capture(str(src), str(out))
    qtbot.waitUntil(lambda: panel.capture is not None, timeout=60000)
    assert panel.path == str(out) and panel.frame_label.text() == "1/4"
    # The imported capture is checked at once, as `anr-studio import` does.
    qtbot.waitUntil(lambda: panel.report is not None, timeout=60000)
    assert panel.verdict.text().startswith("Alignment check: median IoU")
    assert panel.verdict.text().endswith(f"alignment {panel.report.verdict}")
    qtbot.waitUntil(lambda: [w.ended.text() for w in window.job_list.rows.values()][-2:] == ["done", "done"], timeout=5000)
    assert [w.name.text() for w in window.job_list.rows.values()][-2:] == ["import subject", "alignment check"]


def test_a_video_without_poses_names_the_extra_to_install(window, monkeypatch, tmp_path):
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(AnrError, match=r"clip\.mp4: .*pip install 'anr-studio\[video\]'"):
        window.capture_panel.import_capture(str(tmp_path / "clip.mp4"), str(tmp_path / "clip.h5"))
    assert window.jobs.rows() == []


def test_a_check_of_what_the_file_held_before_it_was_reopened_is_dropped(window, qtbot, tiny_capture):
    window.open_path(tiny_capture)
    panel = window.capture_panel
    job = panel.start_check()
    job.pause()
    panel.open_capture(tiny_capture)  # as after masks were rewritten
    qtbot.waitUntil(lambda: not job.status.state.active, timeout=30000)
    qtbot.wait(450)  # two polls of the panel
    assert panel.report is None and panel.verdict.text() == "Alignment: not checked yet."
    fresh = panel.start_check()
    assert fresh is not job
    qtbot.waitUntil(lambda: panel.report is not None, timeout=60000)
    assert panel.verdict.text().endswith("alignment good")


def test_beyond_three_jobs_the_list_sums_up_the_rest_running_jobs_first(window, qtbot):
    from tests.components.test_job_list import FakeJob

    jobs = [FakeJob() for _ in range(5)]
    for i, job in enumerate(jobs):
        window.jobs.add(job, f"job {i}")
        job.status.set_state(JobState.RUNNING)
        job.status.set_progress(i, 10)
    jobs[0].status.set_state(JobState.FINISHED)
    window.job_list.refresh()
    visible = [w.name.text() for w in window.job_list.rows.values() if w.isVisible()]
    assert visible == ["job 1", "job 2", "job 3"]
    more = window.job_list.more
    assert more.isVisible() and more.text() == "+2 more"
    assert more.toolTip().splitlines() == ["job 4: 40%", "job 0: done"]
    assert window.statusBar().width() <= window.width()
    for job in jobs[1:]:
        job.status.set_state(JobState.STOPPED)


def test_a_long_job_message_leaves_the_percentage_in_the_bar_beside_the_name_and_all_of_it_in_the_tooltip(window, qtbot):
    from tests.components.test_job_list import FakeJob

    window.resize(1500, 950)  # a status bar with room to spare
    job = FakeJob()
    window.jobs.add(job, "training")
    job.status.set_state(JobState.RUNNING)
    job.status.set_progress(2, 100, "176.7 images/s, loss 0.0812 on the held-out frame")
    row = _row(window, "training")
    shown = row.bar.format()
    assert shown.startswith("2%") and "images/s" not in shown
    assert row.bar.fontMetrics().horizontalAdvance(shown) <= row.bar.width() - 8
    assert "176.7 images/s" in row.bar.toolTip() and "2%" in row.bar.toolTip()
    qtbot.wait(50)  # laid out: a lone row's name stays beside its bar instead of stretching away
    assert row.name.width() <= row.name.sizeHint().width() + 4  # the name as wide as its text
    job.status.set_state(JobState.STOPPED)
