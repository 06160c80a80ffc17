"""Masks from a learned person segmenter, refined at the boundary, and the choice between plate and learned.

``learned_mask`` turns a segmenter's soft output into the capture's mask: threshold, keep the
large components, grow by GrabCut into a band around the boundary (as the plate method does),
feather. ``choose_method`` picks "plate" only when the camera stands still and the plate is clean.
"""

from __future__ import annotations

import cv2
import numpy as np

from anr_studio.capture.masks import MaskConfig, _keep_large_components, refine_boundary

METHODS = ("plate", "learned", "auto")
MAX_STILL_SHIFT = 0.004
"""Largest median background motion between frames (fraction of the long side) of a still camera."""
MAX_PLATE_PERSON = 0.02
"""Largest share of the plate that the segmenter may call a person for the plate to be clean."""


def learned_mask(frame: np.ndarray, prob: np.ndarray, config: MaskConfig | None = None) -> np.ndarray:
    """Returns the soft mask (H,W) uint8 0..255 of ``frame`` (H,W,3) from the segmenter's ``prob`` (H,W) in [0,1]."""
    config = config or MaskConfig()
    binary = (np.asarray(prob) >= 0.5).astype(np.uint8)
    binary = _keep_large_components(binary, config.min_component_fraction)
    if config.refine and binary.any():
        # The segmenter's confident core is sure foreground; its uncertain rim is left to GrabCut.
        sure = (np.asarray(prob) >= 0.8).astype(np.uint8) & binary
        grown = refine_boundary(frame, sure if sure.any() else binary, config)
        binary = np.maximum(grown, sure)
    sigma = max(0.5, config.scaled(config.feather_sigma, binary.shape)) if config.feather_sigma > 0 else 0.0
    soft = binary.astype(np.float32)
    if sigma > 0:
        soft = cv2.GaussianBlur(soft, (0, 0), sigma)
    return np.clip(soft * 255.0 + 0.5, 0, 255).astype(np.uint8)


def camera_shift(frames: list[np.ndarray], person: list[np.ndarray]) -> float:
    """Returns the median background motion between consecutive frames, as a fraction of the long side.

    ``frames`` sampled frames (H,W,3) uint8, ``person`` their masks (H,W) (nonzero = person, ignored).
    """
    shifts = []
    for (a, ma), (b, mb) in zip(zip(frames, person), zip(frames[1:], person[1:])):
        ga, gb = (cv2.cvtColor(x, cv2.COLOR_RGB2GRAY).astype(np.float32) for x in (a, b))
        window = ((ma == 0) & (mb == 0)).astype(np.float32)
        if window.mean() < 0.2:
            continue
        (dx, dy), _ = cv2.phaseCorrelate(ga * window, gb * window)
        shifts.append(np.hypot(dx, dy) / max(a.shape[:2]))
    return float(np.median(shifts)) if shifts else 0.0


def choose_method(frames: list[np.ndarray], plate: np.ndarray, segmenter) -> tuple[str, str]:
    """Returns ("plate" or "learned", why) for a capture with sampled ``frames`` and background ``plate``."""
    person = [p >= 0.5 for p in segmenter(np.stack(frames))]
    shift = camera_shift(frames, person)
    if shift > MAX_STILL_SHIFT:
        return "learned", f"the camera moves ({100 * shift:.2f}% of the frame between frames)"
    on_plate = float((segmenter(plate[None])[0] >= 0.5).mean())
    if on_plate > MAX_PLATE_PERSON:
        return "learned", f"the background plate shows a person ({100 * on_plate:.1f}% of it)"
    return "plate", "the camera stands still and the plate is clean"
