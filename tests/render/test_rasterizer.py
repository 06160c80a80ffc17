"""rasterize() against the slow numpy reference, plus batching, chunking, devices and bad inputs."""

from __future__ import annotations

import types

import numpy as np
import pytest
import torch

from anr_studio.errors import AnrError
from anr_studio.render import PerspectiveCamera, WeakPerspectiveCamera, orbit_camera, rasterize, render_body_maps
from tests.render.reference import reference_rasterize


def _compare(fragments, vertices, faces, camera, size, index=0, min_agree=0.995):
    """Asserts view ``index`` of ``fragments`` matches the reference; returns the covered fraction.

    Where both cover a pixel but pick different faces, the two faces must be at the same depth
    (intersecting parts: a float32 vs float64 tie), so the depth images agree everywhere.
    """
    ref_id, ref_bary, ref_depth = reference_rasterize(vertices.numpy(), faces.numpy(), camera, size, index=index)
    face_id = fragments.face_id[index].cpu().numpy()
    either = (face_id >= 0) | (ref_id >= 0)
    assert either.any()
    agree = face_id == ref_id
    assert agree[either].mean() >= min_agree
    both_cover = (face_id >= 0) & (ref_id >= 0)
    np.testing.assert_allclose(fragments.depth[index].cpu().numpy()[both_cover], ref_depth[both_cover], rtol=1e-4, atol=1e-6)
    both = agree & (ref_id >= 0)
    # float32 projection error only (measured <= 3.7e-5 here); a rounded centroid as the plane origin gave 1.8e-4.
    np.testing.assert_allclose(fragments.bary[index].cpu().numpy()[both], ref_bary[both], atol=1e-4, rtol=0)
    np.testing.assert_allclose(fragments.depth[index].cpu().numpy()[both], ref_depth[both], rtol=1e-5, atol=1e-6)
    assert (fragments.bary[index][fragments.face_id[index] < 0] == 0).all()
    assert (fragments.depth[index][fragments.face_id[index] < 0] == 0).all()
    return float((ref_id >= 0).mean())


@pytest.mark.parametrize("azimuth,elevation", [(0.0, 0.0), (35.0, 20.0), (180.0, -30.0), (90.0, 89.0)])
def test_matches_reference_perspective(scene, azimuth, elevation):
    size = (72, 56)
    camera = orbit_camera(azimuth, elevation, 3.2, target=(0.0, 0.95, 0.0), image_size=size, fov_deg=40)
    fragments = rasterize(scene.vertices, scene.faces, camera, size)
    assert fragments.face_id.shape == (1, *size) and fragments.face_id.dtype == torch.long
    assert fragments.bary.shape == (1, *size, 3) and fragments.depth.shape == (1, *size)
    assert _compare(fragments, scene.vertices[0], scene.faces, camera, size) > 0.05


def test_matches_reference_weak_perspective(scene):
    size = (64, 64)
    camera = WeakPerspectiveCamera(scale=torch.tensor([36.0]), offset=torch.tensor([[32.0, 64.0]]))
    fragments = rasterize(scene.vertices, scene.faces, camera, size)
    assert _compare(fragments, scene.vertices[0], scene.faces, camera, size) > 0.1


def test_near_plane_and_camera_inside_the_mesh(sphere):
    # The camera sits inside the sphere, near its surface: faces crossing the camera plane are
    # dropped whole (same rule as the reference), the rest is seen from inside.
    size = (40, 48)
    camera = orbit_camera(0.0, 0.0, 0.35, target=(0.0, 0.9, 0.0), image_size=size, fov_deg=90)
    fragments = rasterize(sphere.vertices, sphere.faces, camera, size)
    assert _compare(fragments, sphere.vertices[0], sphere.faces, camera, size) > 0.5


def test_closed_mesh_has_no_cracks(sphere):
    # Every pixel centre inside the sphere's silhouette (analytic) must be covered.
    size = (96, 96)
    camera = orbit_camera(10.0, 5.0, 2.5, target=(0.0, 0.9, 0.0), image_size=size, fov_deg=30)
    fragments = rasterize(sphere.vertices, sphere.faces, camera, size)
    # Rays through pixel centres that pass well inside the inscribed radius must hit the mesh.
    ys, xs = torch.meshgrid(torch.arange(size[0]) + 0.5, torch.arange(size[1]) + 0.5, indexing="ij")
    rays = torch.stack([xs, ys, torch.ones_like(xs)], -1) @ torch.linalg.inv(camera.K[0]).T
    rays = rays @ camera.R[0]  # camera -> world directions
    rays = rays / rays.norm(dim=-1, keepdim=True)
    to_center = sphere.center - camera.centers[0]
    miss = (torch.linalg.cross(rays, to_center.expand_as(rays)).norm(dim=-1))
    inside = miss < sphere.radius * 0.97
    assert inside.sum() > 500
    assert fragments.mask[0][inside].all()


