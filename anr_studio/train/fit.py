"""Returns a new identity's neural texture fitted to a capture with the avatar's renderer frozen (paper Fig. 6):
a `Trainer` run (`Fitting`) that optimises only the new texture, keyframes first, then every training frame."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from anr_studio.avatar.file import model_config
from anr_studio.errors import AnrError
from anr_studio.train.callbacks import FIT_STEPS, Callback, StepInfo
from anr_studio.train.checkpoint import checkpoint_paths
from anr_studio.train.config import TrainConfig
from anr_studio.train.data import open_captures
from anr_studio.train.rundir import holds_run
from anr_studio.train.state import training_camera
from anr_studio.train.trainer import Trainer


@dataclass
class Fitting:
    """Makes a run texture-only: new identities fitted to a trained renderer that stays frozen (paper Fig. 6)."""

    renderer: torch.nn.Module  # put in eval mode with no parameter requiring gradients: it stays bit-identical
    texture: torch.Tensor  # (C, S, S): where every new texture starts
    names: list[str]  # the new identities' names, one per capture
    keyframe_steps: int = 0  # the first steps draw keyframes only (together they cover the UV layout)
    source: str = ""  # where the renderer came from (recorded in checkpoints)


@dataclass
class FitResult:
    """What `fit_identity` did: the fitted texture (C,S,S), steps run, last losses, why it ended, seconds spent."""

    texture: torch.Tensor
    step: int
    losses: dict[str, float]
    reason: str
    seconds: float


class _Progress(Callback):
    """Passes every step's losses on to ``progress(step, steps, losses)`` and keeps the last ones."""

    def __init__(self, progress: Callable[[int, int, dict[str, float]], None] | None) -> None:
        self.progress, self.losses = progress, {}

    def on_step(self, trainer: Any, info: StepInfo) -> None:
        self.losses = info.losses
        if self.progress is not None:
            self.progress(info.step, info.total_steps, info.losses)


def initial_texture(avatar) -> torch.Tensor:
    """Returns the starting texture (C,S,S): the mean of the avatar's textures, inside the space the renderer knows."""
    return torch.stack([avatar.texture(n).float() for n in avatar.identities]).mean(0)


def fit_identity(avatar, capture_path: str, name: str, work_dir: str | Path, *, steps: int = FIT_STEPS, resume: bool = False,
                 keyframe_fraction: float = 0.5, lr: float | None = None, batch_size: int | None = None,
                 checkpoint_every: int = 100, time_budget_s: float = 0.0, preview_every: int = 0,
                 progress: Callable[[int, int, dict[str, float]], None] | None = None,
                 warn: Callable[[str], None] | None = None, callbacks: Sequence[Callback] = ()) -> FitResult:
    """Returns the texture of identity ``name`` fitted to the capture at ``capture_path`` and adds it to ``avatar``
    once a step was made (a stop keeps what was learned; a fit stopped before its first step adds nothing):
    ``steps`` in all, the first ``keyframe_fraction`` on keyframes; ``work_dir`` is the run folder (``resume``
    continues its newest checkpoint); ``progress(step, steps, losses)`` after each step; ``callbacks``: more trainer
    callbacks (the studio's progress, previews every ``preview_every`` steps, and stop). The trainer runs the
    avatar's training config (or the defaults with its model) without the renderer's terms and averages,
    reporting every step; ``lr`` and ``batch_size`` default to the avatar's."""
    if name in avatar.identities:
        raise AnrError(f"--name {name}: the avatar already has an identity of that name, expected a new name")
    if steps < 1 or not 0.0 <= keyframe_fraction <= 1.0:
        raise AnrError(f"fit: steps = {steps}, keyframe_fraction = {keyframe_fraction}, expected >= 1 and a share in [0, 1]")
    (cap,) = open_captures([capture_path])
    avatar.check_body_model(cap.body_model_id, cap.path.name)
    work = Path(work_dir)
    if resume and not checkpoint_paths(work):
        raise AnrError(f"--resume {work}: no fit checkpoint found, expected {work}/checkpoints/step-*.json")
    if not resume and holds_run(work):
        raise AnrError(f"{work}: holds an earlier fit, expected --resume to continue it or another work folder")
    stored = avatar.meta.get("config")
    base = TrainConfig.from_dict(stored) if isinstance(stored, dict) else TrainConfig(
        model=model_config(avatar.meta, avatar.source), renderer=avatar.meta.get("renderer", "anr"))
    config = base.with_overrides({
        "optim.steps": steps, "optim.checkpoint_every": checkpoint_every, "optim.time_budget_s": time_budget_s,
        "optim.lr_texture": lr or base.optim.lr_texture, "optim.split_optimization": False, "optim.log_every": 1,
        "optim.preview_every": preview_every, "optim.cuda_graph": False, "optim.channels_last": False,
        "loss.adversarial": 0.0, "loss.region_mix": 0.0, "data.batch_size": batch_size or base.data.batch_size})
    fitting = Fitting(avatar.renderer, initial_texture(avatar), [name], int(round(keyframe_fraction * steps)),
                      avatar.source)
    reported = _Progress(progress)
    trainer = Trainer(config, [capture_path], work, device=str(avatar.device), resume=resume,
                      callbacks=[reported, *callbacks], body=avatar.body, warn=warn, fitting=fitting)
    try:
        reason = trainer.run()
    finally:
        trainer.close()
    final = trainer.textures[0].texture.detach()[0].clone()
    if trainer.step > 0:
        avatar.add_identity(name, final, cap.betas, training_camera(cap))
    return FitResult(final, trainer.step, reported.losses, reason, trainer.train_time)
