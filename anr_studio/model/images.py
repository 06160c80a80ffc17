"""Images as the networks see them and back, uint8 (..., H, W, C) <-> float (..., C, H, W) in [-1, 1], and the
composite of a render over a background, I' = M*I + (1-M)*B (paper eq. 5)."""

from __future__ import annotations

import torch


def from_pixels(pixels: torch.Tensor) -> torch.Tensor:
    """Returns float32 (..., C, H, W) in [-1, 1] of ``pixels`` (..., H, W, C) in 0..255 (any dtype)."""
    return pixels.float().movedim(-1, -3) / 127.5 - 1.0


def to_pixels(image: torch.Tensor) -> torch.Tensor:
    """Returns uint8 (..., H, W, C) of ``image`` (..., C, H, W) in [-1, 1] (clamped, rounded), on its device."""
    return ((image.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).movedim(-3, -1)


def composite(image: torch.Tensor, mask: torch.Tensor, background: torch.Tensor) -> torch.Tensor:
    """Returns M*I + (1-M)*B for ``image`` I, ``mask`` M in [0, 1] and ``background`` B (broadcasting shapes)."""
    return mask * image + (1 - mask) * background
