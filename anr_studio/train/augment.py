"""Randomly rescaled and cropped training views of a frame with matching intrinsics (the body is rasterized
at the crop, so UVs and normals stay sharp)."""

from __future__ import annotations

import cv2
import numpy as np


def sample_view(rng: np.random.Generator, image_size: tuple[int, int], crop: int, rescale: tuple[float, float],
                centre: tuple[float, float] | None = None) -> tuple[float, tuple[int, int], tuple[int, int]]:
    """Returns (f uniform in ``rescale``, scaled size (h, w), crop offset (y0, x0) in the scaled image): the ``crop``
    window lies inside the scaled image (or covers it, padded), or around ``centre`` (y, x) ± a quarter of its side."""
    h, w = image_size
    f = float(rng.uniform(*rescale)) if rescale[1] > rescale[0] else float(rescale[0])
    sh, sw = max(1, round(h * f)), max(1, round(w * f))

    def offset(size: int) -> int:
        lo, hi = min(0, size - crop), max(0, size - crop)
        return int(rng.integers(lo, hi + 1))

    if centre is None:
        return f, (sh, sw), (offset(sh), offset(sw))
    shift = rng.uniform(-crop / 4, crop / 4, size=2)
    return f, (sh, sw), tuple(int(round(c * f - crop / 2 + d)) for c, d in zip(centre, shift))


def person_centre(mask: np.ndarray) -> tuple[float, float] | None:
    """Returns the centre (y, x) of the foreground's bounding box in a (H, W) uint8 mask, or None when it is empty."""
    ys = np.flatnonzero(mask.max(axis=1) > 127)
    xs = np.flatnonzero(mask.max(axis=0) > 127)
    if ys.size == 0:
        return None
    return (ys[0] + ys[-1] + 1) / 2, (xs[0] + xs[-1] + 1) / 2


def crop_intrinsics(K: np.ndarray, image_size: tuple[int, int], scaled: tuple[int, int], offset: tuple[int, int]) -> np.ndarray:
    """Returns K (3,3) of the crop: scaled per axis, then shifted (pixel centres at +0.5, as cv2.resize)."""
    sy, sx = scaled[0] / image_size[0], scaled[1] / image_size[1]
    out = np.asarray(K, dtype=np.float64).copy()
    out[0] *= sx
    out[1] *= sy
    out[0, 2] -= offset[1]
    out[1, 2] -= offset[0]
    return out.astype(np.float32)


def crop_image(image: np.ndarray, scaled: tuple[int, int], offset: tuple[int, int], crop: int, fill: int = 0) -> np.ndarray:
    """Returns ``image`` (H,W[,C]) uint8 resized to ``scaled`` (INTER_AREA down, bilinear up) and cropped to
    (crop, crop[,C]); outside reads ``fill``."""
    h, w = image.shape[:2]
    if (h, w) != scaled:
        interp = cv2.INTER_AREA if scaled[0] < h else cv2.INTER_LINEAR
        image = cv2.resize(image, (scaled[1], scaled[0]), interpolation=interp)
    y0, x0 = offset
    out = np.full((crop, crop) + image.shape[2:], fill, dtype=image.dtype)
    sy0, sx0 = max(y0, 0), max(x0, 0)
    sy1, sx1 = min(y0 + crop, scaled[0]), min(x0 + crop, scaled[1])
    if sy1 > sy0 and sx1 > sx0:
        out[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = image[sy0:sy1, sx0:sx1]
    return out
