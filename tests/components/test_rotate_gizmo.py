"""The rotate handle's math: joint frames, rings, which ring a press grabs, the pose a ring drag gives."""

from __future__ import annotations

import math

import numpy as np
import pytest

from anr_studio.body.skeleton import SMPL_PARENTS, joint_index
from anr_studio.components.rotate_gizmo import (RingDrag, eye_position, joint_frames, pick_ring, ring_colors, ring_points, ring_radius,
                                               rotate_joint)
from anr_studio.components.scene import OrbitView
from anr_studio.errors import AnrError


def test_joint_frames_compose_down_the_chain():
    pose = np.zeros((24, 3), np.float32)
    assert np.allclose(joint_frames(pose, SMPL_PARENTS), np.eye(3))
    sh, el = joint_index("left_shoulder"), joint_index("left_elbow")
    pose[sh] = (0.0, 0.0, math.pi / 2)
    frames = joint_frames(pose, SMPL_PARENTS)
    # The elbow inherits the shoulder's quarter turn about z: its x axis now points up the world's y.
    assert np.allclose(frames[el][:, 0], (0.0, 1.0, 0.0), atol=1e-6)
    assert np.allclose(frames[joint_index("right_elbow")], np.eye(3))


def test_rotate_joint_turns_about_the_joints_own_axis():
    pose = np.zeros((24, 3), np.float32)
    out = rotate_joint(pose, 18, 2, math.radians(30))
    assert np.allclose(out[18], (0.0, 0.0, math.radians(30)), atol=1e-6) and not out[np.arange(24) != 18].any()
    # Turning about the joint's own x after a quarter turn about z: the frames compose as R_z @ R_x.
    twice = rotate_joint(rotate_joint(pose, 18, 2, math.pi / 2), 18, 0, math.pi / 2)
    frame = joint_frames(twice, SMPL_PARENTS)[18]
    assert np.allclose(frame[:, 0], (0.0, 1.0, 0.0), atol=1e-6) and np.allclose(frame[:, 2], (1.0, 0.0, 0.0), atol=1e-6)
    with pytest.raises(AnrError, match="axis 3"):
        rotate_joint(pose, 18, 3, 0.1)


def test_rings_lie_in_the_planes_normal_to_their_axes_at_a_fixed_screen_size():
    view = OrbitView()
    center = np.array([0.3, 1.3, 0.0])
    r = ring_radius(view, center, 600.0)
    rings = ring_points(center, np.eye(3), r)
    for k in range(3):
        assert np.allclose(rings[k][:, k], center[k])
        assert np.allclose(np.linalg.norm(rings[k] - center, axis=1), r)
    assert ring_radius(OrbitView(distance=8.4), center, 600.0) > 1.9 * r  # twice as far: twice as large in the world
    assert np.allclose(eye_position(OrbitView(elevation=0.0)), (0.0, 0.9, 4.2))
    assert ring_radius(view, center, 200.0) == pytest.approx(r * 3.0 * 28.0 / 64.0)  # a small view: 14% of its height
    # The halves behind the joint are faded; the grabbed ring is lighter than its axis colour.
    colors = ring_colors(rings, center, center - eye_position(view), active=2)
    z_ring = rings[2]
    near = (z_ring - center) @ (center - eye_position(view)) < 0
    assert np.all(colors[2][near, 3] == 1.0) and np.all(colors[2][~near, 3] < 0.5)
    assert colors[2, 0, :3].sum() > colors[1, 0, :3].sum() - 0.5 and colors[2, 0, 2] == 1.0


def test_pick_ring_prefers_the_nearest_then_the_one_facing_the_viewer():
    t = np.linspace(0, 2 * math.pi, 65)
    circle = np.stack([100 + 50 * np.cos(t), 100 + 50 * np.sin(t)], 1)
    vertical = np.stack([np.full_like(t, 100.0), 100 + 50 * np.sin(t)], 1)
    horizontal = np.stack([100 + 50 * np.cos(t), np.full_like(t, 100.0)], 1)
    pix = np.stack([vertical, horizontal, circle])
    toward = np.array([0.0, 0.0, -1.0])  # eye -> joint, the viewer on +z
    assert pick_ring(pix, (100 + 35.4, 100 - 35.4), np.eye(3), toward) == 2
    assert pick_ring(pix, (102, 80), np.eye(3), toward) == 0
    assert pick_ring(pix, (150, 101), np.eye(3), toward) == 2  # the circle and the edge-on y ring meet: z faces the viewer
    assert pick_ring(pix, (130, 130), np.eye(3), toward) is None


def _arc(center, radius, deg):
    a = math.radians(deg)
    return (center[0] + radius * math.cos(a), center[1] + radius * math.sin(a))


def test_ring_drag_follows_the_pointer_around_the_joint():
    pose = np.zeros((24, 3), np.float32)
    c = (200.0, 150.0)
    # The z axis points at the viewer: a counter-clockwise sweep on screen (y down: the angle falls) turns +z.
    drag = RingDrag(pose, 18, 2, np.eye(3), c, _arc(c, 60, -45), view_dir=np.array([0.0, 0.0, -1.0]))
    for deg in (-55, -65, -75):
        out = drag.update(_arc(c, 60, deg))
    assert math.degrees(out[18, 2]) == pytest.approx(30.0, abs=1e-4) and abs(out[18, :2]).max() < 1e-6
    # Seen from behind the same sweep turns the other way; sweeps past half a turn keep counting.
    back = RingDrag(pose, 18, 2, np.eye(3), c, _arc(c, 60, 0), view_dir=np.array([0.0, 0.0, 1.0]))
    for deg in range(20, 201, 20):
        back.update(_arc(c, 60, deg))
    assert math.degrees(back.angle) == pytest.approx(200.0)
    assert drag.update(c) is not None and math.degrees(drag.angle) == pytest.approx(30.0)  # the joint itself: no angle
