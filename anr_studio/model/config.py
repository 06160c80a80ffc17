"""Config dataclasses of the model package: neural texture, U-Nets, discriminator and loss weights.

`anr_studio.train` composes them into a run config (`TrainConfig.model`, `TrainConfig.loss`);
avatar files store `ModelConfig` and checkpoints the whole run config as JSON. Every field has a
docstring; presets are `paper`, `fast`, `tiny` (`ModelConfig.preset(name)`, `LossConfig.preset(name)`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from anr_studio.errors import AnrError
from anr_studio.model.configtools import config_from_dict, config_to_dict

PRESETS = ("paper", "fast", "tiny")
NORMS = ("instance", "batch", "none")
ACTIVATIONS = ("relu", "leaky_relu", "elu", "gelu", "silu")
UPSAMPLE_MODES = ("transpose", "bilinear")
GAN_MODES = ("lsgan", "hinge")
DISCRIMINATOR_REAL = ("composite", "frame")
CONDITIONS = ("normals", "none")


def _check_choice(value: str, choices: tuple[str, ...], where: str) -> None:
    if value not in choices:
        raise AnrError(f"config: {where} = {value!r}, expected one of {', '.join(choices)}")


def _check_positive(value: float, where: str, minimum: float = 1) -> None:
    if value < minimum:
        raise AnrError(f"config: {where} = {value}, expected at least {minimum}")


@dataclass
class TextureConfig:
    """One neural texture per identity: C x S x S learnable features sampled through the UV image."""

    channels: int = 8
    """Feature channels C of the neural texture (paper: 8)."""
    size: int = 256
    """Side S of the square texture in texels (paper: 256)."""
    init_seed: int = 0
    """Seed of the uniform [-1, 1] initialisation; every identity starts from the same values."""

    def validate(self, where: str = "model.texture") -> None:
        """Raises AnrError when a value is out of range."""
        _check_positive(self.channels, f"{where}.channels")
        _check_positive(self.size, f"{where}.size", 2)


@dataclass
class UNetConfig:
    """A pix2pix-style U-Net: stride-2 4x4 convolutions down, transposed convolutions up, skips."""

    depth: int = 8
    """Number of stride-2 levels; the bottleneck runs at 1/2**depth of the input size."""
    base_channels: int = 64
    """Width of the first (full-resolution / 2) level; each level doubles it up to max_channels."""
    max_channels: int = 512
    """Upper bound of any level's width."""
    norm: str = "instance"
    """Normalisation after each inner convolution: "instance", "batch" or "none"."""
    down_activation: str = "leaky_relu"
    """Encoder activation (pix2pix: leaky_relu with slope 0.2)."""
    up_activation: str = "relu"
    """Decoder activation (pix2pix: relu)."""
    upsample: str = "transpose"
    """Decoder upsampling: "transpose" (4x4 stride-2, pix2pix) or "bilinear" (+3x3 conv, no checkerboard)."""
    conv_bias_before_norm: bool = True
    """Whether a convolution followed by an instance norm has a bias (batch-norm levels never have
    one). The norm subtracts the per-channel mean, so that bias cancels exactly and only costs
    time (presets: False). True is the layout of files written before this field existed; stored
    configs without it keep True, so older avatars, checkpoints and their optimiser state load
    unchanged."""

    def validate(self, where: str) -> None:
        """Raises AnrError when a value is out of range."""
        _check_positive(self.depth, f"{where}.depth")
        _check_positive(self.base_channels, f"{where}.base_channels")
        _check_positive(self.max_channels, f"{where}.max_channels")
        _check_choice(self.norm, NORMS, f"{where}.norm")
        _check_choice(self.down_activation, ACTIVATIONS, f"{where}.down_activation")
        _check_choice(self.up_activation, ACTIVATIONS, f"{where}.up_activation")
        _check_choice(self.upsample, UPSAMPLE_MODES, f"{where}.upsample")


