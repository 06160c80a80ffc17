"""The ANR losses (paper Eq. 3-7), one function each, and `ANRLoss` combining them with config weights.

Images are float (B, 3, H, W) in [-1, 1]; masks (B, 1, H, W) in [0, 1]. Every function returns a
0-dim tensor and reduces by the mean, so weights do not depend on the resolution or batch size.
"""

from __future__ import annotations

import logging
import os
from types import ModuleType
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from anr_studio.errors import AnrError
from anr_studio.lazy import optional_module
from anr_studio.model.config import LossConfig
from anr_studio.model.discriminator import discriminator_input
from anr_studio.model.renderer import RenderOutput

log = logging.getLogger(__name__)
DiscriminatorOutputs = Sequence[Sequence[torch.Tensor]]


def _l1_kernels() -> ModuleType | None:
    """Returns the `l1_triton` module, or None where Triton is missing (CPU-only torch builds)."""
    return optional_module("anr_studio.model.l1_triton")


class _L1Mean(torch.autograd.Function):
    """mean|a - b| with the `l1_triton` kernels: one read of a and b forward, one more backward (no gradient to b)."""

    @staticmethod
    def forward(ctx, a, b, kernels):
        ctx.save_for_backward(a, b)
        ctx.kernels = kernels
        return kernels.l1_sum(a, b) / a.numel()

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        return ctx.kernels.l1_grad(a, b, grad / a.numel()), None, None