def test_batch_matches_single_views(scene):
    size = (48, 40)
    camera = orbit_camera(torch.tensor([0.0, 60.0, -120.0]), torch.tensor([0.0, 10.0, -10.0]), 3.0, image_size=size)
    moved = scene.vertices + torch.tensor([[[0.0, 0.0, 0.0]], [[0.05, 0.0, 0.0]], [[0.0, -0.1, 0.2]]])
    batched = rasterize(moved, scene.faces, camera, size)
    for i in range(3):
        single = rasterize(moved[i : i + 1], scene.faces, camera[i], size)
        assert torch.equal(single.face_id[0], batched.face_id[i])
        torch.testing.assert_close(single.bary[0], batched.bary[i])
    # A batch-1 camera broadcasts over a batch of bodies.
    shared = rasterize(moved, scene.faces, camera[0], size)
    assert torch.equal(shared.face_id[0], batched.face_id[0])
    assert not torch.equal(shared.face_id[1], batched.face_id[1])


def test_chunking_gives_identical_results(scene):
    size = (64, 48)
    camera = orbit_camera(30.0, 10.0, 3.0, image_size=size)
    whole = rasterize(scene.vertices, scene.faces, camera, size)
    chunked = rasterize(scene.vertices, scene.faces, camera, size, max_pairs=257)
    assert torch.equal(whole.face_id, chunked.face_id)
    assert torch.equal(whole.bary, chunked.bary)


def test_nearest_face_wins_and_ties_go_to_lower_index():
    size = (8, 8)
    quad = torch.tensor([[-1.0, -1.0, 0.0], [1.0, -1.0, 0.0], [1.0, 1.0, 0.0], [-1.0, 1.0, 0.0]])
    vertices = torch.cat([quad, quad + torch.tensor([0.0, 0.0, 0.5]), quad]).unsqueeze(0)
    faces = torch.tensor([[0, 1, 2], [0, 2, 3], [4, 5, 6], [4, 6, 7], [8, 9, 10], [8, 10, 11]])
    camera = WeakPerspectiveCamera(scale=torch.tensor([2.0]), offset=torch.tensor([[4.0, 4.0]]))
    # Depth is -z: the quad at z = 0.5 (faces 2, 3) is nearer than the two coincident quads at z = 0.
    fragments = rasterize(vertices, faces, camera, size)
    covered = fragments.face_id[0][2:6, 2:6]
    assert set(covered.unique().tolist()) <= {2, 3}
    torch.testing.assert_close(fragments.depth[0][2:6, 2:6], torch.full((4, 4), -0.5))
    fragments = rasterize(vertices, faces[[0, 1, 4, 5]], camera, size)
    assert set(fragments.face_id[0][2:6, 2:6].unique().tolist()) <= {0, 1}
    assert (fragments.face_id[0][:2] == -1).all()


def test_pixel_centres_are_at_half_integers():
    # A tiny triangle around the centre of pixel (row 5, col 3) covers that pixel only;
    # the same triangle around the pixel corner (5.0, 3.0) covers no pixel centre.
    K = torch.tensor([[10.0, 0.0, 0.0], [0.0, 10.0, 0.0], [0.0, 0.0, 1.0]])
    camera = PerspectiveCamera(K, torch.eye(3), torch.zeros(3))

    def triangle_at(u, v, r=0.3):
        pts = torch.tensor([[u - r, v - r], [u + r, v - r], [u, v + r]])
        return torch.cat([pts / 10.0, torch.ones(3, 1)], 1).unsqueeze(0)

    faces = torch.tensor([[0, 1, 2]])
    hit = rasterize(triangle_at(3.5, 5.5), faces, camera, (10, 10))
    assert hit.mask[0].sum() == 1 and bool(hit.mask[0, 5, 3])
    torch.testing.assert_close(hit.depth[0, 5, 3], torch.tensor(1.0))
    miss = rasterize(triangle_at(3.0, 5.0), faces, camera, (10, 10))
    assert miss.mask.sum() == 0


