"""Config dataclasses of the model package: neural texture, U-Nets, discriminator and loss weights (avatar files
store `ModelConfig`; presets `paper`, `fast`, `tiny`)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from anr_studio.errors import AnrError
from anr_studio.model.configtools import config_from_dict, config_to_dict

PRESETS = ("paper", "fast", "tiny")
UPSAMPLE_MODES = ("transpose", "bilinear")
RENDERER_KINDS = ("anr", "anr-1stage", "dnr")  # two-stage ANR, its one-stage ablation, the DNR baseline


def check_range(value: Any, where: str, low: float = 1, high: float | None = None, choices: tuple = ()) -> None:
    """Raises AnrError naming ``where`` unless ``value`` is one of ``choices`` or, without them, in [low, high]."""
    if choices and value not in choices:
        raise AnrError(f"config: {where} = {value!r}, expected one of {', '.join(choices)}")
    if not choices and (value < low or (high is not None and value > high)):
        span = f"at least {low}" if high is None else f"from {low} to {high}"
        raise AnrError(f"config: {where} = {value}, expected {span}")


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
        check_range(self.channels, f"{where}.channels", 1, 64)
        check_range(self.size, f"{where}.size", 2, 8192)


@dataclass
class UNetConfig:
    """A pix2pix-style U-Net: stride-2 4x4 convolutions down, transposed convolutions up, skips, instance norms."""

    depth: int = 8
    """Number of stride-2 levels; the bottleneck runs at 1/2**depth of the input size."""
    base_channels: int = 64
    """Width of the first (full-resolution / 2) level; each level doubles it up to max_channels."""
    max_channels: int = 512
    """Upper bound of any level's width."""
    upsample: str = "transpose"
    """Decoder upsampling: "transpose" (4x4 stride-2, pix2pix) or "bilinear" (+3x3 conv, no checkerboard)."""
    conv_bias_before_norm: bool = False
    """Whether a convolution followed by an instance norm has a bias; the norm subtracts the channel mean, so
    such a bias cancels and only costs time."""

    def validate(self, where: str) -> None:
        """Raises AnrError when a value is out of range."""
        check_range(self.depth, f"{where}.depth", 1, 12)
        check_range(self.base_channels, f"{where}.base_channels", 1, 4096)
        check_range(self.max_channels, f"{where}.max_channels", 1, 4096)
        check_range(self.upsample, f"{where}.upsample", choices=UPSAMPLE_MODES)


@dataclass
class DiscriminatorConfig:
    """pix2pixHD multi-scale PatchGAN discriminator; it sees the rasterized normal image beside the image."""

    num_scales: int = 3
    """Number of discriminators, each on a 2x smaller copy of the input (pix2pixHD: 3)."""
    num_layers: int = 3
    """Stride-2 convolutions per discriminator (receptive field 70 px for 3)."""
    base_channels: int = 64
    """Width of the first layer; doubled per layer up to 512."""
    conv_bias_before_norm: bool = False
    """Whether a convolution followed by an instance norm has a bias (the norm cancels it)."""

    def validate(self, where: str = "model.discriminator") -> None:
        """Raises AnrError when a value is out of range."""
        check_range(self.num_scales, f"{where}.num_scales", 1, 8)
        check_range(self.num_layers, f"{where}.num_layers", 1, 8)
        check_range(self.base_channels, f"{where}.base_channels", 1, 4096)


@dataclass
class ModelConfig:
    """Neural texture, renderer U-Nets and discriminator sizes: two-stage ANR uses `r1` (neural image -> latent) and
    `r2` (latent + normals -> RGB + mask); the one-stage ablation and DNR use a single U-Net sized by `r2`."""

    texture: TextureConfig = field(default_factory=TextureConfig)
    """The per-identity neural texture."""
    latent_channels: int = 8
    """Channels of R1's output; the first 3 are the coarse image J (supervised by the pixel loss)."""
    r1: UNetConfig = field(default_factory=UNetConfig)
    """First-stage U-Net R1."""
    r2: UNetConfig = field(default_factory=UNetConfig)
    """Second-stage U-Net R2 (also the only U-Net of the one-stage ANR and of DNR)."""
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    """Multi-scale PatchGAN of the adversarial loss."""

    def validate(self) -> None:
        """Raises AnrError when a value is out of range."""
        self.texture.validate()
        if not 3 <= self.latent_channels <= 256:
            raise AnrError(f"config: model.latent_channels = {self.latent_channels}, expected at least 3 (J = latent[:, :3])")
        self.r1.validate("model.r1")
        self.r2.validate("model.r2")
        self.discriminator.validate()

    def to_dict(self) -> dict[str, Any]:
        """Returns the config as a JSON-ready dict (what avatar files store)."""
        return config_to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "model") -> "ModelConfig":
        """Returns the validated config stored in ``data`` (`stored_model_dict` reads earlier versions' files);
        AnrError names any other unknown or mistyped key."""
        config = config_from_dict(cls, stored_model_dict(data), where)
        config.validate()
        return config

    @classmethod
    def preset(cls, name: str) -> "ModelConfig":
        """Returns the `paper` (1024², ~54M per U-Net), `fast` (interactive) or `tiny` (CPU tests) sizes."""
        check_range(name, "preset", choices=PRESETS)
        # (texture size, U-Net depth, base and max channels, discriminator); paper: pix2pix's U-Net, ~54M parameters
        texture, depth, base, most, disc = {
            "paper": (256, 8, 64, 512, DiscriminatorConfig(base_channels=64)),
            "fast": (256, 7, 32, 256, DiscriminatorConfig(base_channels=32)),
            "tiny": (32, 3, 8, 16, DiscriminatorConfig(num_scales=2, num_layers=2, base_channels=8)),
        }[name]
        unet = UNetConfig(depth=depth, base_channels=base, max_channels=most)
        return cls(texture=TextureConfig(8, texture), r1=unet, r2=dataclasses.replace(unet), discriminator=disc)


