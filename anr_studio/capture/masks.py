"""Foreground masks for captures that come without them: from the background plate or a person segmenter.

Plate method: a CIELAB difference to the plate (lightness down-weighted, so shading counts less),
hysteresis thresholding, clean-up, the largest components, small holes filled, GrabCut grown into a
narrow band where the person resembles the plate, a feathered edge. Learned method: the segmenter's
output thresholded, grown and feathered the same way. ``choose_method`` picks the plate only for a
still camera and a clean plate; the plate asked for by name runs anyway, and its report warns.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from anr_studio.capture.reader import Capture
from anr_studio.errors import AnrError

METHODS = ("plate", "learned", "auto")
MAX_STILL_SHIFT = 0.004  # largest median background motion between frames (fraction of the long side) of a still camera
MAX_PLATE_PERSON = 0.02  # largest share of the plate that the segmenter may call a person for the plate to be clean
MIN_PERSON_SHARE = 0.002  # share of a frame below which the segmenter sees nobody in it (the plate method then runs)


@dataclass
class MaskConfig:
    """Settings of the mask extraction (sizes in pixels scale with the image: see ``scaled``)."""

    diff_low: float = 10.0
    """Colour distance (CIELAB units) above which a pixel may be foreground if it touches a sure one."""
    diff_high: float = 24.0
    """Colour distance above which a pixel is surely foreground."""
    lightness_weight: float = 0.5
    """Weight of the L* difference against a*, b*: shadows and shading change L* most."""
    min_component_fraction: float = 0.02
    """Components smaller than this share of the largest are dropped (small: a head cut off at the neck stays)."""
    hole_fraction: float = 0.002
    """Holes smaller than this share of the image are filled; larger ones (between arm and torso) go to GrabCut."""
    open_radius: float = 1.5
    """Radius (px at 256 px) of the opening that removes specks (no closing: it would bridge arms and torso)."""
    refine: bool = True
    """Run GrabCut in the boundary band."""
    band: float = 3.0
    """Width (px at 256 px) of the band outside the coarse mask that GrabCut may add."""
    grabcut_iterations: int = 3
    feather_sigma: float = 0.6
    """Gaussian sigma (px at 256 px) of the soft edge."""

    def scaled(self, value: float, shape: tuple[int, int]) -> float:
        """Returns a pixel size given at 256 px scaled to an image of ``shape`` (H, W)."""
        return value * max(shape) / 256.0


def colour_difference(frame: np.ndarray, background: np.ndarray, config: MaskConfig) -> np.ndarray:
    """Returns the per-pixel weighted CIELAB distance ``(H,W)`` float32 between frame and plate (both (H,W,3) uint8 RGB)."""
    # CIELAB of float RGB in [0,1]: L* 0..100, a*/b* about -100..100
    d = cv2.cvtColor(frame.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB) - cv2.cvtColor(
        background.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    return np.sqrt(config.lightness_weight * d[..., 0] ** 2 + d[..., 1] ** 2 + d[..., 2] ** 2)


def _keep_large_components(binary: np.ndarray, fraction: float) -> np.ndarray:
    count, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    if count <= 1:
        return np.zeros_like(binary)
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = np.flatnonzero(areas >= fraction * areas.max()) + 1
    return np.isin(labels, keep).astype(np.uint8)


def _fill_small_holes(binary: np.ndarray, max_area: float) -> np.ndarray:
    holes = (binary == 0).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(holes, connectivity=4)
    h, w = binary.shape
    x, y, bw, bh, area = (stats[:, k] for k in range(5))
    inside = (x > 0) & (y > 0) & (x + bw < w) & (y + bh < h)  # holes touching the border are background
    fill = inside & (area <= max_area)
    fill[0] = False  # label 0 is the foreground itself
    return (binary.astype(bool) | fill[labels]).astype(np.uint8)


def coarse_mask(diff: np.ndarray, config: MaskConfig) -> np.ndarray:
    """Returns a binary ``(H,W)`` uint8 {0,1} mask from a colour difference ``(H,W)``."""
    shape = diff.shape
    strong = (diff > config.diff_high).astype(np.uint8)
    weak = (diff > config.diff_low).astype(np.uint8)
    count, labels = cv2.connectedComponents(weak, connectivity=8)
    keep = np.zeros(count, bool)
    keep[np.unique(labels[strong > 0])] = True
    keep[0] = False
    binary = keep[labels].astype(np.uint8)
    r = max(1, int(round(config.scaled(config.open_radius, shape))))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    binary = cv2.morphologyEx(binary, cv2.MORPH_OPEN, kernel)  # specks and one-pixel noise
    binary = _keep_large_components(binary, config.min_component_fraction)
    return _fill_small_holes(binary, config.hole_fraction * shape[0] * shape[1])


def refine_boundary(frame: np.ndarray, binary: np.ndarray, config: MaskConfig, diff: np.ndarray | None = None) -> np.ndarray:
    """Returns the binary mask grown by GrabCut into the ``band`` around its boundary.

    The mask stays sure foreground (GrabCut's colour models confuse skin with a wooden floor and shave
    limbs); with ``diff (H,W)``, band pixels nearly identical to the plate are fixed as background.
    """
    if binary.sum() == 0 or binary.all():
        return binary
    shape = binary.shape
    r = max(1, int(round(config.scaled(config.band, shape))))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    outer = cv2.dilate(binary, kernel)
    gc = np.full(shape, cv2.GC_BGD, np.uint8)
    gc[outer > 0] = cv2.GC_PR_BGD
    if diff is not None:
        gc[(outer > 0) & (diff < 0.5 * config.diff_low)] = cv2.GC_BGD
    gc[binary > 0] = cv2.GC_FGD
    # GrabCut on a crop around the person: the colour models see the person and its
    # surroundings, and the cost scales with the person, not the frame.
    ys, xs = np.nonzero(outer)
    m = 4 * r
    y0, y1 = max(0, ys.min() - m), min(shape[0], ys.max() + m + 1)
    x0, x1 = max(0, xs.min() - m), min(shape[1], xs.max() + m + 1)
    crop = np.ascontiguousarray(frame[y0:y1, x0:x1, ::-1])  # OpenCV wants BGR
    gc_crop = np.ascontiguousarray(gc[y0:y1, x0:x1])
    if not (gc_crop == cv2.GC_BGD).any() or not (gc_crop == cv2.GC_FGD).any():
        return binary  # no sure sample of one side: GrabCut's models would be guesses
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    try:
        cv2.grabCut(crop, gc_crop, None, bgd, fgd, config.grabcut_iterations, cv2.GC_INIT_WITH_MASK)
    except cv2.error:
        return binary  # degenerate colour statistics (e.g. a flat crop): keep the coarse mask
    out = binary.copy()
    out[y0:y1, x0:x1] = np.isin(gc_crop, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.uint8)
    return _keep_large_components(out, config.min_component_fraction)


def feather(binary: np.ndarray, config: MaskConfig) -> np.ndarray:
    """Returns the soft mask (H,W) uint8 0..255 of a binary mask (H,W): its edge blurred by ``feather_sigma``."""
    soft = binary.astype(np.float32)
    if config.feather_sigma > 0:  # at least half a pixel, or small frames get no soft edge at all
        soft = cv2.GaussianBlur(soft, (0, 0), max(0.5, config.scaled(config.feather_sigma, binary.shape)))
    return np.clip(soft * 255.0 + 0.5, 0, 255).astype(np.uint8)


def extract_mask(frame: np.ndarray, background: np.ndarray, config: MaskConfig | None = None) -> np.ndarray:
    """Returns the soft foreground mask ``(H,W)`` uint8 0..255 of ``frame`` (H,W,3) over ``background`` (H,W,3)."""
    config = config or MaskConfig()
    if frame.shape != background.shape:
        raise AnrError(f"mask extraction: frame has shape {frame.shape}, expected the background's {background.shape}")
    diff = colour_difference(frame, background, config)
    binary = coarse_mask(diff, config)
    if config.refine:
        binary = refine_boundary(frame, binary, config, diff)
    return feather(binary, config)


def learned_mask(frame: np.ndarray, prob: np.ndarray, config: MaskConfig | None = None) -> np.ndarray:
    """Returns the soft mask (H,W) uint8 0..255 of ``frame`` (H,W,3) from the segmenter's ``prob`` (H,W) in [0,1]."""
    # One GrabCut iteration: the segmenter's confident core leaves little to decide (as good as three, half the cost).
    config = config or MaskConfig(grabcut_iterations=1)
    binary = (np.asarray(prob) >= 0.5).astype(np.uint8)
    binary = _keep_large_components(binary, config.min_component_fraction)
    if config.refine and binary.any():
        # The segmenter's confident core is sure foreground; its uncertain rim is left to GrabCut.
        sure = (np.asarray(prob) >= 0.8).astype(np.uint8) & binary
        grown = refine_boundary(frame, sure if sure.any() else binary, config)
        binary = np.maximum(grown, sure)
    return feather(binary, config)