def test_no_faces_gives_background(sphere):
    fragments = rasterize(sphere.vertices, torch.zeros((0, 3), dtype=torch.long), orbit_camera(0, 0, 3, image_size=(8, 8)), (8, 8))
    assert (fragments.face_id == -1).all()


@pytest.fixture
def tf32_on():
    # The trainer enables TF32 matmuls; the render path must not lose precision to them.
    before = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = True
    yield
    torch.backends.cuda.matmul.allow_tf32 = before


def _assert_same_fragments(a, b, min_agree=0.999):
    """Asserts two rasterizations agree on >= min_agree of the pixels and their barycentrics/depths where they do."""
    same = a.face_id.cpu() == b.face_id.cpu()
    assert same.float().mean() >= min_agree
    torch.testing.assert_close(a.bary.cpu()[same], b.bary.cpu()[same], atol=1e-4, rtol=0)
    torch.testing.assert_close(a.depth.cpu()[same], b.depth.cpu()[same], atol=1e-5, rtol=1e-5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("weak", [False, True])
def test_cuda_matches_cpu(scene, tf32_on, weak):
    size = (128, 96)
    if weak:
        camera = WeakPerspectiveCamera(scale=torch.tensor([60.0, 45.0]), offset=torch.tensor([[48.0, 120.0], [40.0, 100.0]]))
    else:
        camera = orbit_camera(torch.tensor([15.0, 200.0]), 10.0, 3.0, image_size=size)
    vertices = scene.vertices.expand(2, -1, -1)
    cpu = rasterize(vertices, scene.faces, camera, size)
    # Default CUDA path (the Triton kernels where Triton exists), and the torch path, which a
    # max_pairs argument selects (chunked here). Near-ties may resolve differently between them.
    gpu = rasterize(vertices.cuda(), scene.faces.cuda(), camera.to("cuda"), size)
    torch_path = rasterize(vertices.cuda(), scene.faces.cuda(), camera.to("cuda"), size, max_pairs=1000)
    for fragments in (gpu, torch_path):
        assert fragments.face_id.is_cuda and fragments.bary.is_cuda and fragments.covered_pixels().is_cuda
        _assert_same_fragments(cpu, fragments)
        assert (fragments.depth[fragments.face_id < 0] == 0).all() and (fragments.bary[fragments.face_id < 0] == 0).all()
    # The interpolators on the device.
    body = types.SimpleNamespace(faces=scene.faces.cuda(), face_uvs=scene.face_uvs.cuda())
    maps = render_body_maps(body, vertices.cuda(), camera.to("cuda"), size)
    cpu_maps = render_body_maps(types.SimpleNamespace(faces=scene.faces, face_uvs=scene.face_uvs), vertices, camera, size)
    both = maps.fragments.face_id.cpu() == cpu_maps.fragments.face_id
    torch.testing.assert_close(maps.uv.cpu()[both], cpu_maps.uv[both], atol=1e-4, rtol=0)
    torch.testing.assert_close(maps.normals.cpu().permute(0, 2, 3, 1)[both], cpu_maps.normals.permute(0, 2, 3, 1)[both], atol=1e-4, rtol=0)
    torch.testing.assert_close(maps.mask.cpu(), maps.fragments.mask.unsqueeze(1).float().cpu())


@pytest.mark.parametrize(
    "change,match",
    [
        (lambda v, f, c, s: (v[0], f, c, s), "vertices has shape"),
        (lambda v, f, c, s: (v.clone().index_fill_(1, torch.tensor([3]), float("nan")), f, c, s), "NaN"),
        (lambda v, f, c, s: (v, f + v.shape[1], c, s), "faces index vertices"),
        (lambda v, f, c, s: (v, f[:, :2], c, s), "faces has shape"),
        (lambda v, f, c, s: (v, f.float(), c, s), "faces is"),
        (lambda v, f, c, s: (v, f, "camera", s), "camera is"),
        (lambda v, f, c, s: (v.expand(2, -1, -1), f, orbit_camera([0, 1, 2], 0, 3), s), "camera has batch"),
        (lambda v, f, c, s: (v, f, c, (0, 8)), "image_size"),
        (lambda v, f, c, s: (v, f, c, 8), "image_size"),
        (lambda v, f, c, s: (v.long(), f, c, s), "float tensor"),
    ],
)
def test_bad_inputs_raise_anr_error(sphere, change, match):
    args = change(sphere.vertices, sphere.faces, orbit_camera(0, 0, 3, image_size=(8, 8)), (8, 8))
    with pytest.raises(AnrError, match=match):
        rasterize(*args)
