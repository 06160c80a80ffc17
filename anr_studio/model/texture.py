"""Neural textures: one learnable C x S x S feature image per identity, read through the UV image."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from anr_studio.errors import AnrError, expect_shape
from anr_studio.model.config import TextureConfig


class NeuralTexture(nn.Module):
    """A learnable feature texture (1, C, S, S), uniform in [-1, 1] from ``init_seed`` (same seed, same start for every
    identity: the paper's shared texture space). Row 0 is ``v = 1`` (``gy = -1``)."""

    def __init__(self, channels: int = 8, size: int = 256, init_seed: int = 0) -> None:
        super().__init__()
        if channels < 1 or size < 2:
            raise AnrError(f"NeuralTexture: channels = {channels}, size = {size}, expected >= 1 and >= 2")
        generator = torch.Generator(device="cpu").manual_seed(int(init_seed))
        values = torch.rand((1, channels, size, size), generator=generator, dtype=torch.float32) * 2 - 1
        self.texture = nn.Parameter(values)

    def sample(self, uv: torch.Tensor) -> torch.Tensor:
        """Returns the neural image (B, C, H, W), float32 even under autocast, read bilinearly at ``uv`` (B, H, W, 2)
        grid coords in [-1, 1] (``BACKGROUND_UV`` reads zero)."""
        expect_shape(uv, ("B", "H", "W", 2), "uv", "NeuralTexture.sample")
        texture = self.texture.expand(uv.shape[0], -1, -1, -1)
        return F.grid_sample(texture, uv.to(texture.dtype), mode="bilinear", padding_mode="zeros", align_corners=False)


def build_textures(count: int, config: TextureConfig) -> nn.ModuleList:
    """Returns ``count`` NeuralTextures that start from identical values (one per identity)."""
    if count < 1:
        raise AnrError(f"build_textures: count = {count}, expected at least 1 identity")
    return nn.ModuleList(NeuralTexture(config.channels, config.size, config.init_seed) for _ in range(count))
