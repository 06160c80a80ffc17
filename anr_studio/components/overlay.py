"""Image overlays for checking captures: the coarse body's outline drawn over a frame."""

from __future__ import annotations

import numpy as np
import torch

from anr_studio.components.protocols import StudioBody
from anr_studio.components.scene import posed
from anr_studio.render import PerspectiveCamera, rasterize


def outline_overlay(frame: np.ndarray, body: StudioBody, pose, betas, transl, K, R, t, color=(0, 255, 80), mask: np.ndarray | None = None) -> np.ndarray:
    """Returns ``frame`` (H,W,3) uint8 with the posed coarse body's outline drawn on it (and ``mask`` (H,W) tinted)."""
    import cv2

    img = np.ascontiguousarray(frame.copy())
    h, w = img.shape[:2]
    if mask is not None:
        m = (np.asarray(mask, np.float32) / 255.0)[..., None]
        img = (img * (0.55 + 0.45 * m) + np.array([60, 0, 90]) * (1 - m) * 0.45).clip(0, 255).astype(np.uint8)
    camera = PerspectiveCamera(*(torch.as_tensor(np.asarray(x, np.float32)) for x in (K, R, t)))
    fragments = rasterize(posed(body, pose, betas, transl).vertices, body.faces, camera, (h, w))
    sil = fragments.mask[0].cpu().numpy().astype(np.uint8) * 255
    contours, _ = cv2.findContours(sil, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(img, contours, -1, color, 1 if max(h, w) <= 512 else 2, lineType=cv2.LINE_AA)
    return img


def alignment_overlay(capture, body: StudioBody, index: int, report=None) -> np.ndarray:
    """Returns frame ``index`` (H,W,3) uint8 of ``capture`` with the alignment check's drawing: the coarse body's
    outline (yellow) and skeleton (red), the mask's outline (cyan) and, with ``report``, the frame's IoU."""
    from anr_studio.capture.check import overlay_frames

    return next(overlay_frames(capture, body, [int(index)], report))
