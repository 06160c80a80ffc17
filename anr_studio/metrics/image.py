"""Image metrics on one image pair (uint8 or float [0, 1] HWC, numpy or torch): PSNR, SSIM (scikit-image), FLIP
(NVIDIA's perceptual difference, LDR, through the `flip_evaluator` package), mask IoU."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from anr_studio.errors import AnrError

SSIM_SIGMA = 1.5


def to_unit_image(image: Any, name: str = "image") -> np.ndarray:
    """Returns ``image`` ((H, W) or (H, W, C)) as float64 (H, W, C) in [0, 1]: uint8 / 255, floats clipped."""
    if isinstance(image, torch.Tensor):
        image = image.detach().cpu().numpy()
    array = np.asarray(image)
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3 or array.shape[-1] not in (1, 3, 4):
        raise AnrError(f"metrics: {name} has shape {array.shape}, expected (H, W), (H, W, 1) or (H, W, 3)")
    if array.dtype == np.uint8:
        return array.astype(np.float64) / 255.0
    if not np.issubdtype(array.dtype, np.floating):
        raise AnrError(f"metrics: {name} has dtype {array.dtype}, expected uint8 or float in [0, 1]")
    if not np.all(np.isfinite(array)):
        raise AnrError(f"metrics: {name} contains NaN or Inf values, expected finite numbers")
    return np.clip(array.astype(np.float64), 0.0, 1.0)


def _pair(pred: Any, target: Any) -> tuple[np.ndarray, np.ndarray]:
    a, b = to_unit_image(pred, "prediction"), to_unit_image(target, "target")
    if a.shape != b.shape:
        raise AnrError(f"metrics: prediction has shape {a.shape}, expected the target's {b.shape}")
    return a, b


def psnr(pred: Any, target: Any) -> float:
    """Returns the PSNR in dB of two images (HWC, uint8 or float [0, 1]); inf when identical."""
    from skimage.metrics import peak_signal_noise_ratio

    a, b = _pair(pred, target)
    return math.inf if np.array_equal(a, b) else float(peak_signal_noise_ratio(b, a, data_range=1.0))


def ssim(pred: Any, target: Any) -> float:
    """Returns the mean SSIM of two images (HWC, uint8 or float [0, 1]): Wang et al. (2004) with a Gaussian
    window of SSIM_SIGMA (11 pixels), population covariances, as scikit-image computes it."""
    from skimage.metrics import structural_similarity

    a, b = _pair(pred, target)
    window = 2 * int(3.5 * SSIM_SIGMA + 0.5) + 1  # scikit-image's Gaussian window (truncated at 3.5 sigma)
    if min(a.shape[:2]) < window:
        raise AnrError(f"metrics: images of size {a.shape[0]}x{a.shape[1]} are too small for SSIM, expected sides >= {window}")
    return float(structural_similarity(a, b, gaussian_weights=True, sigma=SSIM_SIGMA, use_sample_covariance=False,
                                       data_range=1.0, channel_axis=-1))


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


def _to_mask(mask: Any, name: str) -> np.ndarray:
    if isinstance(mask, torch.Tensor):
        mask = mask.detach().cpu().numpy()
    m = np.asarray(mask)
    m = m.reshape(m.shape[-2:]) if m.ndim > 2 and int(np.prod(m.shape[:-2])) == 1 else m
    if m.ndim == 3 and m.shape[-1] == 1:
        m = m[..., 0]
    if m.ndim != 2:
        raise AnrError(f"metrics: {name} has shape {np.asarray(mask).shape}, expected (H, W)")
    return (m.astype(np.float64) / 255.0 if m.dtype == np.uint8 else m.astype(np.float64)) >= 0.5


def mask_iou(pred_mask: Any, target_mask: Any) -> float:
    """Returns |P and T| / |P or T| of two masks (H, W) (uint8 0..255 or float [0, 1], threshold 0.5); 1 for two empty ones."""
    p, t = _to_mask(pred_mask, "predicted mask"), _to_mask(target_mask, "target mask")
    if p.shape != t.shape:
        raise AnrError(f"metrics: predicted mask has shape {p.shape}, expected the target's {t.shape}")
    union = np.logical_or(p, t).sum()
    return 1.0 if union == 0 else float(np.logical_and(p, t).sum() / union)
