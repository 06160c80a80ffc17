"""Keyframe selection (ANR paper, section 3.4): training frames that together see the whole body.

Greedy set cover over the UV texels and the silhouette faces each frame's coarse body shows (the
outline is where the person leaves the coarse mesh, so each part must be seen in profile); coverage
is cumulative, against everything all training frames see together.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Callable

import numpy as np

from anr_studio.errors import AnrError

GRID = 128
SILHOUETTE_WEIGHT = 0.5
DEFAULT_FRACTION = 0.1
# Fewer keyframes than this cannot cover front, back and sides; tiny captures get at least this.
MIN_KEYFRAMES = 4
# Faces are tested for visibility at this image size (the longer side), whatever the capture's size:
# at low resolutions small faces hit or miss pixel centres by chance.
RASTER = 256


@dataclass
class KeyframeSelection:
    """Keyframes and their cumulative coverage."""

    indices: np.ndarray  # (k,) frame indices in the order they were picked
    coverage: np.ndarray  # (k,) share of all training frames' texels that the first i+1 keyframes see
    silhouette_coverage: np.ndarray  # (k,) the same for silhouette faces
    budget: int  # keyframes asked for; k < budget when coverage was complete earlier


def texel_faces(body, grid: int = GRID) -> tuple[np.ndarray, np.ndarray]:
    """Returns (texel (P,), face (P,)) int64 pairs: texel ``row * grid + col`` (row 0 is v = 1) has its
    centre in that face's UV triangle; a face too small to hold a centre gets the texel under its centroid."""
    fu = body.face_uvs.detach().cpu().double().numpy()  # (F, 3, 2)
    x = fu[..., 0] * grid
    y = (1.0 - fu[..., 1]) * grid
    nf = len(fu)
    c0 = np.clip(np.ceil(x.min(1) - 0.5), 0, grid - 1).astype(np.int64)
    c1 = np.clip(np.floor(x.max(1) - 0.5), 0, grid - 1).astype(np.int64)
    r0 = np.clip(np.ceil(y.min(1) - 0.5), 0, grid - 1).astype(np.int64)
    r1 = np.clip(np.floor(y.max(1) - 0.5), 0, grid - 1).astype(np.int64)
    nc, nr = np.maximum(c1 - c0 + 1, 0), np.maximum(r1 - r0 + 1, 0)
    face = np.repeat(np.arange(nf), nc * nr)
    k = np.arange(len(face)) - np.repeat(np.cumsum(nc * nr) - nc * nr, nc * nr)
    col = c0[face] + k % np.maximum(nc[face], 1)
    row = r0[face] + k // np.maximum(nc[face], 1)
    px, py = col + 0.5, row + 0.5
    xa, ya = x[face], y[face]

    def edge(i, j):
        return (xa[:, j] - xa[:, i]) * (py - ya[:, i]) - (ya[:, j] - ya[:, i]) * (px - xa[:, i])

    e0, e1, e2 = edge(0, 1), edge(1, 2), edge(2, 0)
    eps = 1e-9
    inside = ((e0 >= -eps) & (e1 >= -eps) & (e2 >= -eps)) | ((e0 <= eps) & (e1 <= eps) & (e2 <= eps))
    texel, face = row[inside] * grid + col[inside], face[inside]
    missing = np.setdiff1d(np.arange(nf), face)
    if len(missing):
        cx = np.clip(np.floor(x[missing].mean(1)), 0, grid - 1).astype(np.int64)
        cy = np.clip(np.floor(y[missing].mean(1)), 0, grid - 1).astype(np.int64)
        texel, face = np.concatenate([texel, cy * grid + cx]), np.concatenate([face, missing])
    return texel, face


