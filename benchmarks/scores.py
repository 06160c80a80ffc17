"""Figures of the quality benchmarks that need no pretrained network (benchmarks/quality.py, demo_tryon.py).

- sharpness: high-frequency energy inside the person relative to the truth's; flicker: the mean second
  temporal difference of renders;
- periodic-artefact check: peaks in the 2D spectrum at the frequencies of the renderer's pixel lattice.
  Transposed convolutions and GANs paint patterns of period 2, 4 or 8 pixels locked to the grid: peaks at
  (a·N/P, b·N/P) in a spectrum of side N, where real detail spreads its energy. `lattice_peak_ratio`
  compares each such peak with the median power around it (over `ARTEFACT_RATIO`: an artefact);
- try-on: swap a region R from A onto B; render A (with B's body shape), B and the swap in the same poses
  and views, and let S be B's body pixels whose UV lies in R. fidelity = 1 - |mean colour of swap in S -
  that of A| / |that of B - that of A| (1: the swap shows A's colours in S; 0: it still shows B's);
  leakage = mean |swap - B| outside S / mean |A - B| outside S (0: nothing outside S changed).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from anr_studio.errors import AnrError
from anr_studio.metrics import to_unit_image

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


PERIODS = (2, 4, 8)  # pattern periods in pixels looked for (the strides of 1 to 3 U-Net levels)
ARTEFACT_RATIO = 30.0
"""Peak-to-surroundings power ratio above which an image is flagged as carrying a periodic artefact."""
NEIGHBOURHOOD = 8  # half-width in frequency bins of the square around a lattice frequency that gives its surroundings


def _lattice_bins(n: int) -> set[tuple[int, int]]:
    """Returns the (row, column) bins of a centred spectrum of side ``n`` at the lattice frequencies, DC left out."""
    bins = set()
    for period in (p for p in PERIODS if n % p == 0):
        at = [n // 2 + a * (n // period) for a in range(-(period // 2), period // 2 + 1)]
        bins |= {(r, c) for r in at for c in at if 0 <= r < n and 0 <= c < n and (r, c) != (n // 2, n // 2)}
    return bins


def power_spectrum(image: Any, mask: Any | None = None, size: int | None = None) -> np.ndarray:
    """Returns the centred power spectrum (N, N) of the high-passed luminance of ``image`` (HWC RGB or (H, W))
    weighted by ``mask`` (H, W), on the largest centred square whose side is a multiple of 16 (or ``size``)."""
    import cv2

    gray = np.asarray(image, np.float64) if np.ndim(image) == 2 else luminance(image)
    h, w = gray.shape
    n = size or (min(h, w) // 16) * 16
    if n < 32:
        raise AnrError(f"power_spectrum: image is {h}x{w}, expected at least 32x32")
    top, left = (h - n) // 2, (w - n) // 2
    crop = high_pass(gray, 2.0)[top:top + n, left:left + n]
    weight = np.ones((n, n))
    if mask is not None:
        m = np.asarray(mask, np.float64)
        m = m / 255.0 if m.max() > 1.0 else m
        weight = cv2.GaussianBlur(m[top:top + n, left:left + n], (0, 0), 2.0)
    spectrum = np.fft.fftshift(np.fft.fft2(crop * weight))
    return np.abs(spectrum) ** 2


def lattice_peak_ratio(image: Any, mask: Any | None = None) -> float:
    """Returns the largest power ratio of a lattice frequency to the median of its surroundings (>= 0):
    rarely above 15 without grid-locked patterns, thousands for a one-level dot lattice on a 256² image."""
    power = power_spectrum(image, mask)
    n = power.shape[0]
    k = NEIGHBOURHOOD
    worst = 0.0
    for r, c in _lattice_bins(n):
        r0, r1, c0, c1 = max(r - k, 0), min(r + k + 1, n), max(c - k, 0), min(c + k + 1, n)
        around = power[r0:r1, c0:c1].copy()
        # The peak itself and its direct neighbours (a window leaks into them) are not its surroundings.
        around[max(r - 1 - r0, 0):r + 2 - r0, max(c - 1 - c0, 0):c + 2 - c0] = np.nan
        reference = np.nanmedian(around)
        peak = power[r, c]
        if reference > 0:
            worst = max(worst, float(peak / reference))
    return worst


def tryon_scores(swap: Any, a: Any, b: Any, region: Any) -> dict[str, float | None]:
    """Returns {"fidelity", "leakage", "pixels"} of one view (None where undefined) from HWC renders of one
    pose and camera and ``region`` (H, W) bool: S."""
    s, ia, ib = (to_unit_image(x, name).astype(np.float64) for x, name in ((swap, "swap"), (a, "A"), (b, "B")))
    if not (s.shape == ia.shape == ib.shape):
        raise AnrError(f"tryon_scores: renders of shapes {s.shape}, {ia.shape}, {ib.shape}, expected the same")
    inside = np.asarray(region, bool)
    if inside.shape != s.shape[:2]:
        raise AnrError(f"tryon_scores: region has shape {inside.shape}, expected {s.shape[:2]}")
    fidelity = leakage = None
    if inside.any():
        mean_s, mean_a, mean_b = (x[inside].mean(0) for x in (s, ia, ib))
        spread = float(np.linalg.norm(mean_b - mean_a))
        if spread > 1e-3:
            fidelity = 1.0 - float(np.linalg.norm(mean_s - mean_a)) / spread
    outside = ~inside
    if outside.any():
        differ = float(np.abs(ia - ib)[outside].mean())
        if differ > 1e-6:
            leakage = float(np.abs(s - ib)[outside].mean()) / differ
    return {"fidelity": fidelity, "leakage": leakage, "pixels": int(inside.sum())}
