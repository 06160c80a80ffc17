"""Try-on scores: how much of identity A a region swap shows inside the region, and how little it leaks.

Swap a region R from A onto B; render A (with B's body shape), B and the swap in the same poses and
views, and let S be B's body pixels whose UV lies in R.

- fidelity = 1 - |mean colour of swap in S - that of A| / |that of B - that of A| (1: the swap shows A's
  colours in S; 0: it still shows B's);
- leakage = mean |swap - B| outside S / mean |A - B| outside S (0: nothing outside S changed).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from anr_studio.errors import AnrError
from anr_studio.metrics.image import to_unit_image


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
