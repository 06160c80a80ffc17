"""The ANR losses (paper Eq. 3-7) and `ANRLoss` combining them with config weights. Images are float (B, 3, H, W)
in [-1, 1]; masks (B, 1, H, W) in [0, 1]; each loss is a 0-dim mean."""

from __future__ import annotations

import logging
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from anr_studio.errors import AnrError
from anr_studio.model.config import LossConfig
from anr_studio.model.discriminator import discriminator_input
from anr_studio.model.renderer import RenderOutput

log = logging.getLogger(__name__)
DiscriminatorOutputs = Sequence[Sequence[torch.Tensor]]


def pixel_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Returns sum(M * |pred - target|) / (C * sum(M)), the mask-weighted L1 of Eq. 3 (0 for an empty mask), of
    ``pred``, ``target`` (B, C, H, W) and the ground-truth (soft) ``mask`` M (B, 1, H, W)."""
    weighted = (mask * (pred - target).abs()).sum()
    return weighted / (mask.sum() * pred.shape[1]).clamp_min(1e-6)


def mask_bce_loss(logits: torch.Tensor, target_mask: torch.Tensor) -> torch.Tensor:
    """Returns the mean binary cross-entropy (Eq. 4) of mask ``logits`` (B, 1, H, W) against a soft mask."""
    return F.binary_cross_entropy_with_logits(logits, target_mask.to(logits.dtype))


def tv_loss(image: torch.Tensor) -> torch.Tensor:
    """Returns mean|x[..., i+1, :] - x[..., i, :]| + mean|x[..., j+1] - x[..., j]| (Eq. 6, L1) of (B, C, H, W)."""
    dy = (image[..., 1:, :] - image[..., :-1, :]).abs().mean()
    dx = (image[..., :, 1:] - image[..., :, :-1]).abs().mean()
    return dy + dx


def feature_loss(pred: torch.Tensor, target: torch.Tensor, extractor: Callable[[torch.Tensor], list[torch.Tensor]],
                 layer_weights: Sequence[float]) -> torch.Tensor:
    """Returns sum_l w_l * mean|phi_l(pred) - phi_l(target)| (Eq. 5) for images (B, 3, H, W); ``extractor`` returns
    the feature maps phi_l, ``layer_weights`` one weight w_l per map."""
    with torch.no_grad():
        target_features = extractor(target)
    total = pred.new_zeros((), dtype=torch.float32)
    for w, p, t in zip(layer_weights, extractor(pred), target_features, strict=True):
        total = total + w * (p.float() - t.float()).abs().mean()
    return total


def gan_generator_loss(fake: DiscriminatorOutputs) -> torch.Tensor:
    """Returns the generator side of Eq. 7 (LSGAN), averaged over scales: mean((D(fake) - 1)^2)."""
    return sum(((scale[-1].float() - 1) ** 2).mean() for scale in fake) / len(fake)


def gan_discriminator_loss(real: DiscriminatorOutputs, fake: DiscriminatorOutputs) -> torch.Tensor:
    """Returns the discriminator side of Eq. 7 (LSGAN), averaged over scales:
    0.5 * (mean((D(real) - 1)^2) + mean(D(fake)^2))."""
    return sum(0.5 * (((r[-1].float() - 1) ** 2).mean() + (f[-1].float() ** 2).mean()) for r, f in zip(real, fake)) / len(real)


VGG_LAYER_WEIGHTS = (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0)
"""Weights of VGG19 relu1_1, relu2_1, relu3_1, relu4_1, relu5_1 in the feature loss (pix2pixHD)."""


class ANRLoss(nn.Module):
    """Combines the ANR losses with the weights of a LossConfig; without VGG19 weights the feature term is left
    out and ``fallback_reason`` says why."""

    def __init__(self, config: LossConfig, vgg: nn.Module | None = None) -> None:
        super().__init__()
        config.validate()
        self.config = config
        self.fallback_reason = ""
        if config.feature > 0 and vgg is None:
            from anr_studio.model.vgg import load_vgg19_features

            try:
                vgg = load_vgg19_features(config.vgg_weights or None)
            except AnrError as exc:
                # One short line for the log: the file and what went wrong, without the address or the socket error.
                what = str(exc).split(" (", 1)[0].split(" from ", 1)[0]
                self.fallback_reason = f"VGG19 loss off ({what}); training without it"
                log.warning(self.fallback_reason)
                log.debug("VGG19 weights: %s", exc)
        self.vgg: nn.Module | None = vgg if config.feature > 0 else None

    @property
    def uses_discriminator(self) -> bool:
        """Whether the adversarial term is on (the trainer builds a discriminator only then)."""
        return self.config.adversarial > 0

    def blend(self, out: RenderOutput, background: torch.Tensor, coarse_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Returns I' = M*I + (1-M)*B (B, 3, H, W) in float32; DNR uses ``coarse_mask`` (B, 1, H, W), else its RGB alone."""
        if out.mask_logits is None and coarse_mask is None:
            return out.rgb.float()
        return out.composite(background.float(), None if out.mask_logits is not None else coarse_mask.float()).float()

    def forward(self, out: RenderOutput, frame: torch.Tensor, mask: torch.Tensor, background: torch.Tensor,
                coarse_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Returns (weighted total, {term: unweighted detached value}) of the terms that need no discriminator;
        ``frame`` (B, 3, H, W) in [-1, 1], ``mask`` (B, 1, H, W), ``background`` (B or 1, 3, H, W)."""
        blended, terms, weighted = self._image_terms(out, frame, mask, background, coarse_mask)
        return self._total(terms, weighted, blended), terms

    def joint(self, out: RenderOutput, frame: torch.Tensor, mask: torch.Tensor, background: torch.Tensor,
              discriminator: Callable[[torch.Tensor], DiscriminatorOutputs], normals: torch.Tensor,
              coarse_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        """Returns (generator total, discriminator loss, terms) from ONE discriminator pass per image. Both losses
        share that graph: back-propagate each into its own parameters only (``backward(inputs=...)``)."""
        blended, terms, weighted = self._image_terms(out, frame, mask, background, coarse_mask)
        # Real: the frame over the plate I' shows (M_gt*F + (1-M_gt)*B, one lerp), so the background cannot
        # tell real from fake; fake: I' over a detached mask, so the discriminator's terms shape colours only.
        frame = frame.float()
        real = torch.lerp(background.float().expand_as(frame), frame, mask.float())
        fake = blended if out.mask_logits is None else out.composite(background.float(), out.mask.detach()).float()
        real, fake = (discriminator(discriminator_input(x, normals)) for x in (real, fake))
        add = self._adder(terms, weighted)
        add("adversarial", self.config.adversarial, lambda: gan_generator_loss(fake))
        d_loss = gan_discriminator_loss(real, fake)
        total = self._total(terms, weighted, blended)
        terms["discriminator"] = d_loss.detach()
        return total, d_loss, terms

    def _image_terms(self, out: RenderOutput, frame: torch.Tensor, mask: torch.Tensor, background: torch.Tensor,
                     coarse_mask: torch.Tensor | None) -> tuple[torch.Tensor, dict[str, torch.Tensor], list[torch.Tensor]]:
        """Returns (I' (B, 3, H, W) float32, terms, weighted terms) of every loss that needs no discriminator."""
        c = self.config
        frame, mask = frame.float(), mask.float()
        rgb = out.rgb.float()
        terms: dict[str, torch.Tensor] = {}
        weighted: list[torch.Tensor] = []
        add = self._adder(terms, weighted)
        add("pixel", c.pixel, lambda: pixel_loss(rgb, frame, mask))
        if out.coarse_rgb is not None:
            add("pixel_coarse", c.pixel_coarse, lambda: pixel_loss(out.coarse_rgb.float(), frame, mask))
        blended = self.blend(out, background, coarse_mask)
        if out.mask_logits is not None:
            logits = out.mask_logits.float()
            add("mask", c.mask, lambda: mask_bce_loss(logits, mask))
            add("tv_mask", c.tv_mask, lambda: tv_loss(torch.sigmoid(logits)))
        add("tv_image", c.tv_image, lambda: tv_loss(blended))
        if self.vgg is not None:
            add("feature", c.feature, lambda: feature_loss(blended, frame, self.vgg, VGG_LAYER_WEIGHTS))
        return blended, terms, weighted

    @staticmethod
    def _adder(terms: dict[str, torch.Tensor], weighted: list[torch.Tensor]) -> Callable[[str, float, Callable[[], torch.Tensor]], None]:
        """Returns add(name, weight, fn): records fn() (detached) in ``terms`` and weight * fn() in ``weighted`` if weight > 0."""
        def add(name: str, weight: float, fn: Callable[[], torch.Tensor]) -> None:
            if weight > 0:
                value = fn()
                terms[name] = value.detach()
                weighted.append(weight * value)
        return add

    @staticmethod
    def _total(terms: dict[str, torch.Tensor], weighted: list[torch.Tensor], like: torch.Tensor) -> torch.Tensor:
        """Returns the sum of ``weighted`` (0 when empty) and records it as terms["total"]."""
        total = torch.stack(weighted).sum() if weighted else like.new_zeros(())
        terms["total"] = total.detach()
        return total
