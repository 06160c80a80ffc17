"""Renderers: the two-stage ANR (R1 then R2 with normals), its one-stage ablation, and DNR."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from anr_studio.errors import AnrError, expect_shape
from anr_studio.model.config import RENDERER_KINDS, ModelConfig
from anr_studio.model.images import composite
from anr_studio.model.unet import UNet


@dataclass
class RenderOutput:
    """What a renderer returns; every image is float (B, ., H, W)."""

    rgb: torch.Tensor
    """Final image I (B, 3, H, W) in [-1, 1] (tanh)."""
    mask_logits: torch.Tensor | None
    """Soft foreground mask logits (B, 1, H, W); M = sigmoid. None for DNR (no mask)."""
    coarse_rgb: torch.Tensor | None
    """Coarse image J = latent[:, :3] (B, 3, H, W) of the two-stage ANR; None otherwise."""

    @property
    def mask(self) -> torch.Tensor | None:
        """Returns M = sigmoid(mask_logits) (B, 1, H, W) in [0, 1], or None."""
        return None if self.mask_logits is None else torch.sigmoid(self.mask_logits)

    def composite(self, background: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Returns I' = M*I + (1-M)*B (B, 3, H, W) over ``background`` (B or 1, 3, H, W); ``mask`` (B, 1, H, W)
        replaces the predicted mask (DNR has none: pass the coarse body mask)."""
        m = self.mask if mask is None else mask
        if m is None:
            raise AnrError("RenderOutput.composite: this renderer predicts no mask, expected a mask argument (the coarse body mask)")
        return composite(self.rgb, m.to(self.rgb.dtype), background.to(self.rgb.dtype))


class ANRRenderer(nn.Module):
    """Articulated Neural Rendering's renderer R.

    Two-stage (default): R1(neural image) -> latent (B, latent_channels, H, W); J = tanh(latent[:, :3]);
    R2(cat(latent, normals)) -> RGB = tanh(out[:, :3]), mask logits out[:, 3:4].
    One-stage (``two_stage=False``, ablation): one U-Net from cat(neural image, normals); no J."""

    def __init__(self, config: ModelConfig, two_stage: bool = True) -> None:
        super().__init__()
        config.validate()
        self.config = config
        self.two_stage = bool(two_stage)
        c_tex = config.texture.channels
        if self.two_stage:
            self.r1 = UNet(c_tex, config.latent_channels, config.r1)
            self.r2 = UNet(config.latent_channels + 3, 4, config.r2)
        else:
            self.r1 = None
            self.r2 = UNet(c_tex + 3, 4, config.r2)

    def forward(self, neural: torch.Tensor, normals: torch.Tensor) -> RenderOutput:
        """Returns RenderOutput for ``neural`` (B, C, H, W) and ``normals`` (B, 3, H, W)."""
        dims = expect_shape(neural, ("B", self.config.texture.channels, "H", "W"), "neural image", "ANRRenderer")
        expect_shape(normals, (dims["B"], 3, dims["H"], dims["W"]), "normal image", "ANRRenderer")
        normals = normals.to(neural.dtype)
        coarse = None
        if self.two_stage:
            latent = self.r1(neural)
            coarse = torch.tanh(latent[:, :3])
            out = self.r2(torch.cat([latent, normals], dim=1))
        else:
            out = self.r2(torch.cat([neural, normals], dim=1))
        return RenderOutput(rgb=torch.tanh(out[:, :3]), mask_logits=out[:, 3:4], coarse_rgb=coarse)


class DNRRenderer(nn.Module):
    """Deferred Neural Rendering baseline: one U-Net (sized by ``config.r2``) neural image -> RGB, no mask (composite
    with the coarse body mask); normals are accepted for the ANR signature and ignored."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        self.net = UNet(config.texture.channels, 3, config.r2)

    def forward(self, neural: torch.Tensor, normals: torch.Tensor | None = None) -> RenderOutput:
        """Returns RenderOutput(rgb (B, 3, H, W), None, None) for ``neural`` (B, C, H, W)."""
        expect_shape(neural, ("B", self.config.texture.channels, "H", "W"), "neural image", "DNRRenderer")
        return RenderOutput(rgb=torch.tanh(self.net(neural)), mask_logits=None, coarse_rgb=None)


def build_renderer(config: ModelConfig, kind: str = "anr") -> nn.Module:
    """Returns the renderer ``kind``: "anr" (two-stage), "anr-1stage" or "dnr"."""
    if kind not in RENDERER_KINDS:
        raise AnrError(f"renderer kind {kind!r} is unknown, expected one of {', '.join(RENDERER_KINDS)}")
    return DNRRenderer(config) if kind == "dnr" else ANRRenderer(config, two_stage=kind == "anr")

