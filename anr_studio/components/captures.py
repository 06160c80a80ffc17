"""A capture in the studio: opening the file, what to tell the user about it, and the checks drawn over its frames."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from anr_studio.components.protocols import StudioBody


def open_capture(path: str | os.PathLike, body: StudioBody):
    """Returns (capture, one-line summary, noting another body model than ``body``); AnrError with the validator's
    first problem when ``path`` is not a valid capture."""
    from anr_studio.capture import Capture

    cap = Capture(path)
    h, w = cap.image_size
    kf = cap.keyframes
    text = (f"{Path(path).name}: {cap.identity}, {len(cap)} frames, {w}×{h}, {cap.fps:g} fps, "
            f"masks {'yes' if cap.has_masks else 'no'}, keyframes {0 if kf is None else len(kf)}")
    if cap.body_model_id not in ("default", str(body.model_id)):
        text += f". Note: tracked with body model {cap.body_model_id[:16]}; the outline uses the studio's body."
    return cap, text


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
