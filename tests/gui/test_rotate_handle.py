"""The rotate handle in the 3D view, through real mouse events: a ring drag turns the selected joint about its axis."""

from __future__ import annotations

import math

import numpy as np
import pytest

from anr_studio.components.pose_state import joint_index
from tests.gui.test_direct_posing import _drag, _mouse


def _arc_drag(native, center, radius, start_deg, end_deg, steps=8):
    """Returns the screen angle (degrees, y down) swept around ``center`` by a drag along the circle of ``radius``
    from ``start_deg`` to ``end_deg``; the events land on whole pixels, as a mouse's do."""
    pts = [(round(center[0] + radius * math.cos(math.radians(a))), round(center[1] + radius * math.sin(math.radians(a))))
           for a in np.linspace(start_deg, end_deg, steps + 1)]
    _mouse(native, "press", pts[0])
    for p in pts[1:]:
        _mouse(native, "move", p)
    _mouse(native, "release", pts[-1])
    a0, a1 = (math.degrees(math.atan2(p[1] - center[1], p[0] - center[0])) for p in (pts[0], pts[-1]))
    return a1 - a0


def _select(window, qtbot, joint):
    vp = window.viewport
    x, y = vp.joint_pixels()[joint]
    _mouse(vp.canvas.native, "press", (x, y))
    _mouse(vp.canvas.native, "release", (x, y))
    qtbot.wait(20)
    assert window.pose_state.selected_joint == joint
    assert all(r.visible for r in vp.rings)


def _ring_radius_px(vp, axis):
    c = vp.joint_pixels()[vp.pose_state.selected_joint]
    return c, float(np.median(np.linalg.norm(vp.ring_pixels()[axis] - c, axis=1)))


def test_dragging_the_z_ring_turns_the_joint_about_z_and_one_undo_restores(window, qtbot):
    vp, state = window.viewport, window.pose_state
    el = joint_index("left_elbow")
    _select(window, qtbot, el)
    c, r = _ring_radius_px(vp, 2)
    az0 = window.view_state.view.azimuth
    # From the front the z axis points at the viewer: sweeping 30 degrees counter-clockwise on screen turns +30 about z.
    swept = _arc_drag(vp.canvas.native, c, r, -45, -75)
    assert swept == pytest.approx(-30.0, abs=1.0)
    qtbot.wait(20)
    got = np.degrees(state.pose[el])
    assert got[2] == pytest.approx(-swept, abs=0.05) and abs(got[:2]).max() < 0.05
    assert window.view_state.view.azimuth == az0  # grabbing a ring does not orbit
    assert window.pose_panel.angle_fields[(el, 2)].value() == pytest.approx(got[2], abs=0.1)
    assert state.selected_joint == el and "selected" in vp.selection_label.text().lower()
    # The wrist (a child) moved with the forearm; the elbow itself stayed put.
    wrist = joint_index("left_wrist")
    assert vp._joints_world[wrist][1] > 1.38 + 0.05
    window.undo()
    assert not state.pose.any()
    assert not state.can_undo  # the whole drag was one step


def test_the_x_ring_from_the_side_and_orbiting_beside_the_rings(window, qtbot):
    vp, state = window.viewport, window.pose_state
    window.viewport.preset_buttons["side"].click()  # looking from +x: the x axis points at the viewer
    qtbot.wait(20)
    knee = joint_index("left_knee")
    _select(window, qtbot, knee)
    c, r = _ring_radius_px(vp, 0)
    swept = _arc_drag(vp.canvas.native, c, r, 135, 155)  # clockwise on screen: about -20 about x
    assert swept == pytest.approx(20.0, abs=1.0)
    got = np.degrees(state.pose[knee])
    assert got[0] == pytest.approx(-swept, abs=0.05) and abs(got[1:]).max() < 0.05
    # A drag that starts away from the rings still orbits and leaves the pose alone.
    pose = state.pose
    az0 = window.view_state.view.azimuth
    _drag(vp.canvas.native, (8, 40), (68, 40))
    assert window.view_state.view.azimuth != az0
    assert np.array_equal(state.pose, pose)
