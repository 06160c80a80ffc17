"""The Triton kernels of ``raster_triton`` run on the CPU through Triton's interpreter.

No GPU is needed: ``TRITON_INTERPRET=1`` makes ``@triton.jit`` run the kernels in numpy, with
the same coefficient table the CUDA path reads. This catches the kernels and ``_face_setup``
drifting apart (layout or formula changes) on machines without CUDA, where the Triton path
otherwise never runs.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch
import trimesh

from anr_studio.render import WeakPerspectiveCamera, orbit_camera, rasterize
from anr_studio.render import rasterizer
from tests.render.reference import reference_rasterize

triton = pytest.importorskip("triton")
# Triton 3.6's interpreter passes scalar kernel arguments as numpy arrays, and the kernel's
# `range(0, bh, TILE_H)` fails there ("only 0-dimensional arrays can be converted"); compiled
# kernels on CUDA are fine (tests/render/test_rasterizer.py -k cuda). 3.8 interprets it; 3.7 untested.
if tuple(int(x) for x in triton.__version__.split(".")[:2]) < (3, 8):
    pytest.skip(f"Triton {triton.__version__}'s interpreter cannot run the raster kernel (needs >= 3.8)",
                allow_module_level=True)


@pytest.fixture(scope="module")
def interpreted_raster(tmp_path_factory):
    """Returns raster_triton from a private copy of the module, compiled while TRITON_INTERPRET=1."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TRITON_INTERPRET", "1")
        # A fresh module object: the normal import (CUDA path) keeps its compiled kernels.
        spec = importlib.util.spec_from_file_location("_raster_triton_interpreted", rasterizer.__file__.replace("rasterizer.py", "raster_triton.py"))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return module.raster_triton


def _triton_fragments(raster, vertices, faces, camera, size):
    """Returns (face_id (B,H,W), bary (B,H,W,3), depth (B,H,W)) of the Triton path on CPU tensors."""
    height, width = size
    perspective = bool(camera.is_perspective)
    pixels, depth = camera.project(vertices)
    coeffs, bbox = rasterizer._face_setup(pixels, depth, faces, perspective, height, width)
    face_id, bary, depth = raster(coeffs, bbox, vertices.shape[0], faces.shape[0], height, width, perspective, rasterizer._INSIDE_EPS)
    batch = vertices.shape[0]
    return face_id.view(batch, height, width), bary.view(batch, height, width, 3), depth.view(batch, height, width)


@pytest.mark.parametrize("weak", [False, True])
def test_triton_kernels_match_torch_path_and_reference(interpreted_raster, weak):
    # A sphere of 80 faces partly hidden by an icosahedron in front of it, batch of two views;
    # ~200 kernel programs, which the interpreter runs in about two seconds.
    sphere = trimesh.creation.icosphere(subdivisions=1, radius=0.3)
    front = trimesh.creation.icosphere(subdivisions=0, radius=0.2).apply_translation((0.25, 0.1, 0.3))
    mesh = trimesh.util.concatenate([sphere, front])
    vertices = torch.tensor(mesh.vertices, dtype=torch.float32).unsqueeze(0).expand(2, -1, -1)
    faces = torch.tensor(mesh.faces, dtype=torch.long)
    size = (20, 24)
    if weak:
        camera = WeakPerspectiveCamera(scale=torch.tensor([16.0, 13.0]), offset=torch.tensor([[11.0, 10.0], [12.0, 9.5]]))
    else:
        camera = orbit_camera(torch.tensor([20.0, 200.0]), torch.tensor([10.0, -15.0]), 1.3, target=(0.1, 0.05, 0.1), image_size=size, fov_deg=50)
    face_id, bary, depth = _triton_fragments(interpreted_raster, vertices, faces, camera, size)
    torch_path = rasterize(vertices, faces, camera, size)

    # Same face ids (a near-tie may differ: the kernel tests pixels, the torch path computes row spans).
    same = face_id == torch_path.face_id
    assert same.float().mean() >= 0.99 and (face_id >= 0).sum() > 120
    both = same & (face_id >= 0)
    torch.testing.assert_close(bary[both], torch_path.bary[both], atol=2e-6, rtol=0)
    torch.testing.assert_close(depth[both], torch_path.depth[both], atol=1e-6, rtol=1e-6)
    assert (bary[face_id < 0] == 0).all() and (depth[face_id < 0] == 0).all()
    # Against the float64 reference: barycentrics of the projected float32 triangle, so the
    # error is that of projecting in float32 (not 1e-3 as a misread coefficient row would give).
    for view in range(2):
        ref_id, ref_bary, ref_depth = reference_rasterize(vertices[0].numpy(), faces.numpy(), camera, size, index=view)
        match = (face_id[view].numpy() == ref_id) & (ref_id >= 0)
        assert match.sum() >= 0.99 * (ref_id >= 0).sum()
        np.testing.assert_allclose(bary[view].numpy()[match], ref_bary[match], atol=1e-4, rtol=0)
        np.testing.assert_allclose(depth[view].numpy()[match], ref_depth[match], rtol=1e-5, atol=1e-6)
