"""UV image, normal image and render_body_maps: analytic scenes with known answers."""

from __future__ import annotations

import types

import pytest
import torch
import torch.nn.functional as F

from anr_studio.errors import AnrError
from anr_studio.render import (
    BACKGROUND_UV,
    WeakPerspectiveCamera,
    interpolate_normals,
    interpolate_uv,
    orbit_camera,
    rasterize,
    render_body_maps,
    vertex_normals,
)


def _unit_quad(lo=0.0, hi=1.0):
    """Returns (vertices (1,4,3), faces (2,3), face_uvs (2,3,2)) of the square [lo,hi]^2 at z = 0, u = x, v = y (rescaled)."""
    corners = torch.tensor([[lo, lo, 0.0], [hi, lo, 0.0], [hi, hi, 0.0], [lo, hi, 0.0]])
    uv = (corners[:, :2] - lo) / (hi - lo)
    faces = torch.tensor([[0, 1, 2], [0, 2, 3]])
    return corners.unsqueeze(0), faces, uv[faces]


def test_uv_image_reads_a_texture_back_pixel_for_pixel():
    # The quad fills a 16x16 image exactly, so each pixel centre is a texel centre and
    # grid_sample(align_corners=False) must return the texture itself: row 0 is v = 1.
    vertices, faces, face_uvs = _unit_quad()
    camera = WeakPerspectiveCamera(scale=torch.tensor([16.0]), offset=torch.tensor([[0.0, 16.0]]))
    fragments = rasterize(vertices, faces, camera, (16, 16))
    uv = interpolate_uv(fragments, face_uvs)
    assert uv.shape == (1, 16, 16, 2)
    texture = torch.rand(1, 4, 16, 16, generator=torch.Generator().manual_seed(0))
    sampled = F.grid_sample(texture, uv, mode="bilinear", padding_mode="zeros", align_corners=False)
    torch.testing.assert_close(sampled, texture, atol=1e-4, rtol=0)


def test_uv_is_perspective_correct():
    # A tilted plane in perspective: the UV at each pixel equals the ray-plane intersection.
    vertices, faces, face_uvs = _unit_quad(-1.0, 1.0)
    size = (48, 64)
    camera = orbit_camera(50.0, 25.0, 2.5, target=(0.0, 0.0, 0.0), image_size=size, fov_deg=60)
    fragments = rasterize(vertices, faces, camera, size)
    uv = interpolate_uv(fragments, face_uvs)[0]
    ys, xs = torch.meshgrid(torch.arange(size[0]) + 0.5, torch.arange(size[1]) + 0.5, indexing="ij")
    rays = torch.stack([xs, ys, torch.ones_like(xs)], -1) @ torch.linalg.inv(camera.K[0]).T @ camera.R[0]
    origin = camera.centers[0]
    hit = origin + rays * (-origin[2] / rays[..., 2]).unsqueeze(-1)  # intersect z = 0
    expected = torch.stack([hit[..., 0], -hit[..., 1]], -1)  # gx = 2u - 1 = x, gy = 1 - 2v = -y
    mask = fragments.mask[0]
    assert mask.sum() > 300
    torch.testing.assert_close(uv[mask], expected[mask], atol=2e-4, rtol=0)
    assert (uv[~mask] == BACKGROUND_UV).all()


def test_uv_image_is_differentiable_in_face_uvs(sphere):
    face_uvs = torch.rand(sphere.faces.shape[0], 3, 2, requires_grad=True)
    fragments = rasterize(sphere.vertices, sphere.faces, orbit_camera(0, 0, 3, image_size=(24, 24)), (24, 24))
    interpolate_uv(fragments, face_uvs).sum().backward()
    assert face_uvs.grad is not None and face_uvs.grad.abs().sum() > 0


def test_vertex_normals_of_a_sphere_are_radial(sphere):
    normals = vertex_normals(sphere.vertices, sphere.faces)[0]
    radial = F.normalize(sphere.vertices[0] - sphere.center, dim=-1)
    assert (normals * radial).sum(-1).min() > 0.999
    torch.testing.assert_close(normals.norm(dim=-1), torch.ones(len(normals)))


def test_normal_image_of_a_sphere(sphere):
    size = (64, 64)
    camera = orbit_camera(30.0, 20.0, 2.2, target=(0.0, 0.9, 0.0), image_size=size, fov_deg=30)
    fragments = rasterize(sphere.vertices, sphere.faces, camera, size)
    normals = interpolate_normals(fragments, sphere.vertices, sphere.faces, camera)[0]
    assert normals.shape == (3, *size)
    mask = fragments.mask[0]
    assert (normals[:, ~mask] == 0).all()
    torch.testing.assert_close(normals[:, mask].norm(dim=0), torch.ones(int(mask.sum())))
    # Expected: the radial direction at the surface point behind each pixel, in camera space.
    ys, xs = torch.meshgrid(torch.arange(size[0]) + 0.5, torch.arange(size[1]) + 0.5, indexing="ij")
    rays = torch.stack([xs, ys, torch.ones_like(xs)], -1) @ torch.linalg.inv(camera.K[0]).T
    points_cam = rays * fragments.depth[0].unsqueeze(-1)
    center_cam = camera.R[0] @ sphere.center + camera.t[0]
    expected = F.normalize(points_cam - center_cam, dim=-1).permute(2, 0, 1)
    cosine = (normals * expected).sum(0)[mask]
    assert cosine.min() > 0.99  # smooth normals follow the sphere, not its facets
    assert (normals[2][mask] < 0.05).all()  # facing the camera: n_z points back towards it


