"""Returns named training configs: `paper`, `fast`, `demo`, `cpu` and `tiny` (one registry for CLI and GUI)."""

from __future__ import annotations

import dataclasses
from typing import Callable

from anr_studio.errors import AnrError
from anr_studio.model.config import LossConfig, ModelConfig, TextureConfig, UNetConfig
from anr_studio.train.config import DataConfig, OptimConfig, TrainConfig


def _paper() -> TrainConfig:
    # 1024² crops and pix2pix-size U-Nets (~54M parameters each), as in the paper.
    return TrainConfig(
        data=DataConfig(resolution=1024, batch_size=8, workers=8),
        optim=OptimConfig(steps=200_000, checkpoint_every=2000),
        model=ModelConfig.preset("paper"), preset="paper")


def _fast() -> TrainConfig:
    # Narrower U-Nets that train interactively on one GPU, on 384² crops centred on the person, batch 16 and
    # twice the paper's learning rates (docs/results.md, "Quality benchmark (GPU)").
    return TrainConfig(
        data=DataConfig(resolution=384, person_crop=True, batch_size=16, workers=8),
        optim=OptimConfig(steps=50_000, checkpoint_every=1000, lr_renderer=4e-4, lr_discriminator=4e-4, lr_texture=2e-3),
        model=ModelConfig.preset("fast"), preset="fast")


def _tiny() -> TrainConfig:
    # 64² crops, a few thousand parameters: a CPU test step takes a fraction of a second.
    return TrainConfig(
        data=DataConfig(resolution=64, batch_size=2, workers=0, refine_poses=0),
        optim=OptimConfig(steps=1500, checkpoint_every=500, log_every=1, preview_every=0, bf16=False, channels_last=False),
        model=ModelConfig.preset("tiny"), preset="tiny")


def _cpu() -> TrainConfig:
    # A person-like avatar of a 128² capture in 10 minutes on 2 CPU cores (docs/results.md, "Training on a
    # CPU"): 64² crops centred on the person, rescaled up to 2x so that larger renders hold up; no
    # discriminator and no VGG19 term, which on 2 cores cost as much as the rest of a step or more.
    unet = UNetConfig(depth=5, base_channels=16, max_channels=64)
    model = dataclasses.replace(ModelConfig.preset("tiny"), texture=TextureConfig(8, 128), r1=unet,
                                r2=dataclasses.replace(unet))
    loss = LossConfig(adversarial=0.0, feature=0.0)
    return TrainConfig(
        data=DataConfig(resolution=64, rescale_min=0.75, rescale_max=2.0, person_crop=True, batch_size=8, workers=0,
                        cache_in_memory=True),
        optim=OptimConfig(steps=20_000, time_budget_s=600, checkpoint_every=1000, log_every=10, preview_every=0,
                          bf16=False, channels_last=False),
        model=model, loss=loss, preset="cpu")


def _demo() -> TrainConfig:
    # A shipped demo avatar in about 10 GPU minutes: 256² crops, 6-level U-Nets of the `fast`
    # widths, larger batches and learning rates (fewer, bigger steps train faster per minute), and a
    # region-mix term three times the default's: try-on leakage 0.19 instead of 0.25 at 0.3 dB
    # of held-out PSNR (docs/demo/README.md, "Try-on, measured").
    model = ModelConfig.preset("fast")
    unet = UNetConfig(depth=6, base_channels=32, max_channels=256)
    model = dataclasses.replace(model, r1=unet, r2=dataclasses.replace(unet))
    return TrainConfig(
        data=DataConfig(resolution=256, batch_size=16, workers=8, cache_in_memory=True),
        optim=OptimConfig(steps=30_000, checkpoint_every=1000, lr_renderer=4e-4, lr_discriminator=4e-4, lr_texture=2e-3),
        model=model, loss=LossConfig(region_mix=30.0), preset="demo")


PRESETS: dict[str, Callable[[], TrainConfig]] = {"paper": _paper, "fast": _fast, "tiny": _tiny, "demo": _demo, "cpu": _cpu}
GPU_PRESETS = ("paper", "fast", "demo")


def default_preset(device_type: str) -> str:
    """Returns the preset that suits a device: `fast` on a CUDA GPU, `cpu` elsewhere."""
    return "fast" if device_type == "cuda" else "cpu"


def preset(name: str) -> TrainConfig:
    """Returns a fresh copy of preset ``name`` (AnrError for unknown names)."""
    if name not in PRESETS:
        raise AnrError(f"--preset {name}: unknown preset, expected one of {', '.join(PRESETS)}")
    return PRESETS[name]()
