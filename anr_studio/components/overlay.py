"""Image overlays for checking captures: the coarse body's outline drawn over a frame."""

from __future__ import annotations

import numpy as np

from anr_studio.components.protocols import StudioBody


def outline_overlay(frame: np.ndarray, capture, body: StudioBody, index: int, mask: np.ndarray | None = None) -> np.ndarray:
    """Returns ``frame`` (H,W,3) uint8 with the coarse body posed as frame ``index`` of ``capture`` outlined on it
    (and ``mask`` (H,W) tinted)."""
    from anr_studio.capture.check import coarse_masks, draw_outline

    img = np.ascontiguousarray(frame.copy())
    h, w = img.shape[:2]
    if mask is not None:
        m = (np.asarray(mask, np.float32) / 255.0)[..., None]
        img = (img * (0.55 + 0.45 * m) + np.array([60, 0, 90]) * (1 - m) * 0.45).clip(0, 255).astype(np.uint8)
    draw_outline(img, coarse_masks(capture, [index], body)[0], (0, 255, 80), 1 if max(h, w) <= 512 else 2, outer=True)
    return img


def alignment_overlay(capture, body: StudioBody, index: int, report=None) -> np.ndarray:
    """Returns frame ``index`` (H,W,3) uint8 of ``capture`` with the alignment check's drawing: the coarse body's
    outline (yellow) and skeleton (red), the mask's outline (cyan) and, with ``report``, the frame's IoU."""
    from anr_studio.capture.check import overlay_frames

    return next(overlay_frames(capture, body, [int(index)], report))
