"""Sharpness (high-frequency energy inside the person relative to the truth's) and flicker (the mean
second temporal difference of renders) figures that need no pretrained network."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from anr_studio.errors import AnrError
from anr_studio.metrics.image import to_unit_image

LUMA = np.array([0.299, 0.587, 0.114], np.float64)


def luminance(image: Any, name: str = "image") -> np.ndarray:
    """Returns the (H, W) float64 luminance in [0, 1] of an HWC RGB image (uint8 or float in [0, 1])."""
    return to_unit_image(image, name).astype(np.float64) @ LUMA


def high_pass(gray: np.ndarray, sigma: float = 1.0) -> np.ndarray:
    """Returns ``gray`` (H, W) minus its Gaussian blur of ``sigma`` pixels (the detail a blur removes)."""
    import cv2

    return gray - cv2.GaussianBlur(gray, (0, 0), sigmaX=sigma, borderType=cv2.BORDER_REFLECT)


def _inner(mask: Any, shape: tuple[int, int], erode: int) -> np.ndarray:
    import cv2

    m = np.asarray(mask, np.float64)
    if m.dtype == np.uint8 or m.max() > 1.0:
        m = m / 255.0
    if m.shape != shape:
        raise AnrError(f"sharpness: mask has shape {m.shape}, expected the image's {shape}")
    binary = (m >= 0.5).astype(np.uint8)
    if erode > 0:  # leave the silhouette edge out: its contrast belongs to the mask, not to the detail
        binary = cv2.erode(binary, np.ones((2 * erode + 1, 2 * erode + 1), np.uint8))
    return binary.astype(bool)


def high_frequency_ratio(pred: Any, target: Any, mask: Any, sigma: float = 1.0, erode: int = 3) -> float | None:
    """Returns sum over ``mask`` (eroded by ``erode`` px) of high_pass(pred)² / that of the target (1 = as
    sharp as the truth, below 1 softer); None when the mask is empty or the truth flat."""
    p, t = luminance(pred, "pred"), luminance(target, "target")
    if p.shape != t.shape:
        raise AnrError(f"sharpness: pred has shape {p.shape}, target {t.shape}, expected the same")
    inside = _inner(mask, t.shape, erode)
    if not inside.any():
        return None
    energy_t = float((high_pass(t, sigma)[inside] ** 2).sum())
    if energy_t <= 1e-12:
        return None
    return float((high_pass(p, sigma)[inside] ** 2).sum()) / energy_t


def flicker(frames: Sequence[Any], masks: Sequence[Any]) -> float | None:
    """Returns the mean |I[t+1] - 2 I[t] + I[t-1]| in 8-bit levels over pixels inside three consecutive
    ``masks`` of ``frames`` (T >= 3, a smooth motion scores near 0); None when there are none."""
    if len(frames) < 3 or len(frames) != len(masks):
        raise AnrError(f"flicker: {len(frames)} frames and {len(masks)} masks, expected at least 3 of each, as many masks as frames")
    images = np.stack([to_unit_image(f, "frame").astype(np.float64) * 255.0 for f in frames])
    inside = np.stack([_inner(m, images.shape[1:3], 0) for m in masks])
    second = np.abs(images[2:] - 2 * images[1:-1] + images[:-2]).mean(-1)
    valid = inside[2:] & inside[1:-1] & inside[:-2]
    return float(second[valid].mean()) if valid.any() else None
