"""Returns and restores a trainer's complete state (checkpoints) and writes its avatar file."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import torch

from anr_studio.errors import AnrError
from anr_studio.avatar.file import renderer_meta, unprefixed, write_avatar
from anr_studio.train.checkpoint import (Checkpoint, flatten_optimizer, load_latest_checkpoint, restore_optimizer, rng_state,
                                         set_rng_state)
from anr_studio.train.rundir import AVATAR_FILE


def _prefixed(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {f"{prefix}.{k}": v for k, v in state.items()}


def collect(trainer: Any) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Returns (tensors, meta) describing the trainer completely (weights, optimisers, RNG, step); a fitting
    trainer's frozen renderer is left out."""
    tensors = _prefixed(trainer.renderer.state_dict(), "renderer") if trainer.fitting is None else {}
    for i, tex in enumerate(trainer.textures):
        tensors.update(_prefixed(tex.state_dict(), f"texture.{i}"))
    if trainer.disc is not None:
        tensors.update(_prefixed(trainer.disc.state_dict(), "discriminator"))
    optim_meta = {}
    for name, opt in trainer.optimizers.items():
        t, m = flatten_optimizer(opt, f"optim.{name}")
        tensors.update(t)
        optim_meta[name] = m
    rng_tensors, rng_meta = rng_state()
    tensors.update(rng_tensors)
    meta = {
        "config": trainer.config.to_dict(),
        "renderer": trainer.config.renderer,
        "identities": trainer.identities,
        "captures": trainer.capture_paths,
        "body_model": trainer.captures[0].body_model_id,
        "train_time_s": trainer.train_time,
        "optim": optim_meta,
        "rng": rng_meta,
        "saved_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if trainer.fitting is not None:
        meta["fit"] = {"renderer_source": trainer.fitting.source}
    return tensors, meta


def _load_module(module: torch.nn.Module, state: dict[str, torch.Tensor], what: str, source: str) -> None:
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise AnrError(f"{source}: {what} weights do not match this configuration ({first}), expected the run's own config") from exc


def checked_checkpoint(trainer: Any) -> Checkpoint | None:
    """Returns the newest loadable checkpoint of ``trainer.out``, AnrError unless its record fits ``trainer`` (identities,
    renderer, fit; needs no models, so it can come before any weights load); None (said) for a run stopped before its first."""
    ckpt = load_latest_checkpoint(trainer.out, warn=trainer.warn)
    if ckpt is None:
        trainer.warn(f"{trainer.out}: the run was stopped before its first checkpoint; starting it again from step 0")
        return None
    meta, source = ckpt.meta, str(ckpt.path)
    seconds = meta.get("train_time_s", 0.0)
    if not isinstance(meta.get("optim", {}), dict) or not isinstance(meta.get("rng", {}), dict) \
            or not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or not math.isfinite(seconds):
        raise AnrError(f"{source}: optim, rng or train_time_s has the wrong type, expected the record anr-studio train wrote")
    if trainer.fitting is not None and ("fit" not in meta or meta.get("identities") != trainer.identities
                                        or meta.get("captures") != trainer.capture_paths):
        raise AnrError(f"{source}: fit of {meta.get('identities')} on {meta.get('captures')} differs from "
                       f"{trainer.identities} on {trainer.capture_paths}, expected the same captures and names")
    if meta.get("identities") != trainer.identities:
        raise AnrError(f"{source}: identities {meta.get('identities')} differ from the captures' {trainer.identities}, "
                       "expected the same captures in the same order")
    if meta.get("renderer") != trainer.config.renderer:
        raise AnrError(f"{source}: renderer {meta.get('renderer')!r} differs from {trainer.config.renderer!r}, expected the run's renderer")
    return ckpt


def resume(trainer: Any, ckpt: Checkpoint | None = None) -> None:
    """Loads ``ckpt`` (default: `checked_checkpoint`) into ``trainer``; a run stopped before its first one starts over."""
    ckpt = ckpt or checked_checkpoint(trainer)
    if ckpt is None:
        return
    meta, source, device = ckpt.meta, str(ckpt.path), trainer.device
    tensors = {k: v.to(device) if not k.startswith("rng.") else v for k, v in ckpt.tensors.items()}
    if trainer.fitting is None:
        _load_module(trainer.renderer, unprefixed(tensors, "renderer"), "renderer", source)
    for i, tex in enumerate(trainer.textures):
        _load_module(tex, unprefixed(tensors, f"texture.{i}"), f"texture {i}", source)
    if trainer.disc is not None:
        disc_state = unprefixed(tensors, "discriminator")
        if disc_state:
            _load_module(trainer.disc, disc_state, "discriminator", source)
    for name, opt in trainer.optimizers.items():
        if name in meta.get("optim", {}):
            restore_optimizer(opt, tensors, meta["optim"][name], f"optim.{name}")
    set_rng_state(ckpt.tensors, meta.get("rng", {}))
    trainer.step = ckpt.step
    trainer.train_time = float(meta.get("train_time_s", 0.0))


def training_camera(cap) -> dict[str, list]:
    """Returns {K, R, t} (lists) of the capture's first training frame: the camera an avatar file keeps per identity."""
    K, R, t = cap.camera(int(cap.split("train")[0]))
    return {"K": K.tolist(), "R": R.tolist(), "t": t.tolist()}


def export_avatar(trainer: Any) -> Path:
    """Writes ``OUT/avatar.anr`` with the trainer's renderer, textures and metadata (see anr_studio.avatar.file);
    returns its path."""
    meta = {
        **renderer_meta(trainer.renderer),
        "identities": trainer.identities,
        "betas": [cap.betas.astype(float).tolist() for cap in trainer.captures],
        "body_model": trainer.captures[0].body_model_id,
        "image_size": list(trainer.captures[0].image_size),
        "cameras": [training_camera(cap) for cap in trainer.captures],
        "config": trainer.config.to_dict(),
        "step": trainer.step,
        "train_time_s": trainer.train_time,
    }
    textures = [tex.texture for tex in trainer.textures]
    return write_avatar(trainer.out / AVATAR_FILE, trainer.renderer.state_dict(), textures, meta)
