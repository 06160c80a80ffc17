"""Test-time pose refinement: a perturbed pose is pulled back to the one whose silhouette the mask shows."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from anr_studio.avatar.refine import PoseRefinement, refine_poses, silhouette_motion
from anr_studio.errors import AnrError
from anr_studio.render import PerspectiveCamera, rasterize
from tests.standin import standin_body, untrained_avatar
from tests.train.helpers import camera_for

JOINTS = [0, 16, 17, 18]


# 768 px: the person is about 720 px tall, refined cropped and shrunk to a third.
@pytest.fixture(scope="module", params=[64, 768])
def scene(request):
    size = (request.param, request.param)
    body = standin_body()
    K, R, t = (torch.from_numpy(a)[None] for a in camera_for(size))
    camera = PerspectiveCamera(K, R, t)
    true = torch.zeros(2, 24, 3)
    true[:, 16, 2], true[:, 17, 2] = -0.9, 0.9  # arms lowered
    true[1, 0, 1] = 0.5
    with torch.no_grad():
        mask = rasterize(body(pose=true).vertices, body.faces, camera, size).mask.unsqueeze(1).float()
    start = true.clone()
    start[:, JOINTS] += torch.tensor([[0.0, 0.0, 0.1], [0.0, 0.0, 0.12], [0.0, 0.0, -0.12], [0.0, 0.0, 0.15]])  # in the image plane
    return body, camera, true, mask, start, torch.tensor([[0.03, -0.02, 0.0]]).repeat(2, 1)


def _iou(body, camera, pose, transl, mask):
    with torch.no_grad():
        drawn = rasterize(body(pose=pose, transl=transl).vertices, body.faces, camera, mask.shape[-2:]).mask.unsqueeze(1)
    return float((drawn & (mask > 0)).sum() / (drawn | (mask > 0)).sum())


def test_a_perturbed_pose_is_pulled_back_to_the_masks_silhouette(scene):
    body, camera, true, mask, start, transl = scene
    pose, refined_transl = refine_poses(body, start, None, transl, camera, mask, PoseRefinement(steps=60))
    before = (start - true)[:, JOINTS].norm(dim=-1)
    after = (pose - true)[:, JOINTS].norm(dim=-1)
    # At 768 px, as near as a fit of the full frame (0.55 of the error left), not as coarse as at 64 px (0.61).
    assert after.mean() < (0.6 if mask.shape[-1] > 64 else 0.7) * before.mean(), (before, after)
    assert refined_transl.norm(dim=1).max() < 0.8 * transl.norm(dim=1).min()
    assert _iou(body, camera, pose, refined_transl, mask) > _iou(body, camera, start, transl, mask) + 0.25
    # Joints the silhouette cannot see (the hands' twist here) are held by the prior.
    torch.testing.assert_close(pose[:, 22:], start[:, 22:], atol=0.02, rtol=0)


def test_silhouette_motion_is_the_screen_motion_of_the_outline(scene):
    body, camera, true, mask, _, _ = scene
    shift = torch.zeros(1, 3, requires_grad=True)
    vertices = body(pose=true[:1], transl=shift).vertices
    fragments = rasterize(vertices, body.faces, camera, mask.shape[-2:])
    motion = silhouette_motion(fragments, vertices, body.faces, camera)
    assert float(motion.detach().abs().max()) == 0.0  # zero-valued: it only carries the gradient
    mask = fragments.mask.unsqueeze(1).float()
    band = int((F.max_pool2d(mask, 3, 1, 1) + F.max_pool2d(-mask, 3, 1, 1) > 0).sum())
    along_x = torch.autograd.grad(motion[:, 0].sum(), shift, retain_graph=True)[0][0]
    along_y = torch.autograd.grad(motion[:, 1].sum(), shift)[0][0]
    # Each band pixel moves focal / depth pixels per metre; the body stands 3 m from the camera,
    # whose x is the world's x and whose y is the world's -y.
    per_metre = float(camera.K[0, 0, 0]) / 3.0
    assert 0.9 < float(along_x[0]) / (per_metre * band) < 1.1
    assert 0.9 < -float(along_y[1]) / (per_metre * band) < 1.1
    assert abs(float(along_x[1])) < 0.05 * float(along_x[0])


def test_avatar_refine_poses_checks_its_inputs(scene):
    body, camera, true, mask, start, transl = scene
    avatar = untrained_avatar(body, identities=("A",))
    masks = (mask[:, 0].numpy() * 255).astype(np.uint8)
    pose, refined_transl = avatar.refine_poses("A", masks, start.numpy(), transl.numpy(), camera,
                                               config=PoseRefinement(steps=3))
    assert pose.shape == (2, 24, 3) and refined_transl.shape == (2, 3) and pose.dtype == np.float32
    assert not np.allclose(pose, start.numpy())
    with pytest.raises(AnrError, match="pose has shape"):
        avatar.refine_poses("A", masks, start[:1].numpy(), transl.numpy(), camera)
    with pytest.raises(AnrError, match="unknown identity"):
        avatar.refine_poses("B", masks, start.numpy(), transl.numpy(), camera)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_the_silhouette_gradient_on_cuda_is_the_cpu_one(scene):
    # CUDA's avg_pool2d returns wrong gradients for channels_last inputs; the motion image is a permuted view.
    body, camera, true, mask, start, transl = scene
    grads, tf32 = [], torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False  # exact skinning (a trainer in this process may have turned TF32 on)
    for device in ("cpu", "cuda"):
        dev_body, dev_camera = body.to(device), camera.to(device=device)
        d_pose = torch.zeros_like(start, device=device, requires_grad=True)
        vertices = dev_body(pose=start.to(device) + d_pose, transl=transl.to(device)).vertices
        fragments = rasterize(vertices, dev_body.faces, dev_camera, mask.shape[-2:])
        motion = silhouette_motion(fragments, vertices, dev_body.faces, dev_camera)
        weight = torch.linspace(-1, 1, motion.numel(), device=device).view(motion.shape)
        grads.append(torch.autograd.grad((motion * weight).sum(), d_pose)[0].cpu())
    body.to("cpu")
    torch.backends.cuda.matmul.allow_tf32 = tf32
    assert float((grads[0] - grads[1]).norm() / grads[0].norm()) < 1e-3