def camera_shift(frames: list[np.ndarray], person: list[np.ndarray]) -> float:
    """Returns the median background motion between consecutive ``frames`` (H,W,3) uint8, as a fraction of
    the long side; ``person`` (H,W) masks the person out (nonzero)."""
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
    """Returns ("plate" or "learned", why) for a capture with sampled ``frames`` and background ``plate``; without a
    ``segmenter`` (None) the person is what differs from the plate, and only the camera's motion is looked at."""
    if segmenter is None:  # grown past the edge pixels its threshold misses, which would move with the person
        config = MaskConfig()
        r = max(2, round(config.scaled(config.band, plate.shape[:2])))
        grow = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
        person = [cv2.dilate(coarse_mask(colour_difference(f, plate, config), config), grow) for f in frames]
    else:
        person = [p >= 0.5 for p in segmenter(np.stack(frames))]
        if max(float(p.mean()) for p in person) < MIN_PERSON_SHARE:
            return "plate", "the person segmenter finds nobody in the frames"
    shift = camera_shift(frames, person)
    if shift > max(MAX_STILL_SHIFT, 1 / max(plate.shape[:2])):  # below a pixel, phase correlation measures noise
        return "learned", f"the camera moves ({100 * shift:.2f}% of the frame between frames)"
    on_plate = 0.0 if segmenter is None else float((segmenter(plate[None])[0] >= 0.5).mean())
    if on_plate > MAX_PLATE_PERSON:
        return "learned", f"the background plate shows a person ({100 * on_plate:.1f}% of it)"
    return "plate", "the camera stands still" + (" and the plate is clean" if segmenter is not None else "")


