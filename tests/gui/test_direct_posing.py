"""Direct posing through the real widgets: picking joints in the viewport, typed angles, fine sliders, pan, presets, redo keys."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PySide6 import QtCore, QtGui, QtWidgets

from anr_studio.components.pose_state import joint_index, nearest_joint
from anr_studio.components.scene import ViewState


def _mouse(widget, kind, pos, button=QtCore.Qt.MouseButton.LeftButton, mods=QtCore.Qt.KeyboardModifier.NoModifier):
    p = QtCore.QPointF(*pos)
    types = {"press": QtCore.QEvent.Type.MouseButtonPress, "move": QtCore.QEvent.Type.MouseMove, "release": QtCore.QEvent.Type.MouseButtonRelease}
    buttons = QtCore.Qt.MouseButton.NoButton if kind == "release" else button
    btn = QtCore.Qt.MouseButton.NoButton if kind == "move" else button
    ev = QtGui.QMouseEvent(types[kind], p, widget.mapToGlobal(p), btn, buttons, mods)
    QtWidgets.QApplication.sendEvent(widget, ev)


def _drag(widget, start, end, steps=6, **kw):
    _mouse(widget, "press", start, **kw)
    for i in range(1, steps + 1):
        _mouse(widget, "move", (start[0] + (end[0] - start[0]) * i / steps, start[1] + (end[1] - start[1]) * i / steps), **kw)
    _mouse(widget, "release", end, **kw)


def test_nearest_joint_picks_within_radius_only():
    pix = np.array([[10.0, 10.0], [50.0, 50.0], [52.0, 60.0]])
    assert nearest_joint(pix, (49, 52)) == 1
    assert nearest_joint(pix, (53, 58)) == 2
    assert nearest_joint(pix, (200, 200)) is None


def test_view_pan_moves_target_along_screen_axes_and_presets():
    v = ViewState()
    t0 = np.array(v.view.target)
    v.pan(100.0, 0.0, 500.0)  # drag right: the scene follows, the target moves to the camera's left (-x from the front)
    t1 = np.array(v.view.target)
    assert t1[0] < t0[0] and abs(t1[1] - t0[1]) < 1e-6
    v.pan(0.0, 100.0, 500.0)  # drag down: the target moves up
    assert v.view.target[1] > t1[1]
    v.preset("side")
    assert (v.view.azimuth, v.view.elevation) == (90.0, 0.0)
    v.preset("top")
    assert v.view.elevation == 89.0


def test_click_on_projected_left_wrist_selects_it(window, qtbot):
    vp = window.viewport
    native = vp.canvas.native
    lw = joint_index("left_wrist")
    x, y = vp.joint_pixels()[lw]
    assert 0 <= x < native.width() and 0 <= y < native.height()
    _mouse(native, "press", (x + 2, y - 1))
    _mouse(native, "release", (x + 2, y - 1))
    qtbot.wait(20)
    assert window.pose_state.selected_joint == lw
    assert vp.selected_marker.visible
    assert "left wrist" in vp.selection_label.text()
    assert "left wrist" in window.pose_panel.selected_label.text()
    assert "background" in window.pose_panel.rows[lw].styleSheet()
    # A click on empty space clears the selection; a drag orbits and selects nothing.
    _mouse(native, "press", (5, 5))
    _mouse(native, "release", (5, 5))
    assert window.pose_state.selected_joint is None and not vp.selected_marker.visible


def test_typed_angle_turns_the_joint(window, qtbot):
    lw = joint_index("left_wrist")
    field = window.pose_panel.angle_fields[(lw, 2)]
    window.pose_panel.scroll.ensureWidgetVisible(field)
    field.setFocus()
    field.selectAll()
    qtbot.keyClicks(field, "30")
    assert window.pose_state.pose[lw, 2] == 0.0  # nothing applies while typing
    qtbot.keyClick(field, QtCore.Qt.Key.Key_Return)
    assert math.degrees(window.pose_state.pose[lw, 2]) == pytest.approx(30.0, abs=1e-4)
    assert window.pose_state.selected_joint == lw
    assert window.pose_panel.sliders[(lw, 2)].value() == 300
    window.undo()
    assert window.pose_state.pose[lw, 2] == 0.0 and field.value() == 0.0


def test_fine_slider_drag_is_half_a_degree_per_pixel(window, qtbot):
    j = joint_index("left_elbow")
    s = window.pose_panel.sliders[(j, 1)]
    window.pose_panel.scroll.ensureWidgetVisible(s)
    qtbot.wait(20)
    a0 = math.degrees(window.pose_state.pose[j, 1])  # the standing pose bends the elbow a little
    y = s.height() // 2
    _drag(s, (10, y), (30, y))
    assert math.degrees(window.pose_state.pose[j, 1]) == pytest.approx(a0 + 10.0, abs=0.05)
    _drag(s, (10, y), (30, y), mods=QtCore.Qt.KeyboardModifier.ShiftModifier)
    assert math.degrees(window.pose_state.pose[j, 1]) == pytest.approx(a0 + 12.0, abs=0.05)
    assert window.pose_panel.angle_fields[(j, 1)].value() == pytest.approx(a0 + 12.0, abs=0.05)
    # Each drag is one undo step; Ctrl+Y and Ctrl+Shift+Z both redo.
    keys = {k.toString() for k in window.act_redo.shortcuts()}
    assert {"Ctrl+Y", "Ctrl+Shift+Z"} <= keys
    window.undo()
    assert math.degrees(window.pose_state.pose[j, 1]) == pytest.approx(a0 + 10.0, abs=0.05)
    window.act_redo.trigger()
    assert math.degrees(window.pose_state.pose[j, 1]) == pytest.approx(a0 + 12.0, abs=0.05)


def test_shift_and_middle_drag_pan_the_camera(window, qtbot):
    native = window.viewport.canvas.native
    t0 = np.array(window.view_state.view.target)
    az0 = window.view_state.view.azimuth
    _drag(native, (100, 200), (160, 200), mods=QtCore.Qt.KeyboardModifier.ShiftModifier)
    t1 = np.array(window.view_state.view.target)
    assert np.linalg.norm(t1 - t0) > 0.01 and window.view_state.view.azimuth == az0
    _drag(native, (100, 200), (100, 260), button=QtCore.Qt.MouseButton.MiddleButton)
    assert window.view_state.view.target[1] > t1[1] + 0.01 and window.view_state.view.azimuth == az0


def test_view_preset_buttons(window):
    window.viewport.preset_buttons["side"].click()
    assert (window.view_state.view.azimuth, window.view_state.view.elevation) == (90.0, 0.0)
    window.viewport.preset_buttons["front"].click()
    assert (window.view_state.view.azimuth, window.view_state.view.elevation) == (0.0, 0.0)
    assert window.viewport.axis_box.camera.azimuth == window.viewport.camera.azimuth
