"""The body fit to keypoints recovers a known motion seen by a hand-held camera."""

import numpy as np
import pytest

from anr_studio.body import joint_index, load_body
from anr_studio.capture.video_fit.bodyfit import FitConfig, fit_body, standing_height
from anr_studio.capture.video_fit.landmarks import LAYOUTS, head_vertices, landmark_map
from tests.capture.video_synthetic import joint_error, synthetic_clip
from anr_studio.errors import AnrError

FAST = FitConfig()


@pytest.fixture(scope="module")
def clip():
    return synthetic_clip(16, seed=0)


@pytest.fixture(scope="module")
def fit2d(clip):
    return fit_body(clip.keypoints, clip.confidence, clip.image_size, clip.layout, config=FAST)


def test_fit_from_2d_keypoints_lands_on_the_joints(clip, fit2d):
    err = joint_error(fit2d.pose, fit2d.transl, fit2d.betas, clip.joints_camera)
    assert np.median(err) < 0.06  # metres, roots aligned
    assert np.nanmedian(fit2d.reprojection_px) < 4.0  # noise is 2 px
    assert fit2d.pose.shape == (16, 24, 3) and fit2d.transl.shape == (16, 3) and fit2d.betas.shape == (10,)
    assert abs(fit2d.K[0, 0] / clip.focal - 1) < 0.3


def test_fit_bends_knees_and_elbows_only_the_natural_way(fit2d):
    assert (fit2d.pose[:, joint_index("left_knee"), 0] > -0.05).all()
    assert (fit2d.pose[:, joint_index("right_knee"), 0] > -0.05).all()
    assert (fit2d.pose[:, joint_index("left_elbow"), 1] < 0.05).all()
    assert (fit2d.pose[:, joint_index("right_elbow"), 1] > -0.05).all()


def test_3d_keypoints_and_a_known_focal_length_help(clip, fit2d):
    fit = fit_body(clip.keypoints, clip.confidence, clip.image_size, clip.layout, keypoints3d=clip.keypoints3d,
                   focal=clip.focal, config=FAST)
    err3 = np.median(joint_error(fit.pose, fit.transl, fit.betas, clip.joints_camera))
    assert err3 < 0.03
    assert fit.K[0, 0] == pytest.approx(clip.focal)


def test_mediapipe_layout_maps_face_hands_and_feet():
    body = load_body()
    lm = landmark_map("mediapipe33", body)
    names = [LAYOUTS["mediapipe33"][i] for i in lm.keypoints.tolist()]
    assert {"nose", "left_ear", "left_foot_index", "right_index"} <= set(names)
    heads = head_vertices(body)
    v = body.v_template
    assert v[heads["left_ear"], 0] > 0.05 > -0.05 > v[heads["right_ear"], 0]  # the body's left is +x
    assert v[heads["nose"], 2] > v[heads["left_eye"], 2]


def test_mediapipe_keypoints_sit_off_the_joints_and_move_with_the_bone_ending_there():
    import torch

    from anr_studio.capture.video_fit.bodyfit import body_keypoints

    body = load_body()
    mp, coco = landmark_map("mediapipe33", body), landmark_map("coco17", body)
    at = {LAYOUTS["mediapipe33"][k]: i for i, k in enumerate(mp.keypoints.tolist())}
    pose = torch.zeros(3, 24, 3)
    pose[1, joint_index("left_collar"), 2] = np.pi / 2  # the collar turns the shoulder's top towards the body's left
    pose[2, joint_index("left_shoulder"), 0] = 1.0  # the upper arm alone swings forward
    with torch.no_grad():
        pts, joints = body_keypoints(body, mp, pose, torch.zeros(10), torch.zeros(3, 3))
        coco_pts, _ = body_keypoints(body, coco, pose, torch.zeros(10), torch.zeros(3, 3))
    left, right = joint_index("left_shoulder"), joint_index("right_shoulder")
    # at rest, MediaPipe's shoulders sit on top of the joints and outward, mirrored left and right
    assert (pts[0, at["left_shoulder"]] - joints[0, left]).tolist() == pytest.approx([0.01, 0.024, 0.0], abs=1e-5)
    assert (pts[0, at["right_shoulder"]] - joints[0, right]).tolist() == pytest.approx([-0.01, 0.024, 0.0], abs=1e-5)
    assert (pts[1, at["left_shoulder"]] - joints[1, left]).tolist() == pytest.approx([-0.024, 0.01, 0.0], abs=1e-5)
    assert (pts[2, at["left_shoulder"]] - joints[2, left]).tolist() == pytest.approx([0.01, 0.024, 0.0], abs=1e-5)
    hip = joint_index("left_hip")
    assert float(pts[0, at["left_hip"], 1] - joints[0, hip, 1]) < -0.01  # lower than the hip joint
    # the COCO layout keeps its keypoints on the joints
    coco_shoulder = coco.keypoints.tolist().index(LAYOUTS["coco17"].index("left_shoulder"))
    assert torch.allclose(coco_pts[:, coco_shoulder], joints[:, left], atol=1e-6)


