"""Per-face colours for the viewport's mesh, free of Qt: a UV checker and an identity's neural texture.

Both read the body's ``face_uvs`` (F,3,2) with u right and v up in [0,1], the convention the
renderer samples textures with (``interpolate_uv``: grid x = 2u - 1, grid y = 1 - 2v, so texture
row 0 is v = 1).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from anr_studio.avatar.export import pca_false_colour
from anr_studio.errors import AnrError


def _check_face_uvs(face_uvs) -> np.ndarray:
    """Returns ``face_uvs`` (array or tensor) as (F,3,2) float32; AnrError for any other shape."""
    uvs = np.asarray(face_uvs.detach().cpu() if isinstance(face_uvs, torch.Tensor) else face_uvs, np.float32)
    if uvs.ndim != 3 or uvs.shape[1:] != (3, 2):
        raise AnrError(f"face colours: face_uvs has shape {uvs.shape}, expected (F, 3, 2) UVs in [0, 1]")
    return uvs


def checker_face_colors(face_uvs, cells: int = 16) -> np.ndarray:
    """Returns (F,4) float32 RGBA face colours: a UV checkerboard sampled at each face's UV centroid."""
    c = _check_face_uvs(face_uvs).mean(1)
    parity = (np.floor(c[:, 0] * cells) + np.floor(c[:, 1] * cells)).astype(np.int64) % 2
    colors = np.empty((len(c), 4), np.float32)
    colors[:] = (0.92, 0.92, 0.92, 1.0)
    colors[parity == 1] = (0.25, 0.45, 0.85, 1.0)
    return colors


def _face_samples(order: int) -> np.ndarray:
    """Returns (K,3) barycentric weights of a triangle's order-``order`` grid: corners, edge points, interior."""
    grid = [(i, j, order - i - j) for i in range(order + 1) for j in range(order + 1 - i)]
    return np.asarray(grid, np.float32) / order


def neural_face_colors(texture: torch.Tensor, face_uvs, order: int = 6) -> np.ndarray:
    """Returns (F,4) float32 RGBA in [0,1]: a (C,S,S) neural texture's PCA false colour on each face.

    Each face's C features are the mean of the texture sampled bilinearly (as the renderer samples
    it) at an order-``order`` barycentric grid over its UV triangle (order 6: 28 points, corners and
    centroid included). The false colour is the PCA of those face features, not of all texels:
    texels outside the UV islands and per-texel noise would otherwise take the principal directions.
    """
    if not isinstance(texture, torch.Tensor) or texture.ndim != 3:
        shape = tuple(texture.shape) if hasattr(texture, "shape") else type(texture).__name__
        raise AnrError(f"face colours: neural texture has shape {shape}, expected (C, S, S)")
    uvs = _check_face_uvs(face_uvs)
    points = np.einsum("kc,fcd->fkd", _face_samples(order), uvs)  # (F,K,2) UVs inside each face
    grid = torch.from_numpy(np.stack([2.0 * points[..., 0] - 1.0, 1.0 - 2.0 * points[..., 1]], -1))[None]
    tex = texture.detach().float().cpu()[None]
    features = F.grid_sample(tex, grid, mode="bilinear", padding_mode="border", align_corners=False)[0].mean(-1).T  # (F,C)
    rgb = pca_false_colour(features)
    return np.concatenate([rgb, np.ones((len(rgb), 1))], 1).astype(np.float32)
