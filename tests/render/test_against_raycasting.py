"""rasterize() against an independent implementation: trimesh ray casting (Embree) of the same mesh and camera."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
import trimesh

from anr_studio.render import WeakPerspectiveCamera, interpolate_uv, orbit_camera, rasterize

ray_pyembree = pytest.importorskip("trimesh.ray.ray_pyembree")


def _cast(mesh, origins, directions):
    """Returns (face (N,) with -1 for misses, hit locations (N,3)) of the first hit per ray."""
    intersector = ray_pyembree.RayMeshIntersector(mesh)
    tri, ray, loc = intersector.intersects_id(origins, directions, multiple_hits=False, return_locations=True)
    face = np.full(len(origins), -1, dtype=np.int64)
    hits = np.zeros((len(origins), 3))
    face[ray] = tri
    hits[ray] = loc
    return face, hits


def _pixel_grid(size):
    ys, xs = np.meshgrid(np.arange(size[0]) + 0.5, np.arange(size[1]) + 0.5, indexing="ij")
    return xs.reshape(-1), ys.reshape(-1)


def _perspective_rays(camera, size):
    K, R, t = (x[0].double().numpy() for x in (camera.K, camera.R, camera.t))
    xs, ys = _pixel_grid(size)
    directions = np.stack([xs, ys, np.ones_like(xs)], 1) @ np.linalg.inv(K).T @ R  # R^T applied row-wise
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    origins = np.broadcast_to(-R.T @ t, directions.shape).copy()
    return origins, directions


def _orthographic_rays(camera, size):
    scale = float(camera.scale[0])
    ox, oy = (float(v) for v in camera.offset[0])
    xs, ys = _pixel_grid(size)
    origins = np.stack([(xs - ox) / scale, -(ys - oy) / scale, np.full_like(xs, 10.0)], 1)
    directions = np.tile([0.0, 0.0, -1.0], (len(xs), 1))
    return origins, directions


def _check(scene, camera, size, rays):
    mesh = trimesh.Trimesh(scene.mesh.vertices, scene.mesh.faces, process=False)
    ray_face, hits = _cast(mesh, *rays)
    ray_face = ray_face.reshape(size)
    fragments = rasterize(scene.vertices, scene.faces, camera, size)
    face_id = fragments.face_id[0].numpy()
    either = (face_id >= 0) | (ray_face >= 0)
    agree = face_id == ray_face
    debug_dir = os.environ.get("ANR_TEST_DEBUG_DIR")  # set it to look at a failing comparison
    if debug_dir and agree[either].mean() < 0.995:
        from PIL import Image

        Path(debug_dir).mkdir(parents=True, exist_ok=True)
        rgb = np.stack([face_id >= 0, ray_face >= 0, either & ~agree], -1).astype(np.uint8) * 255
        Image.fromarray(rgb).save(Path(debug_dir) / f"raycast_mismatch_{size[0]}x{size[1]}_{abs(hash(str(camera.__dict__))) % 10000}.png")
    assert either.sum() > 0.1 * either.size
    assert agree[either].mean() >= 0.995, f"face ids agree on {agree[either].mean():.4f} of covered pixels"

    # UVs where the faces agree: ours from the rasterizer's barycentrics, theirs from the hit point.
    both = (agree & (face_id >= 0)).reshape(-1)
    tri = mesh.vertices[mesh.faces[ray_face.reshape(-1)[both]]]
    bary = trimesh.triangles.points_to_barycentric(tri, hits[both])
    face_uvs = scene.face_uvs.double().numpy()[ray_face.reshape(-1)[both]]
    uv_theirs = np.einsum("nk,nkc->nc", bary, face_uvs)
    grid = interpolate_uv(fragments, scene.face_uvs)[0].reshape(-1, 2)[both].double().numpy()
    uv_ours = np.stack([(grid[:, 0] + 1.0) / 2.0, (1.0 - grid[:, 1]) / 2.0], 1)
    assert np.abs(uv_ours - uv_theirs).max() < 1e-3


@pytest.mark.parametrize("azimuth,elevation", [(0.0, 0.0), (-50.0, 15.0), (160.0, -20.0)])
def test_perspective_matches_ray_casting(scene, azimuth, elevation):
    size = (120, 96)
    camera = orbit_camera(azimuth, elevation, 3.0, target=(0.0, 0.95, 0.05), image_size=size, fov_deg=38)
    _check(scene, camera, size, _perspective_rays(camera, size))


def test_weak_perspective_matches_orthographic_ray_casting(scene):
    size = (100, 90)
    camera = WeakPerspectiveCamera(scale=torch.tensor([55.0]), offset=torch.tensor([[45.0, 100.0]]))
    _check(scene, camera, size, _orthographic_rays(camera, size))


def _default_body_scene():
    from anr_studio.body.model import DEFAULT_BODY_PATH, BodyModel

    if not DEFAULT_BODY_PATH.is_file():
        pytest.skip("resources/body/anr_body.safetensors not built yet")
    body = BodyModel.default()
    pose = torch.zeros(1, 24, 3)
    pose[0, 18, 1] = -1.3  # left elbow bent
    pose[0, 17, 2] = -0.8  # right shoulder raised
    pose[0, 4, 0] = 1.2  # left knee bent
    pose[0, 1, 0] = -0.6  # left hip forward
    vertices = body(pose=pose).vertices.detach()
    mesh = trimesh.Trimesh(vertices[0].double().numpy(), body.faces.numpy(), process=False)
    import types

    return types.SimpleNamespace(mesh=mesh, vertices=vertices, faces=body.faces, face_uvs=body.face_uvs)


@pytest.mark.parametrize("azimuth", [0.0, 120.0])
def test_default_body_matches_ray_casting(azimuth):
    body_scene = _default_body_scene()
    size = (128, 96)
    camera = orbit_camera(azimuth, 10.0, 3.4, target=(0.0, 0.9, 0.0), image_size=size, fov_deg=35)
    _check(body_scene, camera, size, _perspective_rays(camera, size))
    # The body is closed and wound outward: what the camera sees faces it (n_z < 0).
    from anr_studio.render import render_body_maps

    maps = render_body_maps(body_scene, body_scene.vertices, camera, size)
    facing = maps.normals[0, 2][maps.mask[0, 0] > 0]
    assert (facing < 0).float().mean() > 0.95
