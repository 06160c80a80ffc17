"""Returns a new identity's neural texture fitted to a capture with the avatar's renderer frozen (paper Fig. 6).

Only the new texture is optimised: keyframes first (the frames that together cover the body's
UV layout), then every training frame. The data, augmentation, body maps, grid jitter, render
path and losses are the trainer's own (`anr_studio.train`); the renderer runs in eval mode with
no parameter requiring gradients, so its weights stay bit-identical. Progress is checkpointed in
a work folder (the trainer's checkpoint format), so an interrupted fit resumes where it stopped.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch

from anr_studio.errors import AnrError
from anr_studio.model import ANRLoss, NeuralTexture
from anr_studio.render import PerspectiveCamera
from anr_studio.train.checkpoint import flatten_optimizer, load_latest_checkpoint, restore_optimizer, save_checkpoint
from anr_studio.train.config import TrainConfig
from anr_studio.train.data import FrameDataset, FramePools, StepBatches, collate, open_captures
from anr_studio.avatar.forward import body_maps, grid_jitter, run_renderer

logger = logging.getLogger(__name__)


@dataclass
class FitResult:
    """What `fit_identity` did: the fitted texture (C,S,S), steps run, last losses, why it ended."""

    texture: torch.Tensor
    step: int
    losses: dict[str, float]
    reason: str
    seconds: float


class _FitBatches:
    """Yields one list of dataset items per step: keyframes until ``key_steps``, then all training frames."""

    def __init__(self, pools: FramePools, config: TrainConfig, start: int, stop: int, key_steps: int) -> None:
        keys = dataclasses.replace(config.optim, split_optimization=True, keyframe_steps=1, non_keyframe_steps=0)
        every = dataclasses.replace(config.optim, split_optimization=False)
        self.plans = (StepBatches(pools, config.data, keys), StepBatches(pools, config.data, every))
        self.start, self.stop, self.key_steps = start, stop, key_steps

    def __iter__(self) -> Iterator[list[tuple[int, int, int, bool]]]:
        for step in range(self.start, self.stop):
            sampler = self.plans[0 if step < self.key_steps else 1]
            sampler.step = step  # StepBatches draws step s from generators seeded by s: resumable
            yield next(iter(sampler))

    def __len__(self) -> int:
        return max(0, self.stop - self.start)


def _prepare(batch: dict[str, Any], body: torch.nn.Module, config: TrainConfig, step: int, device: torch.device) -> dict[str, Any]:
    """Returns the batch as network inputs on ``device``: images in [-1,1], jittered UVs, normals, masks."""
    b = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
    frame = b["frame"].permute(0, 3, 1, 2).float().div_(127.5).sub_(1)
    background = b["background"].permute(0, 3, 1, 2).float().div_(127.5).sub_(1)
    mask = b["mask"].unsqueeze(1).float().div_(255)
    camera = PerspectiveCamera(b["K"], b["R"], b["t"])
    maps = body_maps(body, b["pose"], b["betas"], b["transl"], camera, tuple(frame.shape[-2:]))
    generator = torch.Generator(device=device).manual_seed(int(np.random.default_rng([config.optim.seed, step, 17]).integers(2**62)))
    uv = grid_jitter(maps.uv, config.data.grid_jitter, generator)
    return {"frame": frame, "background": background, "mask": mask, "uv": uv, "normals": maps.normals, "body_mask": maps.mask}


def initial_texture(avatar) -> torch.Tensor:
    """Returns the starting texture (C,S,S): the mean of the avatar's textures.

    The renderer was trained on textures that all started from one shared initialisation and
    moved from there; their mean sits inside the region of texture space the renderer knows.
    """
    return torch.stack([avatar.texture(n).float() for n in avatar.identities]).mean(0)


def fit_identity(avatar, capture_path: str, name: str, work_dir: str | Path, *, steps: int = 500, resume: bool = False,
                 keyframe_fraction: float = 0.5, lr: float | None = None, batch_size: int | None = None,
                 resolution: int | None = None, workers: int | None = None, checkpoint_every: int = 100,
                 time_budget_s: float = 0.0, progress: Callable[[int, int, dict[str, float]], None] | None = None,
                 warn: Callable[[str], None] | None = None) -> FitResult:
    """Returns the texture of identity ``name`` fitted to the capture at ``capture_path`` and adds it to ``avatar``.

    ``steps`` optimisation steps in all, the first ``keyframe_fraction`` of them on keyframes only.
    ``work_dir`` holds checkpoints (every ``checkpoint_every`` steps and at the end); ``resume``
    continues from the newest one. ``progress(step, steps, losses)`` is called after each step.
    Batch size, crop resolution and the texture learning rate default to the avatar's training config.
    """
    warn = warn or logger.warning
    if name in avatar.identities:
        raise AnrError(f"--name {name}: the avatar already has an identity of that name, expected a new name")
    if steps < 1 or not 0.0 <= keyframe_fraction <= 1.0:
        raise AnrError(f"fit: steps = {steps}, keyframe_fraction = {keyframe_fraction}, expected >= 1 and a share in [0, 1]")
    (cap,) = open_captures([capture_path], need_masks=True)
    want = str(avatar.meta.get("body_model", "default"))
    if cap.body_model_id != want:
        raise AnrError(f"{cap.path.name}: body model {cap.body_model_id[:16]!r} differs from the avatar's {want[:16]!r}, "
                       "expected a capture tracked with the avatar's body model")
    config = TrainConfig.from_dict(avatar.meta["config"])
    data = config.data
    data = dataclasses.replace(data, batch_size=batch_size or data.batch_size, resolution=resolution or data.resolution,
                               workers=data.workers if workers is None else workers)
    config = dataclasses.replace(config, data=data)
    config.validate()
    device = avatar.device
    renderer = avatar.renderer.eval().requires_grad_(False)
    texture = NeuralTexture(*avatar.texture(avatar.identities[0]).shape[:2]).to(device)
    with torch.no_grad():
        texture.texture.copy_(initial_texture(avatar)[None])
    optimizer = torch.optim.Adam(texture.parameters(), lr=lr or config.optim.lr_texture, betas=tuple(config.optim.betas))
    loss_fn = ANRLoss(config.loss).to(device)
    work = Path(work_dir)
    record = {"capture": str(Path(capture_path).resolve()), "name": name, "source": avatar.source}
    step, spent = 0, 0.0
    if resume:
        ckpt = load_latest_checkpoint(work, warn=warn)
        if ckpt is None:
            raise AnrError(f"--resume {work}: no fit checkpoint found, expected {work}/checkpoints/step-*.json")
        if ckpt.meta.get("capture") != record["capture"] or ckpt.meta.get("name") != name:
            raise AnrError(f"{ckpt.path.name}: fit of {ckpt.meta.get('name')!r} on {ckpt.meta.get('capture')} differs "
                           f"from {name!r} on {record['capture']}, expected the same capture and name")
        with torch.no_grad():
            texture.texture.copy_(ckpt.tensors["texture"].to(device))
        restore_optimizer(optimizer, ckpt.tensors, ckpt.meta["optim"], "optim")
        step, spent = ckpt.step, float(ckpt.meta.get("seconds", 0.0))
    elif load_latest_checkpoint(work, warn=lambda m: None) is not None:
        raise AnrError(f"{work}: holds an earlier fit, expected --resume to continue it or another work folder")

    def checkpoint(at: int) -> None:
        tensors, optim_meta = flatten_optimizer(optimizer, "optim")
        tensors["texture"] = texture.texture.detach().cpu()
        save_checkpoint(work, at, tensors, dict(record, optim=optim_meta, seconds=spent, steps=steps), keep=2)

    pools = FramePools.from_captures([cap], warn=warn)
    dataset = FrameDataset([cap], config.data, augment=True)
    key_steps = int(round(keyframe_fraction * steps))
    loader = torch.utils.data.DataLoader(dataset, batch_sampler=_FitBatches(pools, config, step, steps, key_steps),
                                         num_workers=config.data.workers, collate_fn=collate,
                                         pin_memory=device.type == "cuda")
    autocast = device.type == "cuda" and config.optim.bf16
    losses: dict[str, float] = {}
    reason = "done"
    try:
        for batch in loader:
            t0 = time.perf_counter()
            p = _prepare(batch, avatar.body, config, step, device)
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
                out = run_renderer(renderer, texture, p["uv"], p["normals"], texture_grad=True)
                total, terms = loss_fn(out, p["frame"], p["mask"], p["background"], p["body_mask"])
            total.backward()
            if not bool(torch.isfinite(total)):
                warn(f"fit step {step + 1}: the loss is NaN or Inf; step skipped")
            else:
                optimizer.step()
            step += 1
            spent += time.perf_counter() - t0
            losses = {k: float(v) for k, v in terms.items()}
            if progress is not None:
                progress(step, steps, losses)
            if step % checkpoint_every == 0 and step < steps:
                checkpoint(step)
            if time_budget_s > 0 and spent >= time_budget_s:
                reason = "time budget"
                break
    except KeyboardInterrupt:
        reason = "stopped"
    checkpoint(step)
    final = texture.texture.detach()[0].clone()
    if reason == "done" or reason == "time budget":
        K, R, t = cap.camera(int(cap.split("train")[0]))
        avatar.add_identity(name, final, cap.betas, {"K": K.tolist(), "R": R.tolist(), "t": t.tolist()})
    return FitResult(final, step, losses, reason, spent)
