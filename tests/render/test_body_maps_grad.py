"""Body maps differentiable in pose and translation: gradients against finite differences, and a pose pulled home."""

from __future__ import annotations

import torch

from anr_studio.render import PerspectiveCamera, differentiable_bary, orbit_camera, rasterize, render_body_maps
from tests.standin import standin_body
from tests.train.helpers import camera_for, tiny_body


def _camera(size, dtype=torch.float32):
    K, R, t = (torch.from_numpy(a).to(dtype)[None] for a in camera_for(size))
    return PerspectiveCamera(K, R, t)


def test_recomputed_barycentrics_equal_the_rasterizers(scene):
    size = (40, 32)
    camera = orbit_camera(torch.tensor([20.0, 200.0]), 10.0, 3.0, image_size=size)
    vertices = scene.vertices.expand(2, -1, -1)
    fragments = rasterize(vertices, scene.faces, camera, size)
    recomputed = differentiable_bary(fragments, vertices.double(), scene.faces, camera)
    assert recomputed.bary.dtype == torch.float64 and fragments.mask.sum() > 300
    torch.testing.assert_close(recomputed.bary.float(), fragments.bary, atol=2e-4, rtol=0)
    assert recomputed.face_id is fragments.face_id


def test_uv_and_normals_match_finite_differences_in_pose_and_translation():
    body = tiny_body().double()
    camera = _camera((24, 24), torch.float64)
    pose = torch.zeros(1, 24, 3, dtype=torch.float64)
    pose[0, 0] = torch.tensor([0.1, 0.4, -0.05])
    transl = torch.tensor([[0.02, -0.01, 0.03]], dtype=torch.float64)
    covered = render_body_maps(body, body(pose=pose, transl=transl).vertices, camera, (24, 24)).mask[0, 0] > 0
    assert 60 < int(covered.sum()) < 400

    def maps(root, transl):
        posed = torch.cat([root.view(1, 1, 3), pose[:, 1:]], dim=1)
        m = render_body_maps(body, body(pose=posed, transl=transl).vertices, camera, (24, 24))
        return m.uv[0][covered], m.normals[0][:, covered]

    inputs = (pose[0, 0].clone().requires_grad_(True), transl.clone().requires_grad_(True))
    assert torch.autograd.gradcheck(maps, inputs, eps=1e-6, atol=1e-5, rtol=1e-3)


def test_a_wrong_pose_is_pulled_towards_the_true_one_by_the_uv_image():
    body = standin_body()
    size = (64, 64)
    camera = _camera(size)
    true_pose = torch.zeros(1, 24, 3)
    true_pose[0, 16, 2], true_pose[0, 17, 2] = -0.9, 0.9  # arms lowered
    true_pose[0, 0, 1] = 0.3
    with torch.no_grad():
        target = render_body_maps(body, body(pose=true_pose).vertices, camera, size)
    start = true_pose.clone()
    start[0, [0, 16, 17, 18]] += torch.tensor([[0.0, 0.12, 0.0], [0.0, 0.0, 0.15], [0.0, 0.0, -0.15], [0.0, 0.0, 0.2]])
    delta = torch.zeros(1, 24, 3, requires_grad=True)
    transl = torch.tensor([[0.03, -0.02, 0.0]], requires_grad=True)
    optimizer = torch.optim.Adam([delta, transl], lr=0.01)
    for _ in range(80):
        maps = render_body_maps(body, body(pose=start + delta, transl=transl).vertices, camera, size)
        both = (maps.mask * target.mask)[:, 0].unsqueeze(-1)
        loss = ((maps.uv - target.uv).abs() * both).sum() / both.sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    joints = [0, 16, 17, 18]
    before = (start - true_pose)[0, joints].norm(dim=-1)
    after = (start + delta.detach() - true_pose)[0, joints].norm(dim=-1)
    assert (after < 0.5 * before).all(), (before, after)
    assert transl.detach().norm() < 0.5 * torch.tensor([0.03, -0.02]).norm()
