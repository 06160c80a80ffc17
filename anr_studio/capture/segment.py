"""Masks from a learned person segmenter, refined at the boundary, and the choice between plate and learned.

``learned_mask`` turns a segmenter's soft output into the capture's mask: threshold, keep the
large components, grow by GrabCut into a band around the boundary (as the plate method does),
feather. ``choose_method`` picks "plate" only when the camera stands still and the plate is clean.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from anr_studio.errors import AnrError
from anr_studio.capture.masks import MaskConfig, _keep_large_components, refine_boundary

METHODS = ("plate", "learned", "auto")
MAX_STILL_SHIFT = 0.004
"""Largest median background motion between frames (fraction of the long side) of a still camera."""
MAX_PLATE_PERSON = 0.02
"""Largest share of the plate that the segmenter may call a person for the plate to be clean."""
MIN_PERSON_SHARE = 0.002
"""Share of a frame below which the segmenter sees nobody in it (the plate method then runs)."""


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
        if ((ma == 0) & (mb == 0)).mean() < 0.2:
            continue  # the person fills the frame: no background to follow
        # The person is filled with the background's mean, so only the background's motion counts.
        ga, gb = (cv2.cvtColor(x, cv2.COLOR_RGB2GRAY).astype(np.float32) for x in (a, b))
        ga[ma != 0] = ga[ma == 0].mean()
        gb[mb != 0] = gb[mb == 0].mean()
        window = cv2.createHanningWindow(ga.shape[::-1], cv2.CV_32F)
        (dx, dy), _ = cv2.phaseCorrelate(ga, gb, window)
        shifts.append(np.hypot(dx, dy) / max(a.shape[:2]))
    return float(np.median(shifts)) if shifts else 0.0


def choose_method(frames: list[np.ndarray], plate: np.ndarray, segmenter) -> tuple[str, str]:
    """Returns ("plate" or "learned", why) for a capture with sampled ``frames`` and background ``plate``."""
    person = [p >= 0.5 for p in segmenter(np.stack(frames))]
    if max(float(p.mean()) for p in person) < MIN_PERSON_SHARE:
        return "plate", "the person segmenter finds nobody in the frames"
    shift = camera_shift(frames, person)
    if shift > MAX_STILL_SHIFT:
        return "learned", f"the camera moves ({100 * shift:.2f}% of the frame between frames)"
    on_plate = float((segmenter(plate[None])[0] >= 0.5).mean())
    if on_plate > MAX_PLATE_PERSON:
        return "learned", f"the background plate shows a person ({100 * on_plate:.1f}% of it)"
    return "plate", "the camera stands still and the plate is clean"


def load_segmenter(path: str | os.PathLike | None = None):
    """Returns the person segmenter stored at ``path`` (ConvSegmenter .safetensors) or MediaPipe's."""
    from anr_studio.capture.video_fit.models import ConvSegmenter, default_segmenter

    if path is not None:
        return ConvSegmenter.load(path)
    return default_segmenter()


def masks_into(path: str | os.PathLike, method: str = "auto", *, segmenter=None, overwrite: bool = False,
               refine: bool = True, progress: bool | Callable[[int, int], None] = False,
               config: MaskConfig | None = None) -> str:
    """Writes masks into the capture at ``path`` by ``method`` (plate, learned, auto); returns a one-line report.

    ``segmenter``: a PersonSegmenter, a path to a ConvSegmenter file, or None for MediaPipe's. With
    "auto" and no segmenter available, the plate method runs and the report says why.
    ``progress``: True draws a bar on stderr; a callable is called as progress(done, total) after
    each frame, and an exception it raises leaves the capture as it was.
    """
    from anr_studio.capture.masks import extract_masks_into
    from anr_studio.capture.reader import Capture

    if method not in METHODS:
        raise AnrError(f"masks: method {method!r}, expected one of {', '.join(METHODS)}")
    config = config or MaskConfig()
    config.refine = refine
    why = ""
    if method != "plate":
        try:
            segmenter = segmenter if callable(segmenter) else load_segmenter(segmenter)
        except AnrError as exc:
            if method == "learned":
                raise
            return extract_masks_into(path, overwrite=overwrite, refine=refine, progress=progress, config=config) + (
                f" [plate method: no person segmenter ({exc})]")
    cap = Capture(path)
    if cap.has_masks and not overwrite:
        raise AnrError(f"{Path(path).name}: masks already exist, expected --overwrite to replace them")
    if method == "auto":
        sample = np.linspace(0, len(cap) - 1, min(8, len(cap))).round().astype(int)
        method, why = choose_method([cap.frame(int(i)) for i in sample], cap.background, segmenter)
    if method == "plate":
        cap.close()
        return extract_masks_into(path, overwrite=overwrite, refine=refine, progress=progress,
                                  config=config) + (f" [plate method: {why}]" if why else "")
    from tqdm import tqdm

    coverage: list[float] = []

    def masks():
        for i in tqdm(range(len(cap)), desc="masks", unit="frame", disable=progress is not True, leave=False):
            frame = cap.frame(i)
            mask = learned_mask(frame, segmenter(frame[None])[0], config)
            coverage.append(float((mask >= 128).mean()))
            if callable(progress):
                progress(i + 1, len(cap))
            yield mask

    cap.write_masks(masks(), overwrite=overwrite)
    report = (f"{Path(path).name}: wrote {len(coverage)} masks with the person segmenter (mean foreground "
              f"{100 * np.mean(coverage):.1f}% of the frame)")
    return report + (f" [learned method: {why}]" if why else "")
