"""Per-face colours for the viewport's mesh, free of Qt: a UV checker and an identity's neural texture.

``face_uvs`` (F,3,2): u right, v up in [0,1], as the renderer samples (grid y = 1 - 2v, row 0 is v = 1).
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


def checker_face_colors(face_uvs) -> np.ndarray:
    """Returns (F,4) float32 RGBA face colours: a 16x16 UV checkerboard sampled at each face's UV centroid."""
    c = _check_face_uvs(face_uvs).mean(1)
    parity = (np.floor(c[:, 0] * 16) + np.floor(c[:, 1] * 16)).astype(np.int64) % 2
    return np.array([(0.92, 0.92, 0.92, 1.0), (0.25, 0.45, 0.85, 1.0)], np.float32)[parity]


def _face_samples(order: int) -> np.ndarray:
    """Returns (K,3) barycentric weights of a triangle's order-``order`` grid: corners, edge points, interior."""
    grid = [(i, j, order - i - j) for i in range(order + 1) for j in range(order + 1 - i)]
    return np.asarray(grid, np.float32) / order


def face_pairs(faces) -> np.ndarray:
    """Returns (E,2) int64 pairs of faces sharing an edge of the 3D mesh ``faces`` (F,3) (UV seams do not separate)."""
    f = np.asarray(faces.detach().cpu() if isinstance(faces, torch.Tensor) else faces, np.int64)
    if f.ndim != 2 or f.shape[1] != 3:
        raise AnrError(f"face colours: faces has shape {f.shape}, expected (F, 3) vertex indices")
    edges = np.sort(np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]), axis=1)
    owner = np.tile(np.arange(len(f)), 3)
    order = np.lexsort((edges[:, 1], edges[:, 0]))
    edges, owner = edges[order], owner[order]
    same = np.all(edges[1:] == edges[:-1], axis=1)  # an edge listed twice joins its two faces
    return np.stack([owner[:-1][same], owner[1:][same]], 1)


def smooth_face_features(features: np.ndarray, pairs: np.ndarray, rounds: int) -> np.ndarray:
    """Returns (F,C) ``features`` after ``rounds`` of averaging each face with its edge neighbours (``pairs``)."""
    out = np.asarray(features, np.float64)
    count = np.ones(len(out))
    np.add.at(count, pairs.ravel(), 1.0)
    for _ in range(rounds):
        total = out.copy()
        np.add.at(total, pairs[:, 0], out[pairs[:, 1]])
        np.add.at(total, pairs[:, 1], out[pairs[:, 0]])
        out = total / count[:, None]
    return out.astype(np.float32)


def neural_face_colors(texture: torch.Tensor, face_uvs, faces=None, smooth: int = 0) -> np.ndarray:
    """Returns (F,4) float32 RGBA in [0,1]: a (C,S,S) neural texture's PCA false colour on each face.

    Each face's features are the texture's mean at an order-6 barycentric grid over its UV triangle;
    ``smooth`` rounds of averaging with edge neighbours (``faces`` (F,3)) hide leftover initialisation speckle.
    The PCA is of the face features, so texels off the islands do not take the principal directions.
    """
    if not isinstance(texture, torch.Tensor) or texture.ndim != 3:
        shape = tuple(texture.shape) if hasattr(texture, "shape") else type(texture).__name__
        raise AnrError(f"face colours: neural texture has shape {shape}, expected (C, S, S)")
    uvs = _check_face_uvs(face_uvs)
    points = np.einsum("kc,fcd->fkd", _face_samples(6), uvs)  # (F,K,2) UVs inside each face
    grid = torch.from_numpy(np.stack([2.0 * points[..., 0] - 1.0, 1.0 - 2.0 * points[..., 1]], -1))[None]
    tex = texture.detach().float().cpu()[None]
    features = F.grid_sample(tex, grid, mode="bilinear", padding_mode="border", align_corners=False)[0].mean(-1).T  # (F,C)
    if faces is not None and smooth > 0:
        pairs = face_pairs(faces)
        if pairs.size and pairs.max() >= len(uvs):
            raise AnrError(f"face colours: faces index {pairs.max() + 1} faces, expected {len(uvs)} like face_uvs")
        features = torch.from_numpy(smooth_face_features(features.numpy(), pairs, smooth))
    rgb = pca_false_colour(features)
    return np.concatenate([rgb, np.ones((len(rgb), 1))], 1).astype(np.float32)


def mask_face_weights(mask: np.ndarray, face_uvs) -> np.ndarray:
    """Returns (F,) float32 in [0,1]: the try-on mask (S,S) (row 0 is v = 1) averaged over each face's UV triangle."""
    uvs = _check_face_uvs(face_uvs)
    m = np.asarray(mask, np.float32)
    s = m.shape[0]
    pts = np.einsum("kc,fcd->fkd", _face_samples(3), uvs)  # (F,K,2)
    col = np.clip((pts[..., 0] * s).astype(np.int64), 0, s - 1)
    row = np.clip(((1.0 - pts[..., 1]) * s).astype(np.int64), 0, s - 1)
    return m[row, col].mean(1)


def tint_face_colors(base: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Returns (F,4) RGBA: ``base`` (F,4) face colours blended towards orange by 0.75 x ``weights`` (F,)."""
    out = np.array(base, np.float32, copy=True)
    w = (np.clip(np.asarray(weights, np.float32), 0.0, 1.0) * 0.75)[:, None]
    out[:, :3] = out[:, :3] * (1.0 - w) + np.array([1.0, 0.47, 0.16], np.float32) * w
    return out
