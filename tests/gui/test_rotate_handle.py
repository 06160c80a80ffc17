"""The rotate handle in the 3D view, through real mouse events: a ring drag turns the selected joint about its axis."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from anr_studio.body.lbs import axis_angle_to_matrix
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
    assert all(r.visible for r in vp.handle.rings)


def _ring_radius_px(vp, axis):
    c = vp.joint_pixels()[vp.pose_state.selected_joint]
    return c, float(np.median(np.linalg.norm(vp.handle.pixels()[axis] - c, axis=1)))


def _far_point(vp, axis):
    """Returns the point of ring ``axis`` on screen farthest from the other two rings, (2,)."""
    rings = vp.handle.pixels()
    others = np.concatenate([rings[k] for k in range(3) if k != axis])
    return rings[axis][np.argmax([np.linalg.norm(others - p, axis=1).min() for p in rings[axis]])]


def test_dragging_the_z_ring_turns_the_joint_about_its_z_and_one_undo_restores(window, qtbot):
    vp, state = window.viewport, window.pose_state
    el = joint_index("left_elbow")
    pose0 = np.zeros((24, 3), np.float32)
    pose0[el] = (0.0, -0.7, 0.0)  # bent: the elbow's own axes are turned away from the world's
    state.set_pose(pose0, record=False)
    window.view_state.reset()
    _select(window, qtbot, el)
    c = vp.joint_pixels()[el]
    p = _far_point(vp, 2)
    r = float(np.linalg.norm(p - c))
    start = math.degrees(math.atan2(p[1] - c[1], p[0] - c[0]))
    az0 = window.view_state.view.azimuth
    # The elbow's z axis still points towards the viewer: a counter-clockwise sweep on screen turns it positively.
    swept = _arc_drag(vp.canvas.native, c, r, start, start - 30)
    assert swept == pytest.approx(-30.0, abs=1.0)
    qtbot.wait(20)
    before = axis_angle_to_matrix(torch.as_tensor(pose0[el], dtype=torch.float64))
    turn = axis_angle_to_matrix(torch.tensor([0.0, 0.0, math.radians(-swept)], dtype=torch.float64))
    after = axis_angle_to_matrix(torch.as_tensor(state.pose[el], dtype=torch.float64))
    torch.testing.assert_close(after, before @ turn, atol=2e-3, rtol=0)  # about the elbow's own z, by the sweep
    others = np.arange(24) != el
    assert np.array_equal(state.pose[others], pose0[others])
    assert window.view_state.view.azimuth == az0  # grabbing a ring does not orbit
    shown = [window.pose_panel.angle_fields[(el, k)].value() for k in range(3)]
    assert np.allclose(shown, np.degrees(state.pose[el]), atol=0.06)  # the pose panel follows
    assert state.selected_joint == el and "selected" in vp.selection_label.text().lower()
    window.undo()
    assert np.array_equal(state.pose, pose0)
    assert not state.undo()  # the whole drag was one step


def test_the_x_ring_from_the_side_and_orbiting_beside_the_rings(window, qtbot):
    vp, state = window.viewport, window.pose_state
    state.set_pose(np.zeros((24, 3), np.float32), record=False)
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