@dataclass
class DiscriminatorConfig:
    """pix2pixHD multi-scale PatchGAN discriminator."""

    num_scales: int = 3
    """Number of discriminators, each on a 2x smaller copy of the input (pix2pixHD: 3)."""
    num_layers: int = 3
    """Stride-2 convolutions per discriminator (receptive field 70 px for 3)."""
    base_channels: int = 64
    """Width of the first layer; doubled per layer up to 512."""
    norm: str = "instance"
    """Normalisation of the inner layers: "instance", "batch" or "none"."""
    condition: str = "normals"
    """What the discriminator sees beside the image: "normals" (the rasterized normal image,
    fixed geometry that does not move while the texture learns) or "none"."""
    conv_bias_before_norm: bool = True
    """Whether a convolution followed by a norm layer has a bias (the norm cancels it; presets:
    False). True is the layout of files written before this field existed (see `UNetConfig`)."""

    def validate(self, where: str = "model.discriminator") -> None:
        """Raises AnrError when a value is out of range."""
        _check_positive(self.num_scales, f"{where}.num_scales")
        _check_positive(self.num_layers, f"{where}.num_layers")
        _check_positive(self.base_channels, f"{where}.base_channels")
        _check_choice(self.norm, NORMS, f"{where}.norm")
        _check_choice(self.condition, CONDITIONS, f"{where}.condition")

    @property
    def condition_channels(self) -> int:
        """Returns the number of conditioning channels concatenated before the image."""
        return 3 if self.condition == "normals" else 0


@dataclass
class ModelConfig:
    """Neural texture, renderer U-Nets and discriminator sizes.

    The two-stage ANR uses `r1` (neural image -> latent) and `r2` (latent + normals -> RGB + mask);
    the one-stage ANR ablation and the DNR baseline use a single U-Net sized by `r2`.
    """

    texture: TextureConfig = field(default_factory=TextureConfig)
    """The per-identity neural texture."""
    latent_channels: int = 8
    """Channels of R1's output; the first 3 are the coarse image J (supervised by the pixel loss)."""
    coarse_activation: str = "tanh"
    """Applied to latent[:, :3] to form J: "tanh" (J in [-1, 1] like the images) or "none" (raw).
    R2 always receives the raw latent."""
    r1: UNetConfig = field(default_factory=UNetConfig)
    """First-stage U-Net R1."""
    r2: UNetConfig = field(default_factory=UNetConfig)
    """Second-stage U-Net R2 (also the only U-Net of the one-stage ANR and of DNR)."""
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    """Multi-scale PatchGAN used by the adversarial and feature-matching losses."""

    def validate(self) -> None:
        """Raises AnrError when a value is out of range."""
        self.texture.validate()
        if self.latent_channels < 3:
            raise AnrError(f"config: model.latent_channels = {self.latent_channels}, expected at least 3 (J = latent[:, :3])")
        _check_choice(self.coarse_activation, ("tanh", "none"), "model.coarse_activation")
        self.r1.validate("model.r1")
        self.r2.validate("model.r2")
        self.discriminator.validate()

    def to_dict(self) -> dict[str, Any]:
        """Returns the config as a JSON-ready dict (what avatar files store)."""
        return config_to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "model") -> "ModelConfig":
        """Returns the validated config stored in ``data``; AnrError names any unknown or mistyped key."""
        config = config_from_dict(cls, data, where)
        config.validate()
        return config

    @classmethod
    def preset(cls, name: str) -> "ModelConfig":
        """Returns the `paper` (1024², ~54M per U-Net), `fast` (512², interactive) or `tiny` (CPU tests) sizes."""
        _check_choice(name, PRESETS, "preset")
        if name == "paper":
            # pix2pix's 8-level U-Net (ngf 64, max 512): about 54M parameters per U-Net.
            unet = UNetConfig(depth=8, base_channels=64, max_channels=512, conv_bias_before_norm=False)
            disc = DiscriminatorConfig(base_channels=64, conv_bias_before_norm=False)
            return cls(texture=TextureConfig(8, 256), r1=unet, r2=dataclasses.replace(unet), discriminator=disc)
        if name == "fast":
            unet = UNetConfig(depth=7, base_channels=32, max_channels=256, conv_bias_before_norm=False)
            disc = DiscriminatorConfig(base_channels=32, conv_bias_before_norm=False)
            return cls(texture=TextureConfig(8, 256), r1=unet, r2=dataclasses.replace(unet), discriminator=disc)
        unet = UNetConfig(depth=3, base_channels=8, max_channels=16, conv_bias_before_norm=False)
        disc = DiscriminatorConfig(num_scales=2, num_layers=2, base_channels=8, conv_bias_before_norm=False)
        return cls(texture=TextureConfig(8, 32), r1=unet, r2=dataclasses.replace(unet), discriminator=disc)


