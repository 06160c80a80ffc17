"""PoseState and PaintState: edits, events, undo/redo merging, brush tools on synthetic events."""

import numpy as np
import pytest

from anr_studio.components.paint import PaintEvent, PaintState, clear, dab, fill, handle_event, uv_triangle_mask
from anr_studio.components.pose_state import PoseState, standing_pose
from anr_studio.errors import AnrError


def test_pose_drag_is_one_undo_step_and_redo_restores():
    s = PoseState(num_betas=4)
    seen = []
    s.changed.connect(seen.append)
    for v in (0.1, 0.2, 0.3):
        s.set_joint_axis(18, 2, v, merge_key=("slider", 18, 2))
    s.end_gesture()
    s.set_joint_axis(1, 0, -0.5, merge_key=("slider", 1, 0))
    assert seen == ["pose"] * 4
    assert s.undo()
    assert s.pose[1, 0] == 0.0 and s.pose[18, 2] == pytest.approx(0.3)
    assert s.undo()
    assert np.array_equal(s.pose, standing_pose())
    assert not s.undo()
    assert s.redo() and s.pose[18, 2] == pytest.approx(0.3)
    assert s.redo() and s.pose[1, 0] == pytest.approx(-0.5)
    assert not s.redo()


def test_pose_state_starts_and_resets_to_a_standing_pose_with_the_arms_down():
    from anr_studio.body import load_body
    from anr_studio.components.scene import pose_body

    s = PoseState(num_betas=4)
    assert np.array_equal(s.pose, standing_pose()) and s.at_start()
    _, joints = pose_body(load_body(), s.pose)
    shoulders, wrists = joints[[16, 17]], joints[[20, 21]]
    assert (shoulders[:, 1] - wrists[:, 1] > 0.4).all()  # the hands hang well below the shoulders (no T-pose)
    assert abs(wrists[0, 0] - wrists[1, 0]) < 0.8  # and close to the body, not 1.5 m apart
    s.set_joint_axis(16, 2, 0.0)
    assert not s.at_start()
    s.reset_joint(16)
    assert np.array_equal(s.pose, standing_pose()) and s.at_start()


def test_start_shape_is_shown_kept_by_reset_and_no_undo_step():
    s = PoseState(num_betas=3)
    seen = []
    s.changed.connect(seen.append)
    s.set_start_betas(np.array([0.5, -1.0, 0.25, 9.0], np.float32))  # longer than the body's: cut
    assert s.betas.tolist() == [0.5, -1.0, 0.25] and seen == ["betas"] and s.at_start() and not s.undo()
    s.set_beta(0, 2.0)
    assert not s.at_start()
    s.reset_all()
    assert s.betas.tolist() == [0.5, -1.0, 0.25] and s.at_start()
    s.set_start_betas(None)
    assert not s.betas.any()


def test_pose_blocked_signal_and_validation():
    s = PoseState(num_betas=2)
    seen = []
    s.changed.connect(seen.append)
    with s.changed.blocked():
        s.set_pose(np.ones((72,), np.float32))
    assert seen == [] and s.pose.shape == (24, 3) and s.pose[5, 1] == 1.0
    with pytest.raises(AnrError, match=r"pose has shape \(23, 3\), expected \(24, 3\)"):
        s.set_pose(np.zeros((23, 3)))
    with pytest.raises(AnrError, match="at most 2"):
        s.set_betas(np.zeros(3))
    s.set_betas([0.5])
    assert s.betas.tolist() == [0.5, 0.0]
    s.reset_all()
    assert np.array_equal(s.pose, standing_pose()) and np.all(s.betas == 0) and seen[-1] == "all"


def test_brush_stroke_paints_soft_disc_and_undoes_as_one_step():
    st = PaintState(size=64)
    st.brush.radius, st.brush.softness = 8.0, 0.5
    boxes = []
    st.changed.connect(boxes.append)
    handle_event(st, PaintEvent("press", 16.0, 32.0))
    handle_event(st, PaintEvent("move", 48.0, 32.0))
    handle_event(st, PaintEvent("release", 48.0, 32.0))
    m = st.mask
    assert m[32, 16] == pytest.approx(1.0) and m[32, 32] == pytest.approx(1.0)
    assert 0.0 < m[32 - 7, 32] < 1.0  # feathered rim
    assert m[10, 32] == 0.0 and m[32, 60] == 0.0  # outside the stroke
    assert boxes and all(b[0] >= 0 and b[3] <= 64 for b in boxes)
    assert st.undo() and m is not st.mask and st.mask.max() == 0.0
    assert st.redo() and st.mask[32, 32] == pytest.approx(1.0)


def test_eraser_fill_clear():
    st = PaintState(size=32)
    region = np.zeros((32, 32), np.float32)
    region[:, :16] = 1.0
    fill(st, region)
    assert st.mask[:, :16].min() == 1.0 and st.mask[:, 16:].max() == 0.0
    st.brush.erase, st.brush.radius, st.brush.softness = True, 4.0, 0.0
    dab(st, 8.0, 16.0)
    assert st.mask[16, 8] == 0.0 and st.mask[0, 8] == 1.0
    clear(st)
    assert st.mask.max() == 0.0
    assert st.undo() and st.mask[0, 8] == 1.0
    with pytest.raises(AnrError, match="region has shape"):
        fill(st, np.zeros((8, 8)))


def test_uv_triangle_mask_covers_the_triangle_with_row0_at_v1():
    tri = np.array([[[0.0, 1.0], [0.5, 1.0], [0.0, 0.5]]], np.float32)  # top-left corner in image space
    m = uv_triangle_mask(tri, 32)
    assert m[1, 1] == 1.0 and m[30, 30] == 0.0 and m[30, 1] == 0.0
    assert abs(m.sum() - 0.5 * 16 * 16) < 0.25 * 128  # fillPoly also sets the edge pixels
