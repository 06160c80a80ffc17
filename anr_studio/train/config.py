"""Training configuration: data, optimisation, and the model/loss configs of `anr_studio.model`; one `TrainConfig`
describes a run (stored as JSON, edited with `--set key=value`, presets in `anr_studio.train.presets`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from anr_studio.errors import AnrError
from anr_studio.model.config import (RENDERER_KINDS, LossConfig, ModelConfig, check_range, stored_model_dict,
                                     without_retired)
from anr_studio.model.configtools import apply_overrides, config_from_dict, config_to_dict


ADAM_BETAS = (0.5, 0.999)
"""Adam betas of every optimiser of training and fine-tuning (pix2pix's 0.5 keeps the GAN stable)."""


@dataclass
class DataConfig:
    """How frames become training batches."""

    resolution: int = 512
    """Side of the square training crops, in pixels (the renderer runs at this size)."""
    rescale_min: float = 0.5
    """Smallest random rescale factor f applied to a frame before cropping (paper: 0.5)."""
    rescale_max: float = 1.25
    """Largest random rescale factor f (paper: 1.25). Set both to 1 to turn rescaling off."""
    person_crop: bool = False
    """Centre the crop window on the person (the mask's bounding box, shifted at random by up to a quarter crop)
    instead of anywhere in the frame, so that crops smaller than the frame show the person, not the room."""
    batch_size: int = 8
    """Frames per step and per process (DDP multiplies by the number of processes)."""
    workers: int = 8
    """DataLoader worker processes that read and augment frames (0 = in the main process)."""
    cache_in_memory: bool = False
    """Read every frame into RAM once (fast for small captures; about N*H*W*4 bytes)."""
    refine_poses: int = 30
    """Before training (and on resume), fit every training frame's tracked pose to its mask with this many steps of
    test-time pose refinement (`anr_studio.avatar.refine`), so that the texture learns from better aligned frames;
    0: none."""


@dataclass
class OptimConfig:
    """Optimisers, schedule and numerics."""

    lr_renderer: float = 2e-4
    """Adam learning rate of the renderer R (both U-Nets)."""
    lr_texture: float = 1e-3
    """Adam learning rate of the neural textures T."""
    lr_discriminator: float = 2e-4
    """Adam learning rate of the multi-scale discriminator."""
    split_optimization: bool = True
    """Alternate T+R steps on keyframes (even steps) with R-only steps on non-keyframes (odd steps) (Eq. 9/10)."""
    steps: int = 50_000
    """Number of optimisation steps (each updates the renderer once)."""
    time_budget_s: float = 0.0
    """Stop after this many seconds of training (0 = no limit); used to compare variants fairly."""
    seed: int = 0
    """Seed of every random choice (identity, frames, crops, jitter, initial weights)."""
    bf16: bool = True
    """bfloat16 autocast on CUDA (ignored on the CPU)."""
    channels_last: bool = True
    """channels_last memory format on CUDA (ignored on the CPU)."""
    fused_adam: bool = True
    """Fused Adam kernels; the NaN/Inf guard then skips steps on the device (no host sync per step)."""
    overlap_data: bool = True
    """On CUDA, pose and rasterize the next batch on a side stream while the current step computes."""
    cuda_graph: bool = True
    """On CUDA, replay each step's compute (after posing and rasterizing) from a CUDA graph per identity and step
    kind; needs fused_adam. Under torchrun the graphed step all-reduces gradients itself instead of using DDP."""
    checkpoint_every: int = 1000
    """Write a checkpoint every this many steps (and always when training stops)."""
    max_bad_steps: int = 20
    """Stop with an error after this many consecutive steps with NaN/Inf losses or gradients."""
    log_every: int = 10
    """Report losses to callbacks every this many steps."""
    preview_every: int = 200
    """Render a preview image for callbacks every this many steps (0 = never)."""

    def end_reason(self, step: int, train_time_s: float) -> str | None:
        """Returns why a run at ``step`` after ``train_time_s`` seconds of training is over: "done" (all its
        ``steps``), "time budget" (its ``time_budget_s`` used), or None while it goes on."""
        if step >= self.steps:
            return "done"
        return "time budget" if 0 < self.time_budget_s <= train_time_s else None


@dataclass
class TrainConfig:
    """A whole training run: data, optimisation, renderer and losses."""

    data: DataConfig = field(default_factory=DataConfig)
    """Data loading and augmentation."""
    optim: OptimConfig = field(default_factory=OptimConfig)
    """Optimisers and schedule."""
    model: ModelConfig = field(default_factory=ModelConfig)
    """Neural texture and renderer (see anr_studio.model.config)."""
    loss: LossConfig = field(default_factory=LossConfig)
    """Loss weights (see anr_studio.model.config)."""
    renderer: str = "anr"
    """Which renderer: "anr" (two stages), "anr-1stage" (ablation), "dnr" (baseline)."""
    preset: str = "custom"
    """Name of the preset this config started from (informational)."""

    def to_dict(self) -> dict[str, Any]:
        """Returns the config as a JSON-ready dict."""
        return config_to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        """Returns the config stored in ``data`` (retired keys dropped); AnrError names any other unknown or mistyped key."""
        if not isinstance(data, dict):
            raise AnrError(f"config: is a JSON {type(data).__name__}, expected an object of config groups")
        data = {k: without_retired(v, k) if isinstance(v, dict) else v for k, v in data.items()}
        if isinstance(data.get("model"), dict):
            data["model"] = stored_model_dict(data["model"])
        config = config_from_dict(cls, data)
        config.validate()
        return config

    def with_overrides(self, overrides: list[str] | dict[str, Any]) -> "TrainConfig":
        """Returns a copy with ``["data.batch_size=8", ...]`` applied and validated."""
        config = apply_overrides(self, overrides)
        config.validate()
        return config

    def validate(self) -> None:
        """Raises AnrError when a value is out of its range."""
        d, o = self.data, self.optim
        check_range(self.renderer, "renderer", choices=RENDERER_KINDS)
        if d.resolution % 16:
            raise AnrError(f"config: data.resolution = {d.resolution}, expected a multiple of 16 from 16 to 8192")
        if not 0 < d.rescale_min <= d.rescale_max:
            raise AnrError(f"config: data.rescale_min/max = {d.rescale_min}/{d.rescale_max}, expected 0 < min <= max")
        if not all(0 < lr <= 10 for lr in (o.lr_renderer, o.lr_texture, o.lr_discriminator)):
            raise AnrError(f"config: optim.lr_renderer/lr_texture/lr_discriminator = {o.lr_renderer}/{o.lr_texture}/"
                           f"{o.lr_discriminator}, expected learning rates in (0, 10]")
        for where, value, low, high in (
                ("data.resolution", d.resolution, 16, 8192), ("data.batch_size", d.batch_size, 1, 4096),
                ("data.workers", d.workers, 0, 256), ("optim.time_budget_s", o.time_budget_s, 0, None),
                ("optim.steps", o.steps, 0, None), ("optim.checkpoint_every", o.checkpoint_every, 1, None)):
            check_range(value, where, low, high)
