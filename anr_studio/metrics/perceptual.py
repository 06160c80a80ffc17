"""LPIPS through the `lpips` package, with torchvision's ImageNet AlexNet from the torch hub cache
(`anr_studio.model.weights`); without it `lpips_distance` is None (never a random backbone)."""

from __future__ import annotations

import warnings
from typing import Any

import torch

from anr_studio.errors import AnrError
from anr_studio.metrics.image import _pair
from anr_studio.model.weights import find_weights, load_weights

ALEXNET_FILE = "alexnet-owt-7be5be79.pth"
"""torchvision's ImageNet AlexNet weights, the LPIPS backbone."""
_WHAT = "LPIPS AlexNet backbone weights"
_CACHE: dict[tuple[str, str], Any] = {}


def lpips_status() -> str:
    """Returns "available" or "unavailable: <why>" (naming the missing backbone file)."""
    try:
        find_weights(ALEXNET_FILE, what=_WHAT)
    except AnrError as exc:
        return f"unavailable: {exc}"
    return "available"


def load_lpips(device: str | torch.device = "cpu"):
    """Returns an eval-mode ``lpips.LPIPS`` with the local backbone; AnrError naming the file when absent."""
    path = find_weights(ALEXNET_FILE, what=_WHAT)
    key = (str(path), str(device))
    if key in _CACHE:
        return _CACHE[key]
    import lpips

    with warnings.catch_warnings():  # lpips passes torchvision's deprecated `pretrained=` argument
        warnings.simplefilter("ignore")
        # pnet_rand=True: build the backbone without downloading; its weights are loaded below.
        model = lpips.LPIPS(net="alex", pretrained=True, pnet_rand=True, verbose=False)
    _, state = load_weights(ALEXNET_FILE, what=_WHAT)
    # lpips splits torchvision's `features.<i>` into slices holding children named "<i>".
    mapping = {f"features.{child}": f"{slice_name}.{child}"
               for slice_name, block in model.net.named_children() for child, _ in block.named_children()}
    backbone = {f"{dst}.{suffix}": state[f"{src}.{suffix}"]
                for src, dst in mapping.items() for suffix in ("weight", "bias") if f"{src}.{suffix}" in state}
    try:
        model.net.load_state_dict(backbone, strict=True)
    except RuntimeError as exc:
        raise AnrError(f"{path}: not torchvision's {ALEXNET_FILE} (backbone tensors missing or of the wrong shape)") from exc
    model = model.eval().requires_grad_(False).to(device)
    _CACHE[key] = model
    return model


def lpips_distance(pred: Any, target: Any, device: str | torch.device = "cpu") -> float | None:
    """Returns the LPIPS distance of two images (HWC, uint8 or float [0, 1], 3 channels), or None
    when the backbone weights are not available locally (see `lpips_status`)."""
    if lpips_status() != "available":
        return None
    model = load_lpips(device)
    a, b = _pair(pred, target)
    if a.shape[-1] != 3:
        raise AnrError(f"metrics: LPIPS needs RGB images, got {a.shape[-1]} channel(s), expected 3")

    def to_net(x):
        return (torch.from_numpy(x).float().permute(2, 0, 1)[None] * 2 - 1).to(device)

    with torch.no_grad():
        return float(model(to_net(a), to_net(b)).mean())
