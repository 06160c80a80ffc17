"""The studio keeps a user's keyframe edits: Save is off while a job writes the same capture, and closing the
window or opening another capture asks whether to save them."""

from __future__ import annotations

import threading

from PySide6 import QtCore, QtWidgets

from anr_studio.capture import Capture
from tests.gui.test_job_list import _save

Btn = QtWidgets.QMessageBox.StandardButton


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


def _answer(monkeypatch, button) -> list[tuple]:
    """Returns the list of questions asked (title, text, buttons, default), each answered with ``button``."""
    asked: list[tuple] = []

    def question(_parent, title, text, buttons, default):
        asked.append((title, text, buttons, default))
        return button

    monkeypatch.setattr(QtWidgets.QMessageBox, "question", question)
    return asked


def _edit_keyframes(window, tiny_capture) -> None:
    window.open_path(tiny_capture)
    window.capture_panel.slider.setValue(4)
    window.keyframes_panel.add_current()
    assert window.keyframes_panel.indices == [0, 3, 4] and window.keyframes_panel.unsaved


def test_closing_with_unsaved_keyframes_asks_and_cancel_keeps_the_window_open(window, qtbot, tiny_capture, monkeypatch):
    _edit_keyframes(window, tiny_capture)
    asked = _answer(monkeypatch, Btn.Cancel)
    assert not window.close()
    assert asked == [("Unsaved keyframes", "Save changes to keyframes of tiny.h5?", Btn.Save | Btn.Discard | Btn.Cancel, Btn.Save)]
    assert window.isVisible() and window.keyframes_panel.indices == [0, 3, 4] and window.keyframes_panel.unsaved
    assert Capture(tiny_capture).keyframes.tolist() == [0, 3]
    asked = _answer(monkeypatch, Btn.Save)
    assert window.close() and len(asked) == 1 and not window.isVisible()
    assert Capture(tiny_capture).keyframes.tolist() == [0, 3, 4]


def test_closing_and_discarding_leaves_the_capture_as_it_was(window, qtbot, tiny_capture, monkeypatch):
    _edit_keyframes(window, tiny_capture)
    asked = _answer(monkeypatch, Btn.Discard)
    assert window.close() and len(asked) == 1
    assert Capture(tiny_capture).keyframes.tolist() == [0, 3]


def test_a_failed_save_on_close_keeps_the_window_open(window, qtbot, tiny_capture, monkeypatch):
    gate = _held_masks(monkeypatch)
    _edit_keyframes(window, tiny_capture)
    window.capture_panel.start_masks(method="plate")
    _answer(monkeypatch, Btn.Save)
    assert not window.close() and window.isVisible() and window.keyframes_panel.unsaved
    box = window.findChild(QtWidgets.QMessageBox, "errorDialog")
    assert box is not None and "not saved while the masks job is writing tiny.h5" in box.text()
    box.close()
    gate.set()
    qtbot.waitUntil(window.keyframes_panel.save_btn.isEnabled, timeout=60000)
    assert window.close() and Capture(tiny_capture).keyframes.tolist() == [0, 3, 4]


def test_opening_another_capture_asks_about_unsaved_keyframes(window, qtbot, tiny_capture, tmp_path, standin_body, monkeypatch):
    from tests.standin import write_standin_capture

    other = str(write_standin_capture(tmp_path / "other.h5", standin_body))
    _edit_keyframes(window, tiny_capture)
    asked = _answer(monkeypatch, Btn.Cancel)
    window.open_path(other)
    assert [q[1] for q in asked] == ["Save changes to keyframes of tiny.h5?"]
    assert window.capture_panel.path == tiny_capture and window.keyframes_panel.indices == [0, 3, 4]
    assert window.keyframes_panel.unsaved and window.capture_panel.capture is not None
    asked = _answer(monkeypatch, Btn.Save)
    window.open_path(other)
    assert len(asked) == 1 and window.capture_panel.path == other and not window.keyframes_panel.unsaved
    assert Capture(tiny_capture).keyframes.tolist() == [0, 3, 4]
    window.open_path(tiny_capture)  # nothing unsaved: no question
    assert len(asked) == 1 and window.capture_panel.path == tiny_capture


def test_the_question_is_a_real_dialog_with_save_discard_and_cancel(window, qtbot, tiny_capture, monkeypatch):
    """The studio's own QMessageBox on screen, answered by a timer clicking its Cancel button."""
    _edit_keyframes(window, tiny_capture)
    seen: list[tuple] = []

    def question(parent, title, text, buttons, default):
        box = QtWidgets.QMessageBox(QtWidgets.QMessageBox.Icon.Question, title, text, buttons, parent)
        box.setDefaultButton(default)

        def answer():
            try:
                _save(box, "keyframes_unsaved_question.png")
                seen.append((box.isVisible(), [b.text().replace("&", "") for b in box.buttons()]))
            finally:
                box.button(Btn.Cancel).click()

        QtCore.QTimer.singleShot(300, answer)
        return Btn(box.exec())

    monkeypatch.setattr(QtWidgets.QMessageBox, "question", question)
    assert not window.close() and window.isVisible()
    assert seen and seen[0][0] and sorted(seen[0][1]) == ["Cancel", "Discard", "Save"]
    _answer(monkeypatch, Btn.Discard)


def test_the_studio_and_the_cli_never_write_one_capture_at_once(window, qtbot, tiny_capture, monkeypatch):
    """A masks job of the studio keeps `anr-studio masks` out; a CLI writer keeps the studio's Save out."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from tests.capture.test_write_lock import _finish, _holding_writer

    gate = _held_masks(monkeypatch)
    _edit_keyframes(window, tiny_capture)
    job = window.capture_panel.start_masks(method="plate")
    qtbot.waitUntil(Path(f"{tiny_capture}.lock").exists, timeout=30000)
    out = subprocess.run([sys.executable, "-m", "anr_studio.cli", "masks", tiny_capture, "--method", "plate", "--overwrite"],
                         capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=os.getcwd()), timeout=120)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines()[-1] == (f"anr-studio: error: {tiny_capture}: another program (pid {os.getpid()}) "
                                                   "is writing this capture, expected it to finish first")
    gate.set()
    qtbot.waitUntil(lambda: not window.capture_panel.watcher.active, timeout=60000)
    assert job.status.snapshot().error is None and "wrote 6 masks" in window.capture_panel.info.text()
    kp = window.keyframes_panel
    writer = _holding_writer(tiny_capture)
    try:
        qtbot.mouseClick(kp.save_btn, QtCore.Qt.MouseButton.LeftButton)
        box = window.findChild(QtWidgets.QMessageBox, "errorDialog")
        assert box is not None and box.text() == (f"{tiny_capture}: another program (pid {writer.pid}) is writing this "
                                                  "capture, expected it to finish first")
        box.close()
        assert kp.unsaved and kp.indices == [0, 3, 4]
        _finish(writer)
    finally:
        writer.kill()
        writer.wait()
    qtbot.mouseClick(kp.save_btn, QtCore.Qt.MouseButton.LeftButton)
    cap = Capture(tiny_capture)
    assert not kp.unsaved and cap.keyframes.tolist() == [0, 3, 4] and int(cap.mask(0)[0, 0]) == 200
