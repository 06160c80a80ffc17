"""Damaged files are refused with a dialog and kept out of Recent files; shortcuts respect the focus; both redo keys."""

from __future__ import annotations

import os

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets


def test_a_damaged_avatar_is_refused_with_a_dialog_and_not_remembered(window, qtbot, tmp_path):
    from anr_studio.gui.main_window import settings

    bad = tmp_path / "random.anr"
    bad.write_bytes(os.urandom(4096))
    window.open_path(str(bad))
    boxes = [w for w in QtWidgets.QApplication.topLevelWidgets() if w.objectName() == "errorDialog" and w.isVisible()]
    assert boxes, "no dialog for a damaged file"
    assert str(bad) in boxes[-1].text() and "What to do" in boxes[-1].informativeText()
    for b in boxes:
        b.close()
    assert window.avatar is None
    assert str(bad) not in (settings().value("recent", []) or [])


def test_a_mistake_that_is_no_damaged_file_gets_no_advice_about_damaged_files(window, qtbot, tmp_path, monkeypatch):
    """Start with no capture listed, or an empty try-on name, says what is missing and nothing about files."""
    def shown_dialog():
        boxes = [w for w in QtWidgets.QApplication.topLevelWidgets() if w.objectName() == "errorDialog" and w.isVisible()]
        assert len(boxes) == 1, "expected one error dialog"
        text, advice = boxes[0].text(), boxes[0].informativeText()
        boxes[0].close()
        return text, advice

    qtbot.mouseClick(window.training_panel.start_btn, QtCore.Qt.MouseButton.LeftButton)
    text, advice = shown_dialog()
    assert "no captures were chosen" in text and advice == ""
    window.tryon_panel.save_identity()
    text, advice = shown_dialog()
    assert "no avatar is open" in text and advice == ""
    # A video with nobody in view, imported by a studio started in the video's folder: the message names the
    # clip by its name and says what is expected; the video is not damaged.
    import cv2

    from anr_studio.capture.video_fit.models import Keypoints

    def nobody(frames):
        n = len(frames)
        return Keypoints(np.zeros((n, 17, 2), np.float32), np.zeros((n, 17), np.float32), None, np.zeros(n, np.int64),
                         "coco17", np.zeros(frames.shape[:3], np.float32))

    nobody.layout = "coco17"
    room = tmp_path / "room.mp4"
    writer = cv2.VideoWriter(str(room), cv2.VideoWriter_fourcc(*"mp4v"), 30, (64, 48))
    for i in range(4):
        writer.write(np.full((48, 64, 3), 60 * i, np.uint8))
    writer.release()
    monkeypatch.chdir(tmp_path)
    job = window.capture_panel.import_capture(str(room), str(tmp_path / "room.h5"), estimator=nobody)
    qtbot.waitUntil(lambda: not job.running, timeout=30000)
    qtbot.waitUntil(lambda: any(w.objectName() == "errorDialog" and w.isVisible()
                                for w in QtWidgets.QApplication.topLevelWidgets()), timeout=5000)
    text, advice = shown_dialog()
    assert text.startswith("room.mp4: no person found") and advice == ""
    damaged = tmp_path / "damaged.h5"  # the advice stays for a file that did not open
    damaged.write_bytes(b"not hdf5")
    window.open_path(str(damaged))
    text, advice = shown_dialog()
    assert str(damaged) in text and "What to do" in advice


def test_single_letter_shortcuts_do_not_fire_in_text_boxes_and_both_redo_keys_work(window, qtbot):
    window.activateWindow()
    QtWidgets.QApplication.setActiveWindow(window)
    before = window.act_skeleton.isChecked()
    box = window.pose_panel.filter
    box.setFocus()
    qtbot.waitUntil(box.hasFocus, timeout=5000)
    qtbot.keyClick(box, QtCore.Qt.Key.Key_S)
    assert window.act_skeleton.isChecked() == before and box.text().endswith("s")
    assert window.act_skeleton.shortcutContext() == QtCore.Qt.ShortcutContext.WidgetWithChildrenShortcut
    keys = {k.toString() for k in window.act_redo.shortcuts()}
    assert {"Ctrl+Y", "Ctrl+Shift+Z"} <= keys
    window.pose_state.set_joint_axis(16, 2, -0.4)
    window.pose_state.end_gesture()
    window.undo()
    from anr_studio.components.pose_state import standing_pose

    assert np.array_equal(window.pose_state.pose, standing_pose())
    window.act_redo.trigger()
    assert window.pose_state.pose[16, 2] != 0
