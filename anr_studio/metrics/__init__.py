"""Image-quality metrics: PSNR, SSIM, FLIP, mask IoU, LPIPS (only with local backbone weights)."""

from __future__ import annotations

from typing import Any

from anr_studio.metrics.image import flip, mask_iou, psnr, ssim, to_unit_image
from anr_studio.metrics.perceptual import lpips_distance, lpips_status


def compute_metrics(pred: Any, target: Any, pred_mask: Any = None, target_mask: Any = None, *,
                    device: str = "cpu") -> dict[str, float | None]:
    """Returns {"psnr", "ssim", "flip", "lpips", "mask_iou"} (lower is better for FLIP and LPIPS) for one
    image pair; "lpips" is None without its weights, "mask_iou" without both masks."""
    return {
        "psnr": psnr(pred, target),
        "ssim": ssim(pred, target),
        "flip": flip(pred, target),
        "lpips": lpips_distance(pred, target, device=device),
        "mask_iou": None if pred_mask is None or target_mask is None else mask_iou(pred_mask, target_mask),
    }


__all__ = ["compute_metrics", "flip", "lpips_distance", "lpips_status", "mask_iou", "psnr", "ssim", "to_unit_image"]
