"""Training batches drawn from one or more captures (one identity per capture). Step ``s``'s random choices come
from generators seeded with ``(seed, s, ...)``, so a resumed run draws the same batches; DDP ranks share identity
and step kind, frames are sharded by rank."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import signal
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from anr_studio.avatar.refine import PoseRefinement, refine_poses
from anr_studio.capture import Capture
from anr_studio.errors import AnrError
from anr_studio.fileio import atomic_write_bytes
from anr_studio.render import PerspectiveCamera
from anr_studio.train.augment import crop_image, crop_intrinsics, person_centre, sample_view
from anr_studio.train.config import DataConfig, OptimConfig
from anr_studio.train.rundir import POSES_DIR


def available_cores() -> int:
    """Returns the number of CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def open_captures(paths: Sequence[str]) -> list[Capture]:
    """Returns the captures at ``paths``; AnrError unless they share image size and body model, have distinct
    identities and masks."""
    if not paths:
        raise AnrError("--captures: no capture file given, expected at least one .h5 file")
    captures = [Capture(p) for p in paths]
    first = captures[0]
    for cap in captures[1:]:
        if cap.image_size != first.image_size:
            raise AnrError(
                f"{cap.path.name}: image size {cap.image_size[0]}x{cap.image_size[1]} differs from "
                f"{first.path.name} ({first.image_size[0]}x{first.image_size[1]}), expected one resolution per run")
        if cap.body_model_id != first.body_model_id:
            raise AnrError(
                f"{cap.path.name}: body model {cap.body_model_id[:16]} differs from {first.path.name} "
                f"({first.body_model_id[:16]}), expected one body model per run")
    names = [c.identity for c in captures]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise AnrError(f"--captures: identity {dup!r} appears in more than one capture, expected one capture per identity")
    for cap in captures:
        if not cap.has_masks:
            raise AnrError(f"{cap.path.name}: masks are missing, expected foreground masks (run `anr-studio masks {cap.path}`)")
    return captures


@dataclass
class FramePools:
    """Training frame indices of each capture, split into keyframes and the rest."""

    keyframes: list[np.ndarray]
    others: list[np.ndarray]

    @classmethod
    def from_captures(cls, captures: Sequence[Capture], warn: Callable[[str], None]) -> "FramePools":
        """Returns the pools; a capture without keyframes uses all its training frames as keyframes."""
        keys, others = [], []
        for cap in captures:
            train = cap.split("train")
            if train.size == 0:
                raise AnrError(f"{cap.path.name}: split/train is empty, expected at least one training frame")
            if cap.keyframes is None or cap.keyframes.size == 0:
                warn(f"{cap.path.name} has no keyframes (run `anr-studio keyframes {cap.path}`); "
                     "all its training frames act as keyframes, so split optimization has no effect on it")
                keys.append(train)
                others.append(np.zeros(0, np.int64))
                continue
            is_key = np.isin(train, cap.keyframes)
            k = train[is_key]
            keys.append(k if k.size else train)
            others.append(train[~is_key])
        return cls(keys, others)


def step_plan(step: int, n_identities: int, optim: OptimConfig) -> tuple[int, bool]:
    """Returns (identity index, keyframe step?) of ``step``; the same on every rank."""
    rng = np.random.default_rng([optim.seed, step, 7])
    identity = int(rng.integers(n_identities))
    return identity, optim.split_optimization and step % 2 == 0