def l1_mean(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Returns mean|a - b| (0-dim float32, computed in float32); ``b`` is a constant: no gradient reaches it.

    On CUDA, for tensors of one dtype and layout (feature maps), two Triton kernels do the work
    of eight torch ops (paper preset: feature matching reads ~380M elements a step); elsewhere,
    or with ``ANR_L1_KERNEL=torch`` (A/B checks), torch ops.
    """
    b = b.detach()
    kernels = _l1_kernels() if a.is_cuda and os.environ.get("ANR_L1_KERNEL", "triton") != "torch" else None
    if kernels is not None and kernels.flat_compatible(a, b):
        return _L1Mean.apply(a, b, kernels)
    return (a.float() - b.float()).abs().mean()


def pixel_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Returns sum(M * |pred - target|) / (C * sum(M)): the mask-weighted L1 of Eq. 3 (one term).

    ``pred``, ``target`` (B, C, H, W); ``mask`` (B, 1, H, W) the ground-truth (soft) mask. The
    mean over the masked pixels keeps the loss independent of how much of the crop the person fills;
    an empty mask gives 0.
    """
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
    """Returns sum_l w_l * mean|phi_l(pred) - phi_l(target)| (Eq. 5) for images (B, 3, H, W).

    ``extractor`` returns a list of feature maps (VGG19Features, or any small module in tests);
    ``layer_weights`` has one weight per feature map. No gradient flows into the target's features.
    """
    with torch.no_grad():
        target_features = extractor(target)
    pred_features = extractor(pred)
    if len(pred_features) != len(layer_weights):
        raise AnrError(f"feature_loss: the extractor returned {len(pred_features)} feature maps, expected {len(layer_weights)} (one per layer weight)")
    total = pred.new_zeros((), dtype=torch.float32)
    for w, p, t in zip(layer_weights, pred_features, target_features):
        total = total + w * l1_mean(p, t)
    return total


def feature_matching_loss(fake: DiscriminatorOutputs, real: DiscriminatorOutputs) -> torch.Tensor:
    """Returns mean over scales of sum over intermediate layers of mean|D_l(fake) - D_l(real)| (pix2pixHD).

    ``fake``/``real``: ``outputs[scale][layer]`` of MultiScaleDiscriminator; the last entry of each
    scale (the logits) is left out; the real features are detached.
    """
    total = fake[0][0].new_zeros((), dtype=torch.float32)
    for fake_scale, real_scale in zip(fake, real):
        for f, r in zip(fake_scale[:-1], real_scale[:-1]):
            total = total + l1_mean(f, r)
    return total / len(fake)


def gan_generator_loss(fake: DiscriminatorOutputs, mode: str = "lsgan") -> torch.Tensor:
    """Returns the generator side of Eq. 7, averaged over scales.

    LSGAN: mean((D(fake) - 1)^2); hinge: -mean(D(fake)).
    """
    total = fake[0][-1].new_zeros((), dtype=torch.float32)
    for scale in fake:
        logits = scale[-1].float()
        total = total + (((logits - 1) ** 2).mean() if mode == "lsgan" else -logits.mean())
    return total / len(fake)


def gan_discriminator_loss(real: DiscriminatorOutputs, fake: DiscriminatorOutputs, mode: str = "lsgan") -> torch.Tensor:
    """Returns the discriminator side of Eq. 7, averaged over scales.

    LSGAN: 0.5 * (mean((D(real) - 1)^2) + mean(D(fake)^2)); hinge: mean(relu(1 - D(real))) + mean(relu(1 + D(fake))).
    """
    total = real[0][-1].new_zeros((), dtype=torch.float32)
    for real_scale, fake_scale in zip(real, fake):
        r, f = real_scale[-1].float(), fake_scale[-1].float()
        if mode == "lsgan":
            total = total + 0.5 * (((r - 1) ** 2).mean() + (f**2).mean())
        else:
            total = total + F.relu(1 - r).mean() + F.relu(1 + f).mean()
    return total / len(real)


class ANRLoss(nn.Module):
    """Combines the ANR losses with the weights of a LossConfig.

    ``feature_source`` says how Eq. 5 is computed: "vgg19"; "unavailable" (VGG19 weights absent, the
    term is left out) or "discriminator" (absent, and ``feature_fallback_matching`` > 0 adds to
    discriminator feature matching instead), both with ``fallback_reason`` holding the message the
    trainer must log; or "off" (weight 0).
    """

    def __init__(self, config: LossConfig | None = None, vgg: nn.Module | None = None) -> None:
        super().__init__()
        config = config or LossConfig()
        config.validate()
        self.config = config
        self.fallback_reason = ""
        self.vgg: nn.Module | None = None
        if config.feature <= 0:
            self.feature_source = "off"
        elif vgg is not None:
            self.vgg, self.feature_source = vgg, "vgg19"
        else:
            from anr_studio.model.vgg import load_vgg19_features

            try:
                self.vgg, self.feature_source = load_vgg19_features(config.vgg_weights or None), "vgg19"
            except AnrError as exc:
                if not config.feature_fallback:
                    raise
                if config.feature_fallback_matching > 0:
                    self.feature_source = "discriminator"
                    instead = f"using discriminator feature matching with weight {self.feature_matching_weight:g} instead"
                else:
                    self.feature_source = "unavailable"
                    instead = ("training without it; "
                               "--set loss.feature_fallback_matching=10 puts discriminator feature matching in its place")
                self.fallback_reason = f"VGG19 feature loss unavailable ({exc}); {instead}"
                log.warning(self.fallback_reason)

    @property
    def feature_matching_weight(self) -> float:
        """Returns the weight of discriminator feature matching (plus `feature_fallback_matching` in fallback)."""
        extra = self.config.feature_fallback_matching if self.feature_source == "discriminator" else 0.0
        return self.config.feature_matching + extra

    @property
    def uses_discriminator(self) -> bool:
        """Whether any generator term (adversarial, feature matching) listens to a discriminator."""
        return self.config.adversarial > 0 or self.feature_matching_weight > 0

    def blend(self, out: RenderOutput, background: torch.Tensor, coarse_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Returns I' = M*I + (1-M)*B (B, 3, H, W) in float32.

        M is the predicted mask; DNR (no mask head) uses ``coarse_mask`` (B, 1, H, W), the rasterized
        body mask, and without one its RGB is taken as the whole image.
        """
        if out.mask_logits is None and coarse_mask is None:
            return out.rgb.float()
        return out.composite(background.float(), None if out.mask_logits is not None else coarse_mask.float()).float()

    def real_image(self, frame: torch.Tensor, mask: torch.Tensor | None = None,
                   background: torch.Tensor | None = None) -> torch.Tensor:
        """Returns what the discriminator judges as real (B, 3, H, W) float32 (``loss.discriminator_real``).

        "composite": M_gt*F + (1-M_gt)*B, the frame over the same plate as I' = M*I + (1-M)*B, so
        the background cannot tell the two apart; "frame" (or no mask/background given): F itself.
        """
        frame = frame.float()
        if self.config.discriminator_real == "frame" or mask is None or background is None:
            return frame
        return torch.lerp(background.float().expand_as(frame), frame, mask.float())  # one pass: B + M (F - B)

    def _fake_image(self, out: RenderOutput, blended: torch.Tensor, background: torch.Tensor) -> torch.Tensor:
        """Returns I' as the discriminator sees it: ``blended``, or with ``loss.gan_mask_grad`` off I' over a detached mask."""
        if self.config.gan_mask_grad or out.mask_logits is None:
            return blended
        return out.composite(background.float(), out.mask.detach()).float()

    def judged(self, image: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """Returns the discriminator's input for ``image``: with instance noise (``loss.discriminator_noise``)
        added to the image, then `discriminator_input` (the condition stays clean)."""
        sigma = self.config.discriminator_noise
        if sigma > 0:
            image = image + sigma * torch.randn_like(image)
        return discriminator_input(image, condition)

    def forward(self, out: RenderOutput, frame: torch.Tensor, mask: torch.Tensor, background: torch.Tensor,
                discriminator: nn.Module | None = None, condition: torch.Tensor | None = None,
                coarse_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Returns (weighted total, {term name: unweighted detached value}) for the generator side.

        ``out``: the renderer's output; ``frame`` (B, 3, H, W) in [-1, 1]; ``mask`` (B, 1, H, W) the
        ground-truth mask; ``background`` (B or 1, 3, H, W); ``discriminator`` (optional) is called
        on ``discriminator_input(image, condition)`` for the adversarial and feature-matching terms;
        it receives gradients here too, so zero its gradients before its own step.
        Terms absent for a renderer (J for 1-stage/DNR, the mask for DNR) are left out.
        """
        blended, terms, weighted = self._image_terms(out, frame, mask, background, coarse_mask)
        if discriminator is not None:
            fake = discriminator(self.judged(self._fake_image(out, blended, background), condition))
            real = None
            if self.feature_matching_weight > 0:
                with torch.no_grad():
                    real = discriminator(self.judged(self.real_image(frame, mask, background), condition))
            self._adversarial_terms(fake, real, terms, weighted)
        return self._total(terms, weighted, blended), terms

    def joint(self, out: RenderOutput, frame: torch.Tensor, mask: torch.Tensor, background: torch.Tensor,
              discriminator: Callable[[torch.Tensor], DiscriminatorOutputs], condition: torch.Tensor | None = None,
              coarse_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        """Returns (generator total, discriminator loss, terms) from ONE discriminator pass per image.

        The same as `forward` followed by `discriminator_loss` (the discriminator judges the real
        frame and I' with the same weights in both), but each image goes through the discriminator
        once, not twice: 7 of the 9 discriminator passes' worth of work in a training step, not 9.
        Real and fake go in separate calls: features sliced from one [real; fake] batch would give
        feature matching's gradient a slice of a zero-filled batch to add up, in the wrong layout.
        Both losses share that graph, so the caller must back-propagate each into its own
        parameters only: ``total.backward(inputs=renderer and texture parameters, retain_graph=True)``
        and ``d_loss.backward(inputs=discriminator parameters)``; a plain ``backward()`` would let
        the discriminator's loss reach the renderer. ``terms`` also holds "discriminator".
        """
        blended, terms, weighted = self._image_terms(out, frame, mask, background, coarse_mask)
        real = discriminator(self.judged(self.real_image(frame, mask, background), condition))
        fake = discriminator(self.judged(self._fake_image(out, blended, background), condition))
        self._adversarial_terms(fake, real, terms, weighted)
        d_loss = gan_discriminator_loss(real, fake, self.config.gan_mode)
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
        if self.feature_source == "vgg19":
            add("feature", c.feature, lambda: feature_loss(blended, frame, self.vgg, c.vgg_layer_weights))
        return blended, terms, weighted

    def _adversarial_terms(self, fake: DiscriminatorOutputs, real: DiscriminatorOutputs | None,
                           terms: dict[str, torch.Tensor], weighted: list[torch.Tensor]) -> None:
        """Adds feature matching (when ``real`` is given) and the generator's adversarial term."""
        add = self._adder(terms, weighted)
        if real is not None and self.feature_matching_weight > 0:
            add("feature_matching", self.feature_matching_weight, lambda: feature_matching_loss(fake, real))
        add("adversarial", self.config.adversarial, lambda: gan_generator_loss(fake, self.config.gan_mode))

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

    def discriminator_loss(self, discriminator: nn.Module, frame: torch.Tensor, blended: torch.Tensor,
                           condition: torch.Tensor | None = None, mask: torch.Tensor | None = None,
                           background: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Returns (loss, {"d_real", "d_fake", "d_total"}) of the discriminator side of Eq. 7.

        ``blended`` (B, 3, H, W) is I' from ``blend``; it is detached here so no gradient reaches R or T.
        The real side is `real_image` (``mask`` and ``background`` as in `forward`).
        """
        real = discriminator(self.judged(self.real_image(frame, mask, background), condition))
        fake = discriminator(self.judged(blended.detach().float(), condition))
        loss = gan_discriminator_loss(real, fake, self.config.gan_mode)
        r = torch.stack([s[-1].float().mean() for s in real]).mean().detach()
        f = torch.stack([s[-1].float().mean() for s in fake]).mean().detach()
        return loss, {"d_real": r, "d_fake": f, "d_total": loss.detach()}
