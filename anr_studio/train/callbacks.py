"""Small training callbacks: progress bar, progress lines, JSON-lines log, TensorBoard (on the training thread;
one that raises is logged)."""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from anr_studio.fileio import atomic_write_text

POSE_FIT = "fitting the tracked poses to the masks"
"""What `Callback.on_pose_fit` reports, in the words progress output uses."""
FIT_STEPS = 1000
"""The steps of a new identity's fit when none are asked for (`anr-studio fit`, the studio's Fit identity); kept
here, free of torch, so the CLI's parser reads it."""


@dataclass
class StepInfo:
    """Progress after one optimisation step."""

    step: int  # steps completed so far (1 after the first step)
    total_steps: int  # optim.steps
    losses: dict[str, float] = field(default_factory=dict)  # generator terms, "total" and "discriminator"
    images_per_s: float = 0.0  # over the last reporting interval, all ranks together
    elapsed_s: float = 0.0  # training time so far, without time spent in callbacks
    eta_s: float = math.nan  # seconds to the step limit or the time budget, whichever comes first
    identity: int = 0  # whose texture this step used
    keyframe_step: bool = False  # this step updated the texture (keyframe step, or no split optimization)
    skipped: bool = False  # skipped because a loss or gradient was NaN/Inf


class Callback:
    """Base class: override the hooks you need. All run on the training thread."""

    def on_phase(self, trainer: Any, phase: str) -> None:
        """Called as the trainer sets up, when a stage begins ("opening the captures", "loading the body model",
        "building the model", "preparing the training frames"); ``trainer`` is only partly built."""

    def on_pose_fit(self, trainer: Any, identity: str, done: int, total: int) -> None:
        """Called while the trainer sets up, fitting the tracked poses to the masks (``data.refine_poses``):
        ``done`` of ``total`` frames of ``identity``, 0 first and ``total`` last."""

    def on_start(self, trainer: Any) -> None:
        """Called once before the first step (after resuming)."""

    def on_step(self, trainer: Any, info: StepInfo) -> None:
        """Called after the run's first step, every ``optim.log_every`` steps, after the last one, and after any step
        that ends ``REPORT_EVERY_S`` (`anr_studio.train.trainer`) or more after the previous report."""

    def on_preview(self, trainer: Any, step: int, images: dict[str, np.ndarray]) -> None:
        """Called with HxWx3 uint8 images ("truth", "render", "composite", ...) every ``optim.preview_every`` steps."""

    def on_checkpoint(self, trainer: Any, path: Path) -> None:
        """Called after a checkpoint is committed."""

    def on_end(self, trainer: Any, reason: str) -> None:
        """Called once when training ends: reason is "done", "stopped", "time budget" or "error"."""


class JsonlLog(Callback):
    """Appends one JSON line per report to ``path``; a resumed run first drops the lines after its checkpoint's step."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def on_start(self, trainer: Any) -> None:
        if not self.path.exists():
            return
        kept = []
        for line in self.path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                if int(json.loads(line)["step"]) <= trainer.step:
                    kept.append(line)
            except (ValueError, KeyError, TypeError, OverflowError, RecursionError):  # a line cut short by a kill, or damaged
                continue
        atomic_write_text(self.path, "".join(f"{line}\n" for line in kept))

    def on_step(self, trainer: Any, info: StepInfo) -> None:
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(asdict(info)) + "\n")


class TqdmProgress(Callback):
    """A tqdm bar with the total loss and images/s (CLI only); before it, a line per set-up stage and a bar per identity
    while its poses are fitted."""

    def __init__(self) -> None:
        self.bar = None

    def on_phase(self, trainer: Any, phase: str) -> None:
        print(f"{phase}…", file=sys.stderr, flush=True)

    def on_pose_fit(self, trainer: Any, identity: str, done: int, total: int) -> None:
        from tqdm import tqdm

        if done == 0:
            self.bar = tqdm(total=total, desc=f"{POSE_FIT} ({identity})", unit="frame", dynamic_ncols=True)
        if self.bar is not None:
            self.bar.update(done - self.bar.n)
            if done >= total:
                self.on_end(trainer, "done")

    def on_start(self, trainer: Any) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=trainer.config.optim.steps, initial=trainer.step, unit="step", dynamic_ncols=True)

    def on_step(self, trainer: Any, info: StepInfo) -> None:
        if self.bar is None:
            return
        self.bar.update(info.step - self.bar.n)
        loss = info.losses.get("total", math.nan)
        self.bar.set_postfix_str(f"loss {loss:.3f}  {info.images_per_s:.1f} img/s")

    def on_end(self, trainer: Any, reason: str) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class LogLines(Callback):
    """Prints a progress line every ``every_s`` seconds and at the end (for logs and job managers, where a
    progress bar does not show): step, loss, throughput, elapsed time and time left; frames while the poses are fitted."""

    def __init__(self, every_s: float = 30.0, stream: Any = None, clock: Any = None) -> None:
        self.every_s, self.stream = every_s, stream or sys.stderr
        self.clock = clock or time.monotonic
        self.last = -math.inf

    def on_pose_fit(self, trainer: Any, identity: str, done: int, total: int) -> None:
        now = self.clock()
        if 0 < done < total and now - self.last < self.every_s:
            return
        self.last = now if done < total else -math.inf  # the first training step prints its line at once
        print(f"{POSE_FIT} ({identity}): {done}/{total} frames", file=self.stream, flush=True)

    def on_step(self, trainer: Any, info: StepInfo) -> None:
        now = self.clock()
        if now - self.last < self.every_s and info.step < info.total_steps:
            return
        self.last = now
        eta = f", {_minutes(info.eta_s)} left" if math.isfinite(info.eta_s) else ""
        print(f"step {info.step}/{info.total_steps}  loss {info.losses.get('total', math.nan):.4f}  "
              f"{info.images_per_s:.1f} images/s  {_minutes(info.elapsed_s)} elapsed{eta}", file=self.stream, flush=True)


def _minutes(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 60}:{seconds % 60:02d}"


class TensorBoardLog(Callback):
    """Writes losses and previews to ``log_dir`` with TensorBoard, if it is installed."""

    def __init__(self, log_dir: str | Path) -> None:
        self.writer = None
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:  # optional dependency
            return
        self.writer = SummaryWriter(str(log_dir))

    @property
    def available(self) -> bool:
        """Returns True when TensorBoard is installed and the writer is open."""
        return self.writer is not None

    def on_step(self, trainer: Any, info: StepInfo) -> None:
        if self.writer is None:
            return
        for name, value in info.losses.items():
            self.writer.add_scalar(f"loss/{name}", value, info.step)
        self.writer.add_scalar("speed/images_per_s", info.images_per_s, info.step)

    def on_preview(self, trainer: Any, step: int, images: dict[str, np.ndarray]) -> None:
        if self.writer is None:
            return
        for name, image in images.items():
            self.writer.add_image(f"preview/{name}", image, step, dataformats="HWC")

    def on_end(self, trainer: Any, reason: str) -> None:
        if self.writer is not None:
            self.writer.close()