class StepBatches:
    """Iterates batches of dataset items ``(capture, frame, seed)``, one list per step, from ``start_step`` on; the
    first ``keyframes_first`` steps are keyframe steps; with split optimization keyframe steps draw from keyframes,
    others from non-keyframes; frames are sharded as ``pool[rank::world]``."""

    def __init__(self, pools: FramePools, data: DataConfig, optim: OptimConfig, start_step: int = 0,
                 rank: int = 0, world: int = 1, keyframes_first: int = 0) -> None:
        self.pools, self.data, self.optim = pools, data, optim
        self.step, self.rank, self.world, self.keyframes_first = start_step, rank, world, keyframes_first

    def plan(self, step: int) -> tuple[int, bool, np.ndarray]:
        """Returns (identity, keyframe step?, candidate frames) of ``step`` for this rank."""
        n = len(self.pools.keyframes)
        identity, key_step = step_plan(step, n, self.optim)
        keys, others = self.pools.keyframes[identity], self.pools.others[identity]
        if step < self.keyframes_first:
            pool, key_step = keys, True
        elif not self.optim.split_optimization:
            pool = np.concatenate([keys, others])
        elif key_step or others.size == 0:
            pool, key_step = keys, True
        else:
            pool = others
        shard = pool[self.rank::self.world]
        return identity, key_step, (shard if shard.size else pool)

    def __iter__(self) -> Iterator[list[tuple[int, int, int, bool]]]:
        while True:
            identity, key_step, pool = self.plan(self.step)
            rng = np.random.default_rng([self.optim.seed, self.step, 11, self.rank])
            b = self.data.batch_size
            frames = rng.choice(pool, size=b, replace=pool.size < b)
            seeds = rng.integers(0, 2**31 - 1, size=b)
            yield [(identity, int(f), int(s), key_step) for f, s in zip(frames, seeds)]
            self.step += 1


REFIT_BATCH = 16
"""Frames fitted together by `refined_poses`."""


def refined_poses(body: torch.nn.Module, cap: Capture, steps: int,
                  progress: Callable[[int, int], None] = lambda done, total: None) -> tuple[np.ndarray, np.ndarray]:
    """Returns (pose (N,24,3), transl (N,3)) float32 of every frame of ``cap``: the training frames (the ones
    training draws from) fitted to their masks by ``steps`` of test-time pose refinement
    (`anr_studio.avatar.refine`), `REFIT_BATCH` frames at a time, the held-out ones as stored; ``progress(done,
    total)`` (fitted frames) before the first batch and after each."""
    device = body.v_template.device
    pose = np.stack([cap.pose(i) for i in range(len(cap))])
    transl = np.stack([cap.transl(i) for i in range(len(cap))])
    cameras = [torch.from_numpy(c).to(device) for c in cap.cameras()]
    betas = torch.from_numpy(cap.betas[None, : body.num_betas].astype(np.float32)).to(device)
    frames = cap.split("train")
    for start in range(0, len(frames), REFIT_BATCH):
        progress(start, len(frames))
        idx = frames[start:start + REFIT_BATCH]
        mask = torch.from_numpy(np.stack([cap.mask(int(i)) for i in idx])).to(device).float().div(255)
        rows = torch.from_numpy(idx).to(device)
        refined = refine_poses(body, torch.from_numpy(pose[idx]).to(device), betas, torch.from_numpy(transl[idx]).to(device),
                               PerspectiveCamera(*(c[rows] for c in cameras)), mask.unsqueeze(1), PoseRefinement(steps=steps))
        pose[idx], transl[idx] = (r.cpu().numpy() for r in refined)
    progress(len(frames), len(frames))
    return pose, transl