def test_normal_image_weak_perspective(sphere):
    camera = WeakPerspectiveCamera(scale=torch.tensor([40.0]), offset=torch.tensor([[20.0, 56.0]]))
    fragments = rasterize(sphere.vertices, sphere.faces, camera, (40, 40))
    normals = interpolate_normals(fragments, sphere.vertices, sphere.faces, camera)[0]
    # The sphere's front pole (world +z) faces the camera: camera-space normal (0, 0, -1).
    centre = normals[:, 20, 20]
    assert float(centre[2]) < -0.99
    top = normals[:, 5, 20]  # near the top of the sphere the normal points up = image -y
    assert float(top[1]) < -0.5


def test_render_body_maps_on_a_small_body(scene):
    body = types.SimpleNamespace(faces=scene.faces, face_uvs=scene.face_uvs)
    camera = orbit_camera(torch.tensor([0.0, 90.0]), 0.0, 3.0, image_size=(40, 32))
    vertices = scene.vertices.expand(2, -1, -1)
    maps = render_body_maps(body, vertices, camera, (40, 32))
    assert maps.uv.shape == (2, 40, 32, 2)
    assert maps.normals.shape == (2, 3, 40, 32)
    assert maps.mask.shape == (2, 1, 40, 32) and maps.mask.dtype == torch.float32
    torch.testing.assert_close(maps.mask[:, 0], maps.fragments.mask.float())
    assert (maps.uv[maps.mask[:, 0] == 0] == BACKGROUND_UV).all()
    assert (maps.uv[maps.mask[:, 0] == 1].abs() <= 1.0 + 1e-4).all()
    torch.testing.assert_close(maps.uv, interpolate_uv(maps.fragments, scene.face_uvs))
    assert 0.05 < float(maps.mask.mean()) < 0.6


def test_render_body_maps_rejects_a_body_without_uvs(scene, tmp_path):
    from anr_studio.body import BodyModel
    from tests.body.synthetic import save_npz, smpl_arrays

    no_uvs = BodyModel.from_smpl(save_npz(tmp_path / "smpl.npz", smpl_arrays(num_vertices=50, num_betas=2)))
    with pytest.raises(AnrError, match="has no UVs"):
        render_body_maps(no_uvs, no_uvs(torch.zeros(1, 24, 3)).vertices, orbit_camera(0, 0, 3), (8, 8))
    bad = types.SimpleNamespace(faces=scene.faces, face_uvs=scene.face_uvs[:-1])
    with pytest.raises(AnrError, match="face_uvs has shape"):
        render_body_maps(bad, scene.vertices, orbit_camera(0, 0, 3), (8, 8))


def test_interpolation_does_not_depend_on_the_cached_pixel_list(scene):
    camera = orbit_camera(20.0, 5.0, 3.0, image_size=(32, 24))
    fragments = rasterize(scene.vertices.double().requires_grad_(True), scene.faces, camera, (32, 24))
    assert fragments.bary.dtype == torch.float32 and not fragments.bary.requires_grad
    torch.testing.assert_close(fragments.covered, torch.nonzero(fragments.face_id.reshape(-1) >= 0).squeeze(1))
    bare = type(fragments)(fragments.face_id, fragments.bary, fragments.depth)
    torch.testing.assert_close(interpolate_uv(bare, scene.face_uvs), interpolate_uv(fragments, scene.face_uvs))
    torch.testing.assert_close(
        interpolate_normals(bare, scene.vertices, scene.faces, camera), interpolate_normals(fragments, scene.vertices, scene.faces, camera)
    )


def test_dense_interpolation_equals_the_covered_pixel_path(monkeypatch):
    # CUDA interpolates every pixel (no nonzero, no host sync, capturable in a CUDA graph); the CPU
    # only the covered ones. Forced dense on the CPU, the same arithmetic must give the same images.
    import anr_studio.render.interpolate as interpolate

    vertices, faces, face_uvs = _unit_quad(-1.0, 1.0)
    vertices = torch.cat([vertices, vertices + torch.tensor([0.3, 0.1, 0.2])])
    camera = orbit_camera(torch.tensor([20.0, -35.0]), 15.0, 3.0, target=(0.0, 0.0, 0.0), image_size=(24, 32))
    fragments = rasterize(vertices, faces, camera, (24, 32))
    assert fragments.num_faces == 2 and 0 < int(fragments.mask.sum()) < fragments.mask.numel()
    results = {}
    for dense in (False, True):
        monkeypatch.setattr(interpolate, "_dense", lambda fragments, dense=dense: dense)
        uvs = face_uvs.clone().requires_grad_()
        uv = interpolate_uv(fragments, uvs)
        (grad,) = torch.autograd.grad((uv * torch.linspace(-1, 1, uv.numel()).view_as(uv)).sum(), uvs)
        results[dense] = (uv.detach(), grad, interpolate_normals(fragments, vertices, faces, camera))
    for sparse, dense in zip(results[False], results[True]):
        torch.testing.assert_close(dense, sparse, atol=1e-6, rtol=0)
    assert (results[True][0][~fragments.mask] == BACKGROUND_UV).all()


def test_rasterize_rechecks_faces_changed_in_place():
    # A faces tensor's index range is read back once and remembered per tensor version.
    vertices, faces, _ = _unit_quad()
    camera = WeakPerspectiveCamera(scale=torch.tensor([16.0]), offset=torch.tensor([[0.0, 16.0]]))
    rasterize(vertices, faces, camera, (16, 16))
    faces[1, 2] = 7
    with pytest.raises(AnrError, match=r"faces index vertices 0\.\.7, expected 0\.\.3"):
        rasterize(vertices, faces, camera, (16, 16))
