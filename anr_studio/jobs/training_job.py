"""TrainingJob: runs anr_studio.train.Trainer on a worker thread and reports into a TrainingStatus.

The trainer owns the stop/pause events; this job forwards pause/resume/stop to them and turns
the trainer's callbacks into status updates (loss history, preview pair, progress, ETA, log).
Nothing here touches Qt: the GUI polls ``status`` from a QTimer.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from anr_studio.errors import AnrError
from anr_studio.jobs.status import JobState, TrainingStatus


@dataclass
class TrainingOptions:
    """What the Training panel asks for."""

    captures: Sequence[str]
    """Capture files (.h5), one identity each."""
    out: str
    """Run folder (checkpoints, run.json, avatar.anr)."""
    preset: str = "fast"
    """Preset name from anr_studio.train.presets (paper, fast, tiny, demo)."""
    steps: int | None = None
    """Override optim.steps."""
    checkpoint_every: int | None = None
    """Override optim.checkpoint_every."""
    preview_every: int | None = None
    """Override optim.preview_every (the live truth-vs-render preview)."""
    split_optimization: bool | None = None
    """Override split optimization (None keeps the preset's)."""
    resume: bool = False
    """Continue the latest checkpoint in ``out``."""
    device: str | None = None
    """"cpu" or "cuda" (None: CUDA when available)."""
    overrides: list[str] = field(default_factory=list)
    """Extra ``section.field=value`` config overrides."""
    body: Any = None
    """A body model to use instead of the captures' (tests)."""


def build_config(opts: TrainingOptions):
    """Returns the TrainConfig for ``opts`` (preset + overrides)."""
    from anr_studio.train.presets import preset

    config = preset(opts.preset)
    over = list(opts.overrides)
    if opts.steps is not None:
        over.append(f"optim.steps={int(opts.steps)}")
    if opts.checkpoint_every is not None:
        over.append(f"optim.checkpoint_every={int(opts.checkpoint_every)}")
    if opts.preview_every is not None:
        over.append(f"optim.preview_every={int(opts.preview_every)}")
    if opts.split_optimization is not None:
        over.append(f"optim.split_optimization={str(bool(opts.split_optimization)).lower()}")
    return config.with_overrides(over) if over else config


class _StatusCallback:
    """Trainer callback writing into a TrainingStatus (runs on the training thread)."""

    def __init__(self, status: TrainingStatus) -> None:
        self.status = status

    def on_start(self, trainer) -> None:
        self.status.set_progress(trainer.step, trainer.config.optim.steps, "training")
        self.status.log(f"training {', '.join(trainer.identities)} on {trainer.device} from step {trainer.step}")

    def on_step(self, trainer, info) -> None:
        self.status.metrics.append(info.step, {k: v for k, v in info.losses.items()})
        self.status.set_progress(info.step, info.total_steps, f"{info.images_per_s:.1f} images/s")
        if info.step % max(1, 10 * trainer.config.optim.log_every) == 0 or info.step == info.total_steps:
            total = info.losses.get("total", math.nan)
            self.status.log(f"step {info.step}/{info.total_steps} loss {total:.4f} ({info.images_per_s:.1f} images/s)")

    def on_preview(self, trainer, step, images) -> None:
        self.status.set_preview(images["truth"], images.get("composite", images["render"]))

    def on_checkpoint(self, trainer, path) -> None:
        self.status.checkpoint_path = str(path)
        self.status.log(f"checkpoint {Path(path).name}")

    def on_end(self, trainer, reason) -> None:
        self.status.log(f"training ended: {reason}")


class TrainingJob:
    """One training run on a daemon thread; ``status`` is a TrainingStatus the UI polls."""

    def __init__(self, options: TrainingOptions) -> None:
        self.options = options
        self.status = TrainingStatus()
        self.trainer = None
        self.reason: str | None = None
        self._stop = threading.Event()
        self._paused = False
        self._thread: threading.Thread | None = None

    def start(self) -> "TrainingJob":
        """Starts the run (building the trainer happens on the worker too, so the UI never waits)."""
        if self._thread is not None:
            raise AnrError("training: this job was already started, expected a new job")
        self.status.set_state(JobState.RUNNING)
        self._thread = threading.Thread(target=self._run, name="anr-training", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        from anr_studio.train.trainer import Trainer

        opts = self.options
        try:
            config = build_config(opts)
            self.status.log(f"preset {opts.preset}: {config.optim.steps} steps at {config.data.resolution}²")
            trainer = Trainer(config, list(opts.captures), opts.out, device=opts.device, resume=opts.resume,
                              callbacks=[_StatusCallback(self.status)], body=opts.body, warn=self.status.log)
            self.trainer = trainer
            if self._stop.is_set():
                trainer.request_stop()
            trainer.set_paused(self._paused)
            self.reason = trainer.run()
            self.status.avatar_path = str(Path(opts.out) / "avatar.anr")
        except AnrError as exc:
            self.status.fail(str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - reported in the panel, never a silent thread death
            import traceback

            self.status.log(traceback.format_exc(limit=8))
            self.status.fail(f"training failed: {type(exc).__name__}: {exc}")
            return
        self.status.set_state(JobState.STOPPED if self.reason == "stopped" else JobState.FINISHED)

    def pause(self) -> None:
        """Pauses between steps."""
        self._paused = True
        if self.trainer is not None:
            self.trainer.set_paused(True)
        if self.status.state == JobState.RUNNING:
            self.status.set_state(JobState.PAUSED)

    def resume(self) -> None:
        """Continues a paused run."""
        self._paused = False
        if self.trainer is not None:
            self.trainer.set_paused(False)
        if self.status.state == JobState.PAUSED:
            self.status.set_state(JobState.RUNNING)

    def stop(self) -> None:
        """Stops after the current step; the trainer then checkpoints and writes avatar.anr."""
        self._stop.set()
        if self.trainer is not None:
            self.trainer.request_stop()
            self.trainer.set_paused(False)
        if self.status.state.active:
            self.status.set_state(JobState.STOPPING)

    def join(self, timeout: float | None = None) -> bool:
        """Returns True once the worker has ended."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()
