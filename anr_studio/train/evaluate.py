"""Held-out metrics of a trained run: its Avatar renders the test frames at full resolution from their own
cameras and bodies over the background plate (PSNR, SSIM, FLIP, LPIPS, mask IoU)."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from anr_studio.avatar import Avatar
from anr_studio.avatar.file import unprefixed
from anr_studio.avatar.refine import PoseRefinement
from anr_studio.capture import Capture
from anr_studio.errors import AnrError
from anr_studio.fileio import atomic_write_text
from anr_studio.metrics import compute_metrics, lpips_status, mask_iou, psnr
from anr_studio.render import PerspectiveCamera
from anr_studio.train.callbacks import Callback
from anr_studio.train.checkpoint import load_latest_checkpoint
from anr_studio.train.rundir import AVATAR_FILE


def run_avatar(path: str | os.PathLike, device: str | torch.device = "cpu", body: torch.nn.Module | None = None,
               body_path: str | None = None) -> Avatar:
    """Returns the avatar of a run folder (avatar.anr, else the newest checkpoint) or an ``.anr`` file; AnrError if neither."""
    path = Path(path)
    if not path.exists():
        raise AnrError(f"{path}: not found, expected a run folder of anr-studio train or an .anr avatar file")
    if path.is_dir() and not (path / AVATAR_FILE).exists():
        ckpt = load_latest_checkpoint(path)
        if ckpt is None:
            raise AnrError(f"{path}: holds neither {AVATAR_FILE} nor a checkpoint, expected a run folder of anr-studio train")
        textures = [ckpt.tensors[f"texture.{i}.texture"][0] for i in range(len(ckpt.meta["identities"]))]
        return Avatar.from_weights(ckpt.meta, unprefixed(ckpt.tensors, "renderer"), textures, device, body, body_path,
                                   str(ckpt.path))
    return Avatar.load(path, device, body, body_path)


def trainer_avatar(trainer: Any) -> Avatar:
    """Returns an Avatar over a trainer's renderer and body in place, with copies of its textures (hold ``trainer.lock``)."""
    textures = {name: tex.texture.detach() for name, tex in zip(trainer.identities, trainer.textures)}
    meta = {"renderer": trainer.config.renderer, "body_model": trainer.captures[0].body_model_id, "step": trainer.step}
    return Avatar(trainer.renderer, textures, trainer.body, meta, source="training")


def _mean(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.mean(vals)) if vals else None


def render_frames(avatar: Avatar, cap: Capture, frames: Sequence[int], batch_size: int = 4,
                  refinement: PoseRefinement | None = None) -> list[dict[str, np.ndarray]]:
    """Returns, per frame index of ``cap``, {"composite" (H,W,3), "mask" (H,W)} uint8 renders of its identity
    (with ``refinement``, in poses first fitted to the frame's mask)."""
    if refinement is not None and not cap.has_masks:
        raise AnrError(f"{cap.path.name}: masks are missing, expected them for test-time pose refinement (anr-studio masks)")
    out, cameras = [], cap.cameras()
    for start in range(0, len(frames), batch_size):
        idx = list(frames[start:start + batch_size])
        camera = PerspectiveCamera(*(torch.from_numpy(c[idx]) for c in cameras))
        pose, transl = np.stack([cap.pose(i) for i in idx]), np.stack([cap.transl(i) for i in idx])
        if refinement is not None:
            pose, transl = avatar.refine_poses(cap.identity, np.stack([cap.mask(i) for i in idx]), pose, transl, camera,
                                               betas=cap.betas, config=refinement)
        image, mask = avatar.render(cap.identity, pose, camera, betas=cap.betas, transl=transl, size=cap.image_size,
                                    background=cap.background, batch_size=batch_size)
        masks = np.round(mask * 255).astype(np.uint8)
        out += [{"composite": image[b], "mask": masks[b]} for b in range(len(idx))]
    return out


def _summary(rows: dict[str, list[dict[str, float | None]]]) -> dict[str, Any]:
    """Returns {"per_identity": {name: {metric: mean, "frames": n}}, "overall": {...}} of per-frame metric rows."""
    every = [row for r in rows.values() for row in r]
    return {"per_identity": {name: {k: _mean([row[k] for row in r]) for k in r[0]} | {"frames": len(r)} for name, r in rows.items()},
            "overall": {k: _mean([row[k] for row in every]) for k in every[0]} | {"frames": len(every)}}


