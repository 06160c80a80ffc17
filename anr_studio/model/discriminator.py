"""pix2pixHD multi-scale PatchGAN discriminator, conditioned on the normal image."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from anr_studio.model.config import DiscriminatorConfig
from anr_studio.model.unet import LEAKY_SLOPE, Conv2dAct, InstanceNorm2d


class PatchDiscriminator(nn.Module):
    """Returns the list of intermediate features and, last, the patch logits (B, 1, h, w). pix2pixHD's
    NLayerDiscriminator: ``num_layers`` 4x4 stride-2 convolutions (widths doubling from ``base_channels`` up to
    512), a 4x4 stride-1 one, then a 4x4 convolution to raw logits; padding 2."""

    def __init__(self, in_channels: int, base_channels: int = 64, num_layers: int = 3,
                 conv_bias_before_norm: bool = False) -> None:
        super().__init__()
        layers = [nn.Sequential(Conv2dAct(in_channels, base_channels, 4, 2, 2, negative_slope=LEAKY_SLOPE))]
        width = base_channels
        for i in range(1, num_layers + 1):
            prev, width = width, min(width * 2, 512)
            stride = 2 if i < num_layers else 1
            layers.append(nn.Sequential(
                nn.Conv2d(prev, width, 4, stride, 2, bias=conv_bias_before_norm),
                InstanceNorm2d(width, affine=True, negative_slope=LEAKY_SLOPE),
            ))
        layers.append(nn.Sequential(nn.Conv2d(width, 1, 4, 1, 2)))
        self.layers = nn.ModuleList(layers)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Returns [feature_1, ..., feature_n, logits] for ``x`` (B, in_channels, H, W)."""
        features = []
        for layer in self.layers:
            x = layer(x)
            features.append(x)
        return features


class MultiScaleDiscriminator(nn.Module):
    """Returns, per scale (full, 1/2, 1/4, ...), the list [features..., logits] of one PatchGAN for
    ``discriminator_input(image, normals)`` (B, in_channels, H, W), average-pooled (3x3, stride 2) per scale."""

    def __init__(self, in_channels: int, num_scales: int = 3, base_channels: int = 64, num_layers: int = 3,
                 conv_bias_before_norm: bool = False) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.scales = nn.ModuleList(
            PatchDiscriminator(in_channels, base_channels, num_layers, conv_bias_before_norm)
            for _ in range(num_scales)
        )

    @classmethod
    def from_config(cls, config: DiscriminatorConfig) -> "MultiScaleDiscriminator":
        """Returns the discriminator sized by ``config`` for RGB images beside their normal images."""
        config.validate()
        return cls(3 + 3, config.num_scales, config.base_channels, config.num_layers, config.conv_bias_before_norm)

    def forward(self, x: torch.Tensor) -> list[list[torch.Tensor]]:
        """Returns ``outputs[scale][layer]``; ``outputs[s][-1]`` are the logits (B, 1, h, w)."""
        outputs = []
        for i, disc in enumerate(self.scales):
            if i:
                # contiguous: CUDA's avg_pool2d returns wrong gradients for channels_last inputs with overlapping windows.
                x = F.avg_pool2d(x.contiguous(), 3, stride=2, padding=1, count_include_pad=False)
            outputs.append(disc(x))
        return outputs


def discriminator_input(image: torch.Tensor, normals: torch.Tensor) -> torch.Tensor:
    """Returns cat(normals, image) (B, 6, H, W) of ``image`` (B, 3, H, W) and its normal image (B, 3, H, W)."""
    return torch.cat([normals.to(image.dtype), image], dim=1)
