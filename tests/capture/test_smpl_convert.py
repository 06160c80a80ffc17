"""SMPL fits land on the person: converted to the built-in body, or stored with the user's SMPL file."""

from __future__ import annotations

import hashlib

import cv2
import numpy as np
import pytest
import torch

from anr_studio.body import BodyModel
from anr_studio.capture.importers import import_capture
from anr_studio.capture.smpl_convert import SMPL_REST_JOINTS, convert_smpl_fit, smpl_joints
from anr_studio.errors import AnrError
from tests.capture.smpl_like import write_smpl_like

# 720p, a phone-like focal length, the person 3 to 5 m away (a camera-frame fit: identity extrinsics)
K720 = np.array([[1000.0, 0, 640], [0, 1000.0, 360], [0, 0, 1]])


def _fits(n: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    pose = rng.normal(0, 0.25, (n, 24, 3))
    pose[:, 0] = rng.normal(0, 0.3, (n, 3))
    pose[:, 0, 0] += np.pi  # camera frame: y down, so the fit turns the body upside down
    trans = np.stack([rng.uniform(-0.5, 0.5, n), rng.uniform(0, 0.4, n), rng.uniform(3, 5, n)], 1)
    return pose, trans, rng.normal(0, 1, 10)


def _project(points):
    x = points @ K720.T
    return x[..., :2] / x[..., 2:]


def _pixel_errors(joints, reference):
    idx = [0, 4, 5, 7, 8, 16, 17]  # pelvis, knees, ankles, shoulders
    return np.linalg.norm(_project(joints[:, idx]) - _project(reference[:, idx]), axis=-1)


def test_converted_fits_put_the_joints_on_smpls(tmp_path):
    smpl = BodyModel.from_smpl(write_smpl_like(tmp_path / "smpl_like.npz"))
    ours = BodyModel.default()
    pose, trans, betas = _fits(60)
    f32 = lambda a: torch.as_tensor(np.asarray(a), dtype=torch.float32)  # noqa: E731
    with torch.no_grad():
        truth = smpl(f32(pose), f32(betas[None]), f32(trans)).joints.numpy()
        naive = ours(f32(pose), f32(betas[None]), f32(trans)).joints.numpy()  # SMPL's numbers on our body
        c = convert_smpl_fit(pose, trans, ours)
        converted = ours(f32(c["pose"]), f32(c["betas"][None]), f32(c["transl"])).joints.numpy()
    before, after = _pixel_errors(naive, truth), _pixel_errors(converted, truth)
    print(f"median 2D joint error at 720p: {np.median(before):.1f} px as given, {np.median(after):.1f} px converted")
    assert np.median(before) > 200  # the body lands about a metre off
    assert np.median(after) < 8 and np.percentile(after, 90) < 30
    # the shape is a person of SMPL's mean stature, standing on its soles
    with torch.no_grad():
        out = ours(torch.zeros(1, 24, 3), f32(c["betas"][None]))
    rest, joints = out.vertices[0], out.joints[0].numpy()
    assert 1.6 < float(rest[:, 1].max() - rest[:, 1].min()) < 1.8


def test_the_converted_shape_has_smpls_trunk_and_limbs():
    # The two pelvis joints are different points (the built-in one on the hip line): the shape
    # matches the distances between joints that are the same point of the body in both skeletons.
    ours = BodyModel.default()
    c = convert_smpl_fit(np.zeros((1, 24, 3)), np.zeros((1, 3)), ours)
    with torch.no_grad():
        joints = ours.rest_joints(torch.as_tensor(c["betas"][None]))[0].double().numpy()

    def trunk(j):  # hip line to shoulder line
        return np.linalg.norm((j[16] + j[17]) / 2 - (j[1] + j[2]) / 2)

    def leg(j):
        return np.linalg.norm(j[1] - j[4]) + np.linalg.norm(j[4] - j[7])

    # 6.5 cm short here (matching bone lengths through the pelvis left it 7.8 cm short): the built-in
    # shoulder joints sit lower on the body than SMPL's, which no shape of the built-in body changes.
    assert abs(trunk(joints) - trunk(SMPL_REST_JOINTS)) < 0.07
    assert abs(leg(joints) - leg(SMPL_REST_JOINTS)) < 0.04


def test_smpl_joints_follow_smpls_rest_skeleton(tmp_path):
    smpl = BodyModel.from_smpl(write_smpl_like(tmp_path / "smpl_like.npz"))
    pose, trans, _ = _fits(4)
    with torch.no_grad():
        ref = smpl(torch.as_tensor(pose, dtype=torch.float32), None, torch.as_tensor(trans, dtype=torch.float32)).joints
    np.testing.assert_allclose(smpl_joints(pose, trans), ref.numpy(), atol=1e-4)
    np.testing.assert_allclose(smpl.rest_joints()[0].numpy(), SMPL_REST_JOINTS, atol=1e-6)


def _folder(tmp_path, pose, trans, betas, h=72, w=128):
    src = tmp_path / "fits"
    (src / "images").mkdir(parents=True)
    for i in range(len(pose)):
        cv2.imwrite(str(src / "images" / f"{i:03d}.png"), np.full((h, w, 3), 40 * i, np.uint8))
    np.savez(src / "smpl.npz", poses=pose.reshape(len(pose), 72), trans=trans, betas=betas,
             K=np.array([[100.0, 0, 64], [0, 100.0, 36], [0, 0, 1]]), E=np.eye(4))
    return src


def test_import_with_the_smpl_file_keeps_smpls_parameters(tmp_path):
    model = write_smpl_like(tmp_path / "smpl_like.npz")
    pose, trans, betas = _fits(3)
    src = _folder(tmp_path, pose, trans, betas)
    cap = import_capture(src, tmp_path / "smpl.h5", body_model=model)
    assert cap.body_model_id == hashlib.sha256(model.read_bytes()).hexdigest()
    np.testing.assert_allclose(cap.pose(2), pose[2], atol=1e-6)
    np.testing.assert_allclose(cap.transl(1), trans[1], atol=1e-6)
    np.testing.assert_allclose(cap.betas, betas, atol=1e-6)
    default = import_capture(src, tmp_path / "ours.h5")
    assert default.body_model_id == "default" and len(default.betas) == BodyModel.default().num_betas
    assert np.abs(default.transl(0) - trans[0]).max() > 0.5  # our origin is at the soles


def test_import_refuses_a_smpl_file_with_too_few_betas(tmp_path):
    model = write_smpl_like(tmp_path / "smpl_like.npz")
    pose, trans, _ = _fits(2)
    src = _folder(tmp_path, pose, trans, np.ones(16))
    with pytest.raises(AnrError, match="has 10 shape coefficients, expected at least the 16"):
        import_capture(src, tmp_path / "x.h5", body_model=model)
    assert not (tmp_path / "x.h5").exists()


def test_contact_sheet_and_outside_share_pose_the_captures_own_body(tmp_path):
    from anr_studio.capture.check import coarse_masks
    from anr_studio.capture.check import OUTLINE_RGB, contact_sheet
    from benchmarks.synth_speed import outside_share

    model = write_smpl_like(tmp_path / "smpl_like.npz")
    smpl = BodyModel.from_smpl(model)
    pose, trans, betas = _fits(3)
    src = _folder(tmp_path, pose, trans, betas, h=360, w=640)
    np.savez(src / "smpl.npz", poses=pose.reshape(3, 72), trans=trans, betas=betas,
             K=np.array([[500.0, 0, 320], [0, 500.0, 180], [0, 0, 1]]), E=np.eye(4))
    silhouettes = coarse_masks(import_capture(src, tmp_path / "plain.h5", body_model=model), range(3), smpl)
    assert silhouettes.sum() > 100
    (src / "masks").mkdir()
    for i, m in enumerate(silhouettes):
        cv2.imwrite(str(src / "masks" / f"{i:03d}.png"), m.astype(np.uint8) * 255)
    cap = import_capture(src, tmp_path / "smpl.h5", body_model=model)
    # without the file the capture names, neither guesses the built-in body
    for draw in (lambda: contact_sheet(cap, count=3, columns=3, tile=360), lambda: outside_share(cap)):
        with pytest.raises(AnrError, match="expected the body model file it names"):
            draw()
    assert outside_share(cap, body=smpl) < 0.01 < 0.5 < outside_share(cap, body=BodyModel.default())
    sheet = contact_sheet(cap, count=3, columns=3, tile=360, body=smpl)
    outline = np.all(np.abs(sheet.astype(int) - OUTLINE_RGB) < 40, -1)
    near = cv2.dilate(np.concatenate(silhouettes, 1).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    assert outline.sum() > 20 and (outline & ~near).sum() == 0  # the outline hugs the SMPL body's silhouette