def masks_into(path: str | os.PathLike, method: str = "auto", *, segmenter=None, overwrite: bool = False,
               refine: bool = True, progress: bool | Callable[[int, int], None] = False) -> str:
    """Writes masks into the capture at ``path`` by ``method`` (plate, learned, auto); returns a one-line report
    (with the IoU against replaced masks; with "auto", why that method ran). ``segmenter``: a PersonSegmenter, a
    ConvSegmenter file, or None for MediaPipe's. ``progress``: True draws a bar; a callable gets (done, total)
    after each frame (an exception from it changes nothing)."""
    from tqdm import tqdm

    from anr_studio.capture.video_fit.models import VIDEO_EXTRA, ConvSegmenter, default_segmenter
    from anr_studio.metrics.image import mask_iou

    if method not in METHODS:
        raise AnrError(f"masks: method {method!r}, expected one of {', '.join(METHODS)}")
    config = MaskConfig(refine=refine)
    why = ""
    if not callable(segmenter):  # the plate method too looks with it for what spoils its masks
        try:
            segmenter = default_segmenter() if segmenter is None else ConvSegmenter.load(segmenter)
        except AnrError:
            if method == "learned" or segmenter is not None:  # asked for by name
                raise
            segmenter = None
    cap = Capture(path)
    if cap.has_masks and not overwrite:  # before the segmenter runs
        raise AnrError(f"{Path(path).name}: masks already exist, expected --overwrite to replace them")
    warning = ""
    if method != "learned":
        sample = [cap.frame(int(i)) for i in np.linspace(0, len(cap) - 1, min(8, len(cap))).round()]
    if method == "auto" and segmenter is None:
        method, why = "plate", f"the only one without MediaPipe's person segmenter (pip install '{VIDEO_EXTRA}')"
    elif method == "auto":
        method, why = choose_method(sample, cap.background, segmenter)
    elif method == "plate":  # asked for by name: it runs, and the report says what it cannot cope with
        seen, problem = choose_method(sample, cap.background, segmenter)
        if seen == "learned":
            warning = (f". Warning: {problem}, so these plate masks are likely wrong: use the learned or auto method "
                       "(--method learned or auto).")
    n, background = len(cap), cap.background
    ious, coverage = [], []  # per frame: IoU against replaced masks, foreground share
    start = time.perf_counter()

    def masks():
        for i in range(n):
            frame = cap.frame(i)
            if method == "plate":
                mask = extract_mask(frame, background, config)
            else:
                mask = learned_mask(frame, segmenter(frame[None])[0], config)
            if cap.has_masks:
                ious.append(mask_iou(mask, cap.mask(i)))
            coverage.append(float((mask >= 128).mean()))
            bar.update(1)
            if callable(progress):
                progress(i + 1, n)
            yield mask

    with tqdm(total=n, desc="masks", unit="frame", disable=progress is not True, leave=False) as bar:
        cap.write_masks(masks(), overwrite=overwrite)
    report = (f"{Path(path).name}: wrote {n} masks{' with the person segmenter' if method == 'learned' else ''} "
              f"(mean foreground {100 * np.mean(coverage):.1f}% of the frame) in {time.perf_counter() - start:.1f} s")
    if ious:
        report += f"; IoU against the replaced masks: mean {np.mean(ious):.4f}, min {np.min(ious):.4f}"
    return report + (f" [{method} method: {why}]" if why else "") + warning
