"""FLIP (NVIDIA's perceptual difference, LDR) through the `flip_evaluator` package."""

from __future__ import annotations

from typing import Any

import numpy as np

from anr_studio.metrics.image import _pair


def flip(pred: Any, target: Any) -> float:
    """Returns the mean LDR-FLIP error (0 = identical, up to 1) of sRGB ``pred`` against ``target`` (FLIP's
    viewing condition: 67 pixels per degree)."""
    import flip_evaluator

    a, b = _pair(pred, target)
    if a.shape[-1] == 1:
        a, b = np.repeat(a, 3, -1), np.repeat(b, 3, -1)
    a, b = (np.ascontiguousarray(x[..., :3], dtype=np.float32) for x in (a, b))
    _, mean_error, _ = flip_evaluator.evaluate(b, a, "LDR", inputsRGB=True, applyMagma=False, parameters={})
    return float(mean_error)