@dataclass
class LossConfig:
    """Weights of the loss terms (0 turns a term off) on images in [-1, 1]."""

    pixel: float = 10.0
    """Eq. 3, final image: L1 of (I - frame) weighted by the ground-truth mask."""
    pixel_coarse: float = 10.0
    """Eq. 3, coarse image: L1 of (J - frame) weighted by the ground-truth mask."""
    mask: float = 5.0
    """Eq. 4: binary cross-entropy of the predicted mask logits against the soft ground-truth mask."""
    feature: float = 10.0
    """Eq. 5: VGG19 feature L1 between the blended image I' = M*I + (1-M)*B and the frame; where the
    VGG19 weights are absent the term is left out, with a warning."""
    tv_image: float = 0.1
    """Eq. 6: total variation (L1) of the blended image I'."""
    tv_mask: float = 0.1
    """Eq. 6: total variation (L1) of the predicted mask M."""
    adversarial: float = 0.5
    """Eq. 7: generator side of the GAN loss; the discriminator judges I' over a detached mask, so the
    term shapes colours only. 0 trains no discriminator."""
    region_mix: float = 10.0
    """Region-mix term (anr_studio.train.region_mix): a texture with another identity's region pasted in must render
    as that identity inside the region and as itself outside, so that try-on swaps are honoured."""
    vgg_weights: str = ""
    """Path of torchvision's vgg19-dcbbe9de.pth; empty = the torch hub cache (TORCH_HOME)."""

    def validate(self) -> None:
        """Raises AnrError when a value is out of range."""
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, float) and value < 0:
                raise AnrError(f"config: loss.{f.name} = {value}, expected a weight >= 0")


RETIRED_KEYS = {
    "data": ("random_crop", "grid_jitter"),
    "optim": ("discriminator", "ema_decay", "keyframe_steps", "non_keyframe_steps", "keep_checkpoints", "compile", "betas"),
    "model": ("coarse_activation",),
    "model.r1": ("down_activation", "up_activation", "norm"),
    "model.r2": ("down_activation", "up_activation", "norm"),
    "model.discriminator": ("condition", "norm"),
    "loss": ("gan_mode", "feature_matching", "feature_fallback", "feature_fallback_matching", "discriminator_noise",
             "discriminator_real", "gan_mask_grad", "vgg_layer_weights"),
}
"""Keys of configs stored by earlier versions that no longer exist, by section: dropped when a stored
config is read (their behaviour is now fixed); any other unknown key is still an error."""

RETIRED_VALUES = {"down_activation": "leaky_relu", "up_activation": "relu", "gan_mode": "lsgan", "keyframe_steps": 1,
                  "non_keyframe_steps": 1, "grid_jitter": 0.02, "norm": "instance",
                  "betas": [0.5, 0.999]}
"""The fixed behaviour of retired keys that once had other choices: a stored config with another value
was made by what this version no longer does, and is refused rather than read as something else."""


def without_retired(data: dict, section: str) -> dict:
    """Returns a copy of the stored config section ``data`` without the `RETIRED_KEYS` of ``section``
    (AnrError where one holds another value than its `RETIRED_VALUES`)."""
    retired = RETIRED_KEYS.get(section, ())
    for key in set(retired).intersection(data).intersection(RETIRED_VALUES):
        if data[key] != RETIRED_VALUES[key]:
            raise AnrError(f"config: {section}.{key} is {data[key]!r}, which this version no longer supports, "
                           f"expected {RETIRED_VALUES[key]!r} (train the avatar again with this version)")
    return {k: v for k, v in data.items() if k not in retired}


def stored_model_dict(data: dict) -> dict:
    """Returns a copy of a stored `ModelConfig` dict in the current schema: `RETIRED_KEYS` dropped, a missing
    ``conv_bias_before_norm`` read as True (files that predate it have the biases)."""
    data = without_retired(data, "model")
    for name in ("r1", "r2", "discriminator"):
        if isinstance(data.get(name), dict):
            data[name] = {"conv_bias_before_norm": True, **without_retired(data[name], f"model.{name}")}
    return data
