"""Returns held-out metrics of a trained run: renders test frames through the one render path.

Each frame is rendered at the capture's full resolution from its own camera and body
parameters, composited over the capture's background plate, and compared with the frame
(PSNR, SSIM, FLIP, LPIPS when its weights are present) and its mask (IoU).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from anr_studio.capture import Capture
from anr_studio.errors import AnrError
from anr_studio.fileio import atomic_write_text
from anr_studio.metrics import compute_metrics, lpips_status, mask_iou, psnr
from anr_studio.model import NeuralTexture
from anr_studio.render import PerspectiveCamera
from anr_studio.avatar.file import load_renderer, read_avatar
from anr_studio.body import load_body
from anr_studio.train.callbacks import Callback
from anr_studio.train.checkpoint import load_latest_checkpoint
from anr_studio.avatar.forward import render_views
from anr_studio.train.rundir import AVATAR_FILE


class TrainedModel:
    """A renderer and its textures loaded from a run folder (avatar.anr, else the newest checkpoint)."""

    def __init__(self, renderer: torch.nn.Module, textures: list[NeuralTexture], meta: dict[str, Any], source: str) -> None:
        self.renderer, self.textures, self.meta, self.source = renderer, textures, meta, source
        self.identities: list[str] = list(meta["identities"])

    @classmethod
    def load(cls, path: str | os.PathLike, device: torch.device | str = "cpu") -> "TrainedModel":
        """Returns the model of a run folder or an ``.anr`` file; AnrError if neither holds one."""
        path = Path(path)
        if path.is_dir() and not (path / AVATAR_FILE).exists():
            ckpt = load_latest_checkpoint(path)
            if ckpt is None:
                raise AnrError(f"{path}: holds neither {AVATAR_FILE} nor a checkpoint, expected a run folder of anr-studio train")
            meta = ckpt.meta
            state = {k[len("renderer."):]: v for k, v in ckpt.tensors.items() if k.startswith("renderer.")}
            textures = [ckpt.tensors[f"texture.{i}.texture"][0] for i in range(len(meta["identities"]))]
            source = str(ckpt.path)
        else:
            avatar = read_avatar(path / AVATAR_FILE if path.is_dir() else path)
            meta, state, textures, source = avatar.meta, avatar.renderer_state, avatar.textures, str(path)
        renderer = load_renderer(meta, state, source)
        texs = []
        for tex in textures:
            t = NeuralTexture(int(tex.shape[0]), int(tex.shape[-1]))
            with torch.no_grad():
                t.texture.copy_(tex.reshape(t.texture.shape))
            texs.append(t.to(device).eval())
        return cls(renderer.to(device).eval(), texs, meta, source)


def _mean(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.mean(vals)) if vals else None


def _uint8(image: torch.Tensor) -> np.ndarray:
    return ((image.float().clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).cpu().numpy()


def render_frames(model: TrainedModel, body: torch.nn.Module, cap: Capture, identity: int, frames: Sequence[int],
                  device: torch.device, batch_size: int = 4, autocast: bool = False) -> list[dict[str, np.ndarray]]:
    """Returns, per frame index, {"composite" (H,W,3), "render" (H,W,3), "mask" (H,W)} uint8 renders."""
    out = []
    bg = torch.from_numpy(cap.background).to(device).permute(2, 0, 1).float().div(127.5).sub(1)
    for start in range(0, len(frames), batch_size):
        idx = list(frames[start:start + batch_size])
        cams = [cap.camera(i) for i in idx]
        camera = PerspectiveCamera(*(torch.from_numpy(np.stack([c[j] for c in cams])).to(device) for j in range(3)))
        pose = torch.from_numpy(np.stack([cap.pose(i) for i in idx])).to(device)
        transl = torch.from_numpy(np.stack([cap.transl(i) for i in idx])).to(device)
        betas = torch.from_numpy(cap.betas[None].repeat(len(idx), 0)).to(device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast and device.type == "cuda"):
            views = render_views(body, model.renderer, model.textures[identity], pose, betas, transl, camera,
                                 cap.image_size, background=bg.expand(len(idx), -1, -1, -1))
        for b in range(len(idx)):
            out.append({"composite": _uint8(views["composite"][b]), "render": _uint8(views["rgb"][b]),
                        "mask": (views["mask"][b, 0].clamp(0, 1) * 255).round().byte().cpu().numpy()})
    return out


def evaluate(run: str | os.PathLike, capture_paths: Sequence[str | Capture], split: str = "test", *, device: str = "cpu",
             max_frames: int = 0, body: torch.nn.Module | None = None, body_path: str | None = None,
             model: TrainedModel | None = None, keep_images: int = 0, psnr_only: bool = False) -> dict[str, Any]:
    """Returns {"per_identity": {name: {metric: mean, "frames": n}}, "overall": {...}, "lpips": status, ...}.

    Metrics are means over frames of the ``split`` of each capture (all of them, or the first
    ``max_frames`` evenly spaced). LPIPS is None with ``lpips`` saying why when its weights are
    absent. ``keep_images`` > 0 adds ``images[name]`` = the first renders (truth, composite).
    ``psnr_only`` skips the slower metrics (progress tracking during training): PSNR and mask IoU only.
    """
    dev = torch.device(device)
    model = model or TrainedModel.load(run, dev)
    status = lpips_status()
    per_identity: dict[str, Any] = {}
    all_rows: list[dict[str, float | None]] = []
    images: dict[str, list[dict[str, np.ndarray]]] = {}
    for path in capture_paths:
        cap = path if isinstance(path, Capture) else Capture(path)
        if cap.identity not in model.identities:
            raise AnrError(f"{cap.path.name}: identity {cap.identity!r} is not in the avatar, expected one of {', '.join(model.identities)}")
        frames = cap.split(split)
        if frames.size == 0:
            raise AnrError(f"{cap.path.name}: split/{split} is empty, expected held-out frames to evaluate")
        if max_frames and frames.size > max_frames:
            frames = frames[np.linspace(0, frames.size - 1, max_frames).round().astype(int)]
        the_body = body if body is not None else load_body(body_path, model_id=cap.body_model_id, device=dev,
                                                                  source=cap.path.name)
        renders = render_frames(model, the_body, cap, model.identities.index(cap.identity), frames.tolist(), dev)
        rows = []
        for i, r in zip(frames.tolist(), renders):
            truth_mask = cap.mask(i)
            if psnr_only:
                rows.append({"psnr": psnr(r["composite"], cap.frame(i)), "mask_iou": mask_iou(r["mask"], truth_mask)})
            else:
                rows.append(compute_metrics(r["composite"], cap.frame(i), r["mask"], truth_mask, device=device))
        if keep_images:
            images[cap.identity] = [{"truth": cap.frame(i), **r} for i, r in zip(frames.tolist()[:keep_images], renders)]
        per_identity[cap.identity] = {k: _mean([row[k] for row in rows]) for k in rows[0]} | {"frames": len(rows)}
        all_rows += rows
    overall = {k: _mean([row[k] for row in all_rows]) for k in all_rows[0]} | {"frames": len(all_rows)}
    result = {"split": split, "renderer": model.meta["renderer"], "source": model.source, "step": model.meta.get("step"),
              "lpips": status, "per_identity": per_identity, "overall": overall}
    if keep_images:
        result["images"] = images
    return result


class HeldOutPSNR(Callback):
    """Records held-out PSNR and mask IoU against training time every ``every_steps`` steps (time-to-threshold, stability).

    Renders ``frames`` held-out frames per capture with the trainer's current weights; the time
    spent here is not counted as training time.
    """

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
            model = TrainedModel.__new__(TrainedModel)
            model.renderer, model.textures, model.identities = trainer.renderer, list(trainer.textures), trainer.identities
            model.meta, model.source = {"renderer": trainer.config.renderer, "step": info.step}, "training"
            was_training = trainer.renderer.training
            trainer.renderer.eval()
            try:
                result = evaluate("", self._captures, self.split, device=str(trainer.device), max_frames=self.n,
                                  body=trainer.body, model=model, psnr_only=True)
            finally:
                trainer.renderer.train(was_training)
        overall = result["overall"]
        self.history.append({"step": info.step, "train_time_s": info.elapsed_s, "psnr": overall["psnr"],
                             "mask_iou": overall["mask_iou"]})
