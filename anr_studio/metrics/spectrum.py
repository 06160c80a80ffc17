"""Periodic-artefact check: peaks in the 2D spectrum at the frequencies of the renderer's pixel lattice.

Transposed convolutions and GANs paint patterns of period 2, 4 or 8 pixels locked to the grid: peaks at
(a·N/P, b·N/P) in a spectrum of side N, where real detail spreads its energy. `lattice_peak_ratio`
compares each such peak with the median power around it (over `ARTEFACT_RATIO`: an artefact).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from anr_studio.errors import AnrError
from anr_studio.metrics.sharpness import high_pass, luminance

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