@dataclass
class LossConfig:
    """Weights of every loss term (0 turns a term off) and how the feature loss is computed.

    The paper does not list its weights; these follow pix2pixHD's balance (the VGG feature term 10x
    the adversarial term) with the L1 pixel terms on images in [-1, 1], except that discriminator
    feature matching is off and the adversarial term is halved: on the GPU both painted stripes
    (see `feature_matching` and `adversarial`).
    """

    pixel: float = 10.0
    """Eq. 3, final image: L1 of (I - frame) weighted by the ground-truth mask."""
    pixel_coarse: float = 10.0
    """Eq. 3, coarse image: L1 of (J - frame) weighted by the ground-truth mask."""
    mask: float = 5.0
    """Eq. 4: binary cross-entropy of the predicted mask logits against the soft ground-truth mask."""
    feature: float = 10.0
    """Eq. 5: VGG19 feature L1 between the blended image I' = M*I + (1-M)*B and the frame."""
    feature_matching: float = 0.0
    """Discriminator feature matching (pix2pixHD, weight 10 there) between D(I') and D(real). Off by
    default: on the GPU it painted diagonal colour stripes over the whole figure and cost 2-4 dB of
    held-out PSNR at every weight we tried (10, 11, 20), with or without the adversarial term; the
    adversarial term alone left no stripes (docs/benchmarks.md, "Training stability")."""
    tv_image: float = 0.1
    """Eq. 6: total variation (L1) of the blended image I'."""
    tv_mask: float = 0.1
    """Eq. 6: total variation (L1) of the predicted mask M."""
    adversarial: float = 0.5
    """Eq. 7: generator side of the GAN loss. 0.5, not pix2pixHD's 1: with no VGG19 weights and no
    feature matching nothing else balances it, and at 1 a 4000-step GPU run painted diagonal rows of
    green dots over the clothes and lost 1.7-2.8 dB of held-out PSNR against 0.5 (docs/benchmarks.md,
    "Sixth session"). 0 leaves the discriminator out of training altogether."""
    gan_mode: str = "lsgan"
    """GAN objective: "lsgan" (least squares, pix2pixHD) or "hinge"."""
    discriminator_real: str = "composite"
    """What the discriminator (and feature matching) takes as real: "composite", the frame over the
    background plate through the ground-truth mask, M_gt*F + (1-M_gt)*B, so that real and fake show the
    same plate; or "frame", the frame itself. With "frame" the plate's differences from the frame's
    background (sensor noise, light) tell real from fake at a glance, and the generator can answer only
    through its mask. "composite" removes that cue; it does not end the discriminator's episodic wins
    on the GPU (docs/benchmarks.md, "Training stability")."""
    gan_mask_grad: bool = False
    """Whether the discriminator's terms (adversarial, feature matching) reach the predicted mask. False:
    they judge I' with the mask detached, so they shape the colours only and the mask learns from its
    BCE and TV alone. With True the generator gives up its mask whenever the discriminator wins (held-out
    mask IoU 0.84 -> 0.38 for hundreds of steps); with False the IoU stayed >= 0.80 over 3000 and 6000
    steps on the GPU (docs/benchmarks.md, "Training stability")."""
    discriminator_noise: float = 0.0
    """Instance noise: the standard deviation of Gaussian noise added to every image the discriminator
    judges, real and fake (images in [-1, 1]), to drown cues the generator cannot learn (the frames'
    sensor noise, 8-bit steps). Off by default: 0.05 did not stop the discriminator's episodic wins in
    the one 75 s GPU run it had (docs/benchmarks.md, "Training stability"), and it costs ~1% of a step."""
    vgg_layer_weights: tuple[float, ...] = (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0)
    """Weights of VGG19 relu1_1, relu2_1, relu3_1, relu4_1, relu5_1 in the feature loss (pix2pixHD)."""
    vgg_weights: str = ""
    """Path of torchvision's vgg19-dcbbe9de.pth; empty = the torch hub cache (TORCH_HOME)."""
    feature_fallback: bool = True
    """When the VGG19 weights are absent, train without the VGG19 term (and say so) instead of failing."""
    feature_fallback_matching: float = 0.0
    """In that fallback, the weight added to discriminator feature matching in place of the VGG19 term
    (pix2pixHD's stand-in; 10 would match `feature`). 0 by default: see `feature_matching`."""

    def validate(self) -> None:
        """Raises AnrError when a value is out of range."""
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, float) and value < 0:
                raise AnrError(f"config: loss.{f.name} = {value}, expected a weight >= 0")
        _check_choice(self.gan_mode, GAN_MODES, "loss.gan_mode")
        _check_choice(self.discriminator_real, DISCRIMINATOR_REAL, "loss.discriminator_real")
        if len(self.vgg_layer_weights) != 5:
            raise AnrError(f"config: loss.vgg_layer_weights has {len(self.vgg_layer_weights)} items, expected 5")

    @classmethod
    def preset(cls, name: str) -> "LossConfig":
        """Returns the loss weights of a preset (all presets share them today)."""
        _check_choice(name, PRESETS, "preset")
        return cls()