def _pose_fit_key(body: torch.nn.Module, cap: Capture, steps: int) -> str:
    """Returns what a pose fit of ``cap`` depends on: the capture file (path, size, modification time), the body's
    tensors and the refinement settings."""
    digest = hashlib.sha256()
    for name, tensor in sorted(body.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    st = cap.path.stat()
    return json.dumps({"capture": str(cap.path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns,
                       "refinement": dataclasses.asdict(PoseRefinement(steps=steps)), "body": digest.hexdigest()})


def fitted_poses_path(folder: str | os.PathLike, cap: Capture) -> Path:
    """Returns where a run folder keeps the poses of ``cap`` fitted before training (`stored_refined_poses`)."""
    return Path(folder) / POSES_DIR / f"{hashlib.sha256(str(cap.path.resolve()).encode()).hexdigest()[:16]}.npz"


def stored_refined_poses(body: torch.nn.Module, cap: Capture, steps: int, folder: str | os.PathLike, write: bool = True,
                         progress: Callable[[int, int], None] = lambda done, total: None) -> tuple[np.ndarray, np.ndarray]:
    """Returns `refined_poses` of ``cap`` as fitted before into ``folder``/fitted_poses for the same capture file,
    body and settings; else fits them and (``write``) stores them there atomically for the next resume."""
    path = fitted_poses_path(folder, cap)
    key = _pose_fit_key(body, cap, steps)
    try:
        with np.load(path) as stored:
            if str(stored["key"]) == key:
                return stored["pose"], stored["transl"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):  # none yet, or damaged: fitted again
        pass
    pose, transl = refined_poses(body, cap, steps, progress=progress)
    if write:
        buffer = io.BytesIO()
        np.savez(buffer, key=np.array(key), pose=pose, transl=transl)
        atomic_write_bytes(path, buffer.getvalue())
    return pose, transl


class FrameDataset(Dataset):
    """Returns one augmented training view per item ``(capture, frame, seed, keyframe_step)``.

    uint8 ``frame (S,S,3)``, ``mask (S,S)``, ``background (S,S,3)``; float32 ``K (3,3)``, ``R (3,3)``,
    ``t (3,)``, ``pose (24,3)``, ``transl (3,)``, ``betas (K,)``; ints ``identity``, ``index``; bools
    ``is_keyframe``, ``keyframe_step``. ``poses``: per capture (pose (N,24,3), transl (N,3)) in place of the
    stored ones (`refined_poses`). The captures have masks (`open_captures`)."""

    def __init__(self, captures: Sequence[Capture], data: DataConfig,
                 poses: Sequence[tuple[np.ndarray, np.ndarray]] | None = None) -> None:
        self.captures = list(captures)
        self.poses = poses
        self.data = data
        self._keysets = [set(c.keyframes.tolist()) if c.keyframes is not None else set() for c in captures]
        self._cache: list[tuple[np.ndarray, np.ndarray]] | None = None
        if data.cache_in_memory:
            self._cache = [(np.stack([c.frame(i) for i in range(len(c))]), np.stack([c.mask(i) for i in range(len(c))]))
                           for c in captures]
            for c in captures:
                c.close()  # workers reopen their own handles

    def __len__(self) -> int:
        return sum(len(c) for c in self.captures)

    def __getitem__(self, item: tuple[int, int, int, bool]) -> dict[str, Any]:
        ci, fi, seed, key_step = item
        cap = self.captures[ci]
        if self._cache is not None:
            frame, mask = self._cache[ci][0][fi], self._cache[ci][1][fi]
        else:
            frame, mask = cap.frame(fi), cap.mask(fi)
        K, R, t = cap.camera(fi)
        rng = np.random.default_rng(seed)
        size = self.data.resolution
        centre = person_centre(mask) if self.data.person_crop else None
        _, scaled, offset = sample_view(rng, cap.image_size, size, (self.data.rescale_min, self.data.rescale_max), centre)
        K = crop_intrinsics(K, cap.image_size, scaled, offset)
        frame, mask, background = (crop_image(x, scaled, offset, size) for x in (frame, mask, cap.background))
        pose, transl = (self.poses[ci][0][fi], self.poses[ci][1][fi]) if self.poses else (cap.pose(fi), cap.transl(fi))
        return {
            **{k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in (("frame", frame), ("mask", mask),
                                                                        ("background", background))},
            **{k: torch.from_numpy(np.asarray(v, np.float32)) for k, v in (("K", K), ("R", R), ("t", t), ("pose", pose),
                                                                            ("transl", transl), ("betas", cap.betas))},
            "identity": ci,
            "index": fi,
            "is_keyframe": fi in self._keysets[ci],
            "keyframe_step": bool(key_step),
        }


def ignore_stop_signals(worker_id: int) -> None:
    """DataLoader ``worker_init_fn``: workers ignore SIGINT, SIGTERM and SIGHUP; the main process stops them cleanly."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