def evaluate(run: str | os.PathLike, capture_paths: Sequence[str | Capture], split: str = "test", *, device: str = "cpu",
             max_frames: int = 0, body: torch.nn.Module | None = None, body_path: str | None = None,
             avatar: Avatar | None = None, keep_images: int = 0, psnr_only: bool = False,
             refinement: PoseRefinement | None = None) -> dict[str, Any]:
    """Returns {"per_identity": {name: {metric: mean, "frames": n}}, "overall": {...}, "lpips": status, ...}.

    Means over the ``split`` frames of each capture (or ``max_frames`` evenly spaced); LPIPS None when its
    weights are absent; ``keep_images`` > 0 adds ``images[name]``; ``psnr_only``: PSNR and mask IoU only;
    ``refinement`` adds ``test_time_pose_refinement`` = {"steps", "per_identity", "overall"} of the same
    frames after test-time pose refinement."""
    caps = [path if isinstance(path, Capture) else Capture(path) for path in capture_paths]  # before any weights load
    avatar = avatar or run_avatar(run, device, body, body_path)
    for cap in caps:  # before LPIPS's weights load
        if cap.identity not in avatar.identities:
            raise AnrError(f"{cap.path.name}: identity {cap.identity!r} is not in the avatar, expected one of {', '.join(avatar.identities)}")
        avatar.check_body_model(cap.body_model_id, cap.path.name)
    status = lpips_status()
    rows: dict[str, list[dict[str, float | None]]] = {}
    refined: dict[str, list[dict[str, float | None]]] = {}
    images: dict[str, list[dict[str, np.ndarray]]] = {}
    for cap in caps:
        frames = cap.split(split)
        if frames.size == 0:
            raise AnrError(f"{cap.path.name}: split/{split} is empty, expected held-out frames to evaluate")
        if max_frames and frames.size > max_frames:
            frames = frames[np.linspace(0, frames.size - 1, max_frames).round().astype(int)]
        frames = frames.tolist()
        renders = render_frames(avatar, cap, frames)
        rows[cap.identity] = _scores(cap, frames, renders, psnr_only, device)
        if refinement is not None:
            refined[cap.identity] = _scores(cap, frames, render_frames(avatar, cap, frames, refinement=refinement),
                                            psnr_only, device)
        if keep_images:
            images[cap.identity] = [{"truth": cap.frame(i), **r} for i, r in zip(frames[:keep_images], renders)]
    result = {"split": split, "renderer": avatar.meta["renderer"], "source": avatar.source, "step": avatar.meta.get("step"),
              "lpips": status, **_summary(rows)}
    if refinement is not None:
        result["test_time_pose_refinement"] = {"steps": refinement.steps, **_summary(refined)}
    if keep_images:
        result["images"] = images
    return result


def _scores(cap: Capture, frames: list[int], renders: list[dict[str, np.ndarray]], psnr_only: bool,
            device: str) -> list[dict[str, float | None]]:
    """Returns per-frame metrics of ``renders`` of ``cap``'s ``frames`` (PSNR and mask IoU only with ``psnr_only``)."""
    return [{"psnr": psnr(r["composite"], cap.frame(i)), "mask_iou": mask_iou(r["mask"], cap.mask(i))} if psnr_only
            else compute_metrics(r["composite"], cap.frame(i), r["mask"], cap.mask(i), device=device)
            for i, r in zip(frames, renders)]


class HeldOutPSNR(Callback):
    """Records held-out PSNR and mask IoU of ``frames`` frames every ``every_steps`` steps (not counted as training time)."""

    def __init__(self, capture_paths: Sequence[str], every_steps: int, frames: int = 4, split: str = "test",
                 path: str | os.PathLike | None = None) -> None:
        self.every, self.n, self.split = every_steps, frames, split
        self.paths = list(capture_paths)
        self._captures: list[Capture] | None = None
        self.path = Path(path) if path else None
        self.history: list[dict[str, float]] = []

    def on_end(self, trainer: Any, reason: str) -> None:
        if self.path is not None:
            atomic_write_text(self.path, json.dumps({"split": self.split, "frames_per_capture": self.n,
                                                     "history": self.history}, indent=1))

    def on_step(self, trainer: Any, info: Any) -> None:
        # on_step comes every log_every steps: evaluate at the first report past each multiple.
        done = self.history[-1]["step"] // self.every if self.history else 0
        if info.step // self.every <= done:
            return
        if self._captures is None:
            self._captures = [Capture(p) for p in self.paths]
        with trainer.lock:
            was_training = trainer.renderer.training
            trainer.renderer.eval()
            try:
                result = evaluate("", self._captures, self.split, device=str(trainer.device), max_frames=self.n,
                                  avatar=trainer_avatar(trainer), psnr_only=True)
            finally:
                trainer.renderer.train(was_training)
        overall = result["overall"]
        self.history.append({"step": info.step, "train_time_s": info.elapsed_s, "psnr": overall["psnr"],
                             "mask_iou": overall["mask_iou"]})
