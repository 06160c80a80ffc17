"""The studio keeps a user's keyframe edits: Save is off while a job writes the same capture."""

from __future__ import annotations

import threading

from PySide6 import QtCore, QtWidgets

from anr_studio.capture import Capture
from tests.gui.test_job_list import _save


def _held_masks(monkeypatch) -> threading.Event:
    """Returns the event that lets the masks job go on: until it is set, the job holds before each frame's mask."""
    from anr_studio.capture import masks

    gate, extract = threading.Event(), masks.extract_mask

    def held(*args, **kwargs):
        assert gate.wait(60), "the test never let the masks job go on"
        return extract(*args, **kwargs)

    monkeypatch.setattr(masks, "extract_mask", held)
    return gate


def test_save_is_off_while_a_masks_job_writes_the_capture_and_back_when_it_ends(window, qtbot, tiny_capture, monkeypatch):
    gate = _held_masks(monkeypatch)
    window.open_path(tiny_capture)
    window.docks["Keyframes"].raise_()
    kp, save = window.keyframes_panel, window.keyframes_panel.save_btn
    window.capture_panel.slider.setValue(4)
    kp.add_current()
    assert kp.indices == [0, 3, 4] and kp.unsaved and save.isEnabled()
    job = window.capture_panel.start_masks(method="plate")
    assert job is not None and job.running
    assert not save.isEnabled()
    assert "the masks job is writing tiny.h5" in save.toolTip() and "comes back when the job ends" in save.toolTip()
    assert "Save is off while the masks job is writing tiny.h5" in kp.info.text()
    _save(kp, "keyframes_save_off_while_masks_job_writes.png")
    qtbot.mouseClick(save, QtCore.Qt.MouseButton.LeftButton)  # a disabled button does nothing
    kp.save()  # called anyway (a shortcut, a script): a dialog says why, the file is left to the job
    box = window.findChild(QtWidgets.QMessageBox, "errorDialog")
    assert box is not None and "not saved while the masks job is writing tiny.h5" in box.text()
    box.close()
    assert kp.unsaved and Capture(tiny_capture).keyframes.tolist() == [0, 3]
    gate.set()
    qtbot.waitUntil(save.isEnabled, timeout=60000)
    assert job.status.snapshot().error is None and "wrote 6 masks" in window.capture_panel.info.text()
    assert save.toolTip() == "Write the keyframes into the capture file (training uses them)"
    assert kp.indices == [0, 3, 4] and kp.unsaved and "Save is off" not in kp.info.text()
    qtbot.mouseClick(save, QtCore.Qt.MouseButton.LeftButton)
    assert not kp.unsaved and Capture(tiny_capture).keyframes.tolist() == [0, 3, 4]


def test_save_is_off_only_for_the_capture_the_job_writes(window, qtbot, tiny_capture, tmp_path, standin_body, monkeypatch):
    from tests.standin import write_standin_capture

    gate = _held_masks(monkeypatch)
    other = str(write_standin_capture(tmp_path / "other.h5", standin_body))
    window.open_path(tiny_capture)
    job = window.capture_panel.start_masks(method="plate")
    assert not window.keyframes_panel.save_btn.isEnabled()
    window.open_path(other)
    assert window.keyframes_panel.save_btn.isEnabled()
    gate.set()
    qtbot.waitUntil(lambda: not window.capture_panel.watcher.active, timeout=60000)
    assert job.status.snapshot().error is None and window.keyframes_panel.save_btn.isEnabled()