def test_3d_keypoints_too_shallow_and_of_another_size_still_help():
    # A network's 3D keypoints: an average person's size (0.85 of this tall person's) and depths
    # too shallow (0.4 of the truth). Their limbs' directions still tell which way each limb
    # points in depth; taken as positions they bent the limbs towards the image plane (7.3 cm).
    clip = synthetic_clip(16, seed=3, body_height=1.9, layout="mediapipe33")
    fits = [fit_body(clip.keypoints, clip.confidence, clip.image_size, clip.layout, keypoints3d=k3, height=1.9,
                     config=FAST) for k3 in (None, clip.keypoints3d * np.float32([0.85, 0.85, 0.4]))]
    err2d, err3d = (np.median(joint_error(f.pose, f.transl, f.betas, clip.joints_camera)) for f in fits)
    assert err3d < 0.03 and err3d < err2d  # metres, roots aligned (measured 2.3 and 3.0 cm)


def _stature(betas) -> float:
    import torch

    return float(standing_height(load_body(), len(betas))(torch.as_tensor(betas)))


def test_the_given_height_sets_the_size_and_3d_keypoints_of_another_size_do_not():
    # A short person (1.5 m) whose 3D keypoints come sized for an average one (1.15 times the truth),
    # as a network's are: the given height sizes the body, the 3D keypoints only shape the pose.
    clip = synthetic_clip(16, seed=3, body_height=1.5)
    assert _stature(clip.betas) == pytest.approx(1.5, abs=0.01)
    fit = fit_body(clip.keypoints, clip.confidence, clip.image_size, clip.layout, keypoints3d=1.15 * clip.keypoints3d,
                   height=1.5, config=FAST)
    assert _stature(fit.betas) == pytest.approx(1.5, abs=0.02)
    assert np.median(joint_error(fit.pose, fit.transl, fit.betas, clip.joints_camera)) < 0.04
    # without the height, the size is the priors' guess: further off
    free = fit_body(clip.keypoints, clip.confidence, clip.image_size, clip.layout, keypoints3d=1.15 * clip.keypoints3d,
                    config=FAST)
    assert abs(_stature(free.betas) - 1.5) > 0.1


def test_bad_keypoints_are_refused():
    with pytest.raises(AnrError, match="height: 3.5 m"):
        fit_body(np.zeros((4, 17, 2)), np.ones((4, 17)), (720, 1280), "coco17", height=3.5)
    with pytest.raises(AnrError, match="expected \\(N,L,2\\)"):
        fit_body(np.zeros((4, 17, 3)), np.ones((4, 17)), (720, 1280), "coco17")
    with pytest.raises(AnrError, match="finite"):
        fit_body(np.full((4, 17, 2), np.nan), np.ones((4, 17)), (720, 1280), "coco17")
    with pytest.raises(AnrError, match="unknown layout"):
        fit_body(np.zeros((4, 17, 2)), np.ones((4, 17)), (720, 1280), "openpose25")
