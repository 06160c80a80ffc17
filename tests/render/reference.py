"""A slow, obviously-correct rasterizer in numpy (float64, one face at a time): the tests' reference.

It shares no code with ``rasterizer.py``: it projects with its own arithmetic and keeps a
depth buffer the textbook way. Same conventions: pixel centres at integer + 0.5, a centre on an
edge belongs to the face, nearer depth wins and on equal depth the lower face index wins,
faces with a corner at or before the near plane are skipped, barycentrics are perspective-correct.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from anr_studio.render.cameras import PerspectiveCamera, WeakPerspectiveCamera
from anr_studio.render.rasterizer import DEFAULT_ZNEAR

__all__ = ["reference_rasterize", "reference_project"]


def reference_project(vertices: np.ndarray, camera, index: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Returns (pixels (V,2), depth (V,)) in float64 for world ``vertices (V,3)`` seen by view ``index``."""
    v = np.asarray(vertices, dtype=np.float64)
    if isinstance(camera, PerspectiveCamera):
        i = index if camera.batch_size > 1 else 0
        K = camera.K[i].detach().cpu().double().numpy()
        R = camera.R[i].detach().cpu().double().numpy()
        t = camera.t[i].detach().cpu().double().numpy()
        cam = v @ R.T + t
        z = cam[:, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            u = K[0, 0] * cam[:, 0] / z + K[0, 1] * cam[:, 1] / z + K[0, 2]
            w = K[1, 1] * cam[:, 1] / z + K[1, 2]
        return np.stack([u, w], axis=1), z
    if isinstance(camera, WeakPerspectiveCamera):
        i = index if camera.batch_size > 1 else 0
        s = float(camera.scale[i])
        ox, oy = (float(x) for x in camera.offset[i])
        return np.stack([s * v[:, 0] + ox, -s * v[:, 1] + oy], axis=1), -v[:, 2]
    raise TypeError(f"unsupported camera {type(camera).__name__}")


def reference_rasterize(
    vertices: np.ndarray,
    faces: np.ndarray,
    camera,
    image_size: Sequence[int],
    index: int = 0,
    znear: float = DEFAULT_ZNEAR,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Returns (face_id (H,W) int64 with -1 background, bary (H,W,3), depth (H,W)) for one view.

    vertices: (V,3) world positions; faces: (F,3); camera: a PerspectiveCamera or
    WeakPerspectiveCamera whose view ``index`` is used.
    """
    height, width = (int(s) for s in image_size)
    faces = np.asarray(faces, dtype=np.int64)
    pixels, depth = reference_project(vertices, camera, index)
    perspective = isinstance(camera, PerspectiveCamera)

    face_id = np.full((height, width), -1, dtype=np.int64)
    bary = np.zeros((height, width, 3))
    zbuf = np.full((height, width), np.inf)
    for f, (i0, i1, i2) in enumerate(faces):
        z = depth[[i0, i1, i2]]
        if perspective and np.any(z <= znear):
            continue
        (x0, y0), (x1, y1), (x2, y2) = pixels[i0], pixels[i1], pixels[i2]
        area2 = (x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0)
        if not np.isfinite(area2) or abs(area2) < 1e-9:
            continue
        cols = np.arange(max(0, int(np.ceil(min(x0, x1, x2) - 0.5))), min(width - 1, int(np.floor(max(x0, x1, x2) - 0.5))) + 1)
        rows = np.arange(max(0, int(np.ceil(min(y0, y1, y2) - 0.5))), min(height - 1, int(np.floor(max(y0, y1, y2) - 0.5))) + 1)
        if cols.size == 0 or rows.size == 0:
            continue
        px, py = np.meshgrid(cols + 0.5, rows + 0.5)
        # Screen barycentrics: each corner's weight is the signed area of the opposite sub-triangle.
        s0 = ((x1 - px) * (y2 - py) - (x2 - px) * (y1 - py)) / area2
        s1 = ((x2 - px) * (y0 - py) - (x0 - px) * (y2 - py)) / area2
        s2 = ((x0 - px) * (y1 - py) - (x1 - px) * (y0 - py)) / area2
        inside = (s0 >= -1e-9) & (s1 >= -1e-9) & (s2 >= -1e-9)
        if perspective:
            w = np.stack([s0 / z[0], s1 / z[1], s2 / z[2]], axis=-1)
            pix_depth = 1.0 / w.sum(axis=-1)
            pix_bary = w * pix_depth[..., None]
        else:
            pix_bary = np.stack([s0, s1, s2], axis=-1)
            pix_depth = pix_bary @ z
        rr, cc = np.meshgrid(rows, cols, indexing="ij")
        nearer = inside & (pix_depth < zbuf[rr, cc])
        zbuf[rr[nearer], cc[nearer]] = pix_depth[nearer]
        face_id[rr[nearer], cc[nearer]] = f
        bary[rr[nearer], cc[nearer]] = pix_bary[nearer]
    zbuf[face_id < 0] = 0.0
    return face_id, bary, zbuf