def frame_coverage(capture, frames, body, grid: int = GRID, batch: int = 8,
                   progress: Callable[[int, int], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Returns (texels (n, T) bool, silhouette (n, F) bool) seen by each of ``frames`` (n,): texels of the UV
    layout on a visible face, and the visible faces on the outline of the coarse mask."""
    import cv2
    import torch

    from anr_studio.capture.check import posed_body
    from anr_studio.render import PerspectiveCamera, rasterize

    faces = body.faces.detach().cpu()
    texel, texel_face = texel_faces(body, grid)
    used, texel = np.unique(texel, return_inverse=True)  # texel -> column among the used texels
    h, w = capture.image_size
    s = RASTER / max(h, w)
    size = (max(1, round(h * s)), max(1, round(w * s)))
    scale = torch.diag(torch.tensor([size[1] / w, size[0] / h, 1.0]))
    n, nf = len(frames), faces.shape[0]
    texels = np.zeros((n, len(used)), bool)
    outline = np.zeros((n, nf), bool)
    kernel = np.ones((3, 3), np.uint8)
    for start in range(0, n, batch):
        posed, (K, R, t) = posed_body(capture, frames[start:start + batch], body)
        with torch.no_grad():
            face_id = rasterize(posed.vertices, faces, PerspectiveCamera(scale @ K, R, t), size).face_id
        for b, fid in enumerate(face_id.numpy()):
            seen = np.zeros(nf + 1, bool)
            seen[fid.reshape(-1) + 1] = True  # index 0 is the background
            texels[start + b, texel[seen[1:][texel_face]]] = True
            mask = (fid >= 0).astype(np.uint8)
            edge = (mask - cv2.erode(mask, kernel)).astype(bool)
            outline[start + b, np.unique(fid[edge])] = True
        if progress is not None:
            progress(min(start + batch, n), n)
    return texels, outline


def greedy_cover(texels: np.ndarray, silhouette: np.ndarray, budget: int,
                 silhouette_weight: float = SILHOUETTE_WEIGHT) -> tuple[list[int], np.ndarray, np.ndarray]:
    """Returns (picked rows, texel coverage (k,), silhouette coverage (k,)) of a greedy set cover of what
    each candidate sees (``texels`` (n, T), ``silhouette`` (n, F) bool): each step adds the largest gain
    ``new texels / all texels + w * new outline / all outline``, up to ``budget`` picks."""
    total_t = max(int(texels.any(0).sum()), 1)
    total_s = max(int(silhouette.any(0).sum()), 1)
    have_t = np.zeros(texels.shape[1], bool)
    have_s = np.zeros(silhouette.shape[1], bool)
    picked: list[int] = []
    cov_t, cov_s = [], []
    for _ in range(min(budget, len(texels))):
        gain = (texels & ~have_t).sum(1) / total_t + silhouette_weight * (silhouette & ~have_s).sum(1) / total_s
        gain[picked] = -1.0
        best = int(np.argmax(gain))
        if gain[best] <= 0:
            break
        picked.append(best)
        have_t |= texels[best]
        have_s |= silhouette[best]
        cov_t.append(have_t.sum() / total_t)
        cov_s.append(have_s.sum() / total_s)
    return picked, np.asarray(cov_t, np.float32), np.asarray(cov_s, np.float32)


def keyframe_budget(num_train: int, fraction: float = DEFAULT_FRACTION) -> int:
    """Returns how many keyframes to pick: ``ceil(fraction * num_train)``, at least MIN_KEYFRAMES (<= num_train)."""
    return min(num_train, max(MIN_KEYFRAMES, math.ceil(fraction * num_train)))


def select_keyframes(path: str | os.PathLike, fraction: float = DEFAULT_FRACTION, *, grid: int = GRID,
                     body=None, write: bool = True,
                     progress: Callable[[int, int], None] | None = None) -> KeyframeSelection:
    """Returns the keyframes of the capture at ``path`` (training frames only, posed on ``body``, default the
    capture's own) and, if ``write``, stores them."""
    from anr_studio.capture import Capture

    if not 0.0 < fraction <= 1.0:
        raise AnrError(f"keyframes: fraction is {fraction}, expected a share of the training frames in (0, 1]")
    cap = Capture(path)
    train = np.asarray(cap.split("train"), np.int64)
    if len(train) == 0:
        raise AnrError(f"{path}: split/train is empty, expected training frames to pick keyframes from")
    if body is None:
        from anr_studio.capture.check import capture_body

        body = capture_body(cap)
    texels, outline = frame_coverage(cap, train, body, grid, progress=progress)
    budget = keyframe_budget(len(train), fraction)
    picked, cov_t, cov_s = greedy_cover(texels, outline, budget)
    result = KeyframeSelection(train[picked], cov_t, cov_s, budget)
    if write:
        cap.write_keyframes(result.indices, result.coverage)
    cap.close()
    return result
