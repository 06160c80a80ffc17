"""TrainingJob: runs anr_studio.train.Trainer in a child process and reports into a TrainingStatus: a training,
or the fit of a new identity's texture into an avatar whose renderer stays frozen (anr_studio.train.fit).

Pause/resume/stop reach the trainer's events through multiprocessing events; its callbacks become
status updates (losses, previews, progress, ETA, log). The GUI polls ``status`` from a QTimer.
"""

from __future__ import annotations

import _thread
import math
import os
import queue as queue_mod
import shutil
import signal
import tempfile
import threading
import time
import traceback

import numpy as np
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Sequence

from anr_studio.components.status import JobState, TrainingStatus
from anr_studio.errors import AnrError
from anr_studio.fileio import on_stop_signals
from anr_studio.train.callbacks import FIT_STEPS, POSE_FIT, Callback

POSE_FIT_STAGE = "Fitting poses to masks…"
"""The progress message (with the identity after it) while the trainer fits the tracked poses; its units are frames."""
FIRST_STEP_STAGE = "Running the first step…"
"""The progress message from the start of training until its first step reports (steps are the units)."""


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
    overrides: list[str] = field(default_factory=list)
    """Extra ``section.field=value`` config overrides."""
    body: Any = None
    """A body model to use instead of the captures' (tests)."""
    fit_into: str | None = None
    """An avatar file (.anr): fit only a new identity's texture to ``captures[0]`` with its renderer frozen, instead of
    training; the job then works in a temporary folder of its own (``out``), removed once its process has exited, and
    the identity comes back as ``fitted``."""
    fit_name: str = ""
    """The name of the fitted identity."""


def preset_names() -> list[str]:
    """Returns the names of the training presets (anr_studio.train.presets), in the registry's order."""
    from anr_studio.train.presets import PRESETS

    return list(PRESETS)


def suited_preset() -> tuple[str, str]:
    """Returns (preset name, a sentence saying why) for this machine: `fast` with a CUDA GPU, the CPU preset otherwise."""
    import torch

    from anr_studio.train.presets import default_preset

    if torch.cuda.is_available():
        return default_preset("cuda"), f"GPU found ({torch.cuda.get_device_name(0)}): the {default_preset('cuda')} preset suits it."
    name = default_preset("cpu")
    return name, f"No GPU: the {name} preset suits this CPU (fast and paper need a GPU)."


def build_config(opts: TrainingOptions):
    """Returns the TrainConfig for ``opts`` (preset + overrides)."""
    from anr_studio.train.configtools import option_overrides
    from anr_studio.train.presets import preset

    config = preset(opts.preset)
    over = list(opts.overrides) + option_overrides(steps=opts.steps, checkpoint_every=opts.checkpoint_every,
                                                   preview_every=opts.preview_every,
                                                   split_optimization=opts.split_optimization)
    return config.with_overrides(over) if over else config


class _QueueCallback(Callback):
    """Trainer callback in the training process: sends progress to the studio through a queue."""

    def __init__(self, queue) -> None:
        self.queue = queue
        self.trainer = None  # once it starts: the studio's pause and stop reach it
        self._heldout_failed = False

    def on_phase(self, trainer, phase) -> None:  # a set-up stage: no units to count
        self.queue.put(("progress", 0, 0, f"{phase[:1].upper()}{phase[1:]}…"))

    def on_pose_fit(self, trainer, identity, done, total) -> None:
        self.queue.put(("progress", done, total, f"{POSE_FIT_STAGE} ({identity})"))
        if done == 0:
            self.queue.put(("log", f"{POSE_FIT} ({identity}, {total} frames)"))

    def on_start(self, trainer) -> None:
        self.trainer = trainer
        self.queue.put(("progress", trainer.step, trainer.config.optim.steps, FIRST_STEP_STAGE))
        what = "fitting" if trainer.fitting else "training"
        self.queue.put(("log", f"{what} {', '.join(trainer.identities)} on {trainer.device} from step {trainer.step}"))

    def on_step(self, trainer, info) -> None:
        self.queue.put(("metrics", info.step, {k: float(v) for k, v in info.losses.items()}))
        self.queue.put(("progress", info.step, info.total_steps, f"{info.images_per_s:.1f} images/s"))
        if info.step % max(1, 10 * trainer.config.optim.log_every) == 0 or info.step == info.total_steps:
            total = info.losses.get("total", math.nan)
            self.queue.put(("log", f"step {info.step}/{info.total_steps} loss {total:.4f} ({info.images_per_s:.1f} images/s)"))

    def on_preview(self, trainer, step, images) -> None:
        pair = None
        if not self._heldout_failed:
            try:
                pair = heldout_preview(trainer)
            except Exception as exc:  # noqa: BLE001 - previews are best effort; the crop still shows
                self._heldout_failed = True
                self.queue.put(("log", f"held-out preview unavailable ({type(exc).__name__}: {exc}); showing training crops"))
        if pair is None:
            pair = (images["truth"], images.get("composite", images["render"]))
        self.queue.put(("preview", *pair))

    def on_checkpoint(self, trainer, path) -> None:
        self.queue.put(("log", f"checkpoint {Path(path).name}"))

    def on_end(self, trainer, reason) -> None:
        self.queue.put(("log", f"{'fitting' if trainer.fitting else 'training'} ended: {reason}"))


def heldout_preview(trainer):
    """Returns (truth, render) (H,W,3) uint8, at most 256 pixels a side, of the first capture's first held-out frame
    (else its last frame) rendered now with the trainer's weights under its lock."""
    import cv2
    import torch

    from anr_studio.train.evaluate import render_frames, trainer_avatar

    cap = trainer.captures[0]
    test = cap.split("test") if cap.has_split else []
    idx = int(test[0]) if len(test) else len(cap) - 1
    with trainer.lock, torch.no_grad():
        render = render_frames(trainer_avatar(trainer), cap, [idx])[0]["composite"]
    truth = cap.frame(idx)
    h, w = truth.shape[:2]
    scale = min(1.0, 256 / max(h, w))
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        truth, render = (cv2.resize(im, size, interpolation=cv2.INTER_AREA) for im in (truth, render))
    return np.ascontiguousarray(truth), np.ascontiguousarray(render)


ORPHAN_GRACE_S = 60.0
"""Seconds a training whose studio died may take to checkpoint before its process exits anyway."""


def watch_parent(parent_pid: int, orphaned: threading.Event, poll_s: float = 0.25,
                 grace_s: float = ORPHAN_GRACE_S) -> threading.Thread:
    """Returns a started daemon thread that sets ``orphaned`` once ``parent_pid`` is no longer this process's parent.

    The child then stops like a user stop (checkpoint, avatar.anr), or exits after ``grace_s`` seconds.
    """
    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(poll_s)
        orphaned.set()
        time.sleep(grace_s)
        os._exit(3)

    thread = threading.Thread(target=watch, name="anr-parent-watch", daemon=True)
    thread.start()
    return thread


def _fit_identity(opts: TrainingOptions, callback: _QueueCallback) -> tuple[str, int]:
    """Fits ``opts.fit_name`` into the avatar ``opts.fit_into`` on the studio's device; sends the identity back as
    ("fitted", name, texture (C,S,S), betas (K,), camera) once a step was made, stopped or not; returns (why it ended,
    its step)."""
    from anr_studio.components.avatars import open_avatar
    from anr_studio.components.scene import default_body
    from anr_studio.train.fit import fit_identity

    avatar = open_avatar(opts.fit_into, default_body() if opts.body is None else opts.body)
    chosen = {"steps": opts.steps, "checkpoint_every": opts.checkpoint_every, "preview_every": opts.preview_every}
    try:
        result = fit_identity(avatar, opts.captures[0], opts.fit_name, opts.out, callbacks=[callback],
                              warn=lambda m: callback.queue.put(("log", m)),
                              **{k: v for k, v in chosen.items() if v is not None})
    finally:  # the studio removes it too, once this process has exited: this one covers a studio that died
        shutil.rmtree(opts.out, ignore_errors=True)
    name = opts.fit_name
    if name in avatar.identities:
        callback.queue.put(("fitted", name, result.texture.cpu().numpy(), avatar.identity_betas(name),
                            avatar.identity_camera(name)))
    return result.reason, result.step


def _training_process(opts: TrainingOptions, queue, stop, pause, threads: int, parent_pid: int) -> None:
    """Runs one training in a child process (own interpreter: no GIL shared with the UI)."""
    import multiprocessing as mp

    # Daemonic, so the studio's exit ends it; but it must start the data loader's worker processes.
    mp.current_process().daemon = False
    orphaned = threading.Event()
    watch_parent(parent_pid, orphaned)
    if os.getppid() != parent_pid:  # the studio died while this process started
        os._exit(3)
    import torch

    torch.set_num_threads(max(1, threads))
    try:  # below the studio's priority: when the cores are contended, the UI runs first
        os.nice(10)
    except (AttributeError, OSError):  # pragma: no cover - platforms without nice
        pass
    callback = _QueueCallback(queue)
    interrupted = threading.Event()
    written = None if opts.fit_into else str(Path(opts.out) / "avatar.anr")  # a fit writes no avatar
    try:
        from anr_studio.train.trainer import Trainer

        def relay() -> None:  # the studio's stop/pause flags -> the trainer's own events
            while not (stop.is_set() or orphaned.is_set()):
                if callback.trainer:
                    callback.trainer.set_paused(pause.is_set())
                time.sleep(0.02)
            # Still building (downloading weights, fitting poses): nothing to save yet, so the build is interrupted.
            # An interrupt that lands in a finaliser is swallowed, so it is repeated until it is taken or a trainer
            # exists to take the stop instead.
            while not callback.trainer and not interrupted.is_set():
                _thread.interrupt_main()
                time.sleep(0.5)
            if callback.trainer:
                callback.trainer.request_stop()
                callback.trainer.set_paused(False)

        # interrupt_main raises only through Python's own handler, which a studio started with Ctrl-C ignored lacks.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        threading.Thread(target=relay, daemon=True).start()
        with on_stop_signals():  # SIGTERM (`kill`, the studio's exit) stops it as a stop does
            if opts.fit_into:
                reason, step = _fit_identity(opts, callback)
            else:
                config = build_config(opts)
                queue.put(("log", f"preset {opts.preset}: {config.optim.steps} steps at {config.data.resolution}²"))
                trainer = Trainer(config, list(opts.captures), opts.out, resume=opts.resume, callbacks=[callback],
                                  body=opts.body, warn=lambda m: queue.put(("log", m)))
                reason, step = trainer.run(), trainer.step
        if orphaned.is_set():  # nobody reads the queue any more; its feeder thread must not hold the exit
            os._exit(0)
        queue.put(("end", reason, written, step))
    except KeyboardInterrupt:  # stopped while the trainer was built
        interrupted.set()
        if orphaned.is_set():
            os._exit(0)
        queue.put(("end", "stopped", written, callback.trainer.step if callback.trainer else None))
    except AnrError as exc:
        queue.put(("error", str(exc)))
    except BaseException as exc:  # noqa: BLE001 - reported in the panel, never a silent death
        queue.put(("log", traceback.format_exc(limit=8)))
        queue.put(("error", f"training failed: {type(exc).__name__}: {exc}"))


def _exit_message(code: int | None, preset: str) -> str:
    """Returns the error of a training process that ended with exit status ``code`` before saying why."""
    if code == -signal.SIGKILL:  # the kernel's out-of-memory killer sends SIGKILL
        return (f"training: the training process was killed (SIGKILL), most likely by the system for lack of memory; "
                f"expected a preset that fits this machine's memory (the {preset} preset is too large here: on a CPU "
                f"choose cpu or tiny), or a smaller data.batch_size or data.resolution")
    how = f"was ended by {signal.Signals(-code).name}" if code is not None and code < 0 else f"exited with code {code}"
    return f"training: the training process {how}, expected a clean end"


class TrainingJob:
    """One training run in a spawned child process (the studio's interpreter never waits for its GIL);
    ``status`` is the TrainingStatus the UI polls, filled by a daemon thread from the child's queue."""

    def __init__(self, options: TrainingOptions) -> None:
        import multiprocessing as mp

        self.options = options
        self.status = TrainingStatus()
        self.reason: str | None = None
        self.step = 0
        self.fitted: tuple | None = None  # a fit's (name, texture (C,S,S), betas (K,), camera) once it made a step
        self._ctx = ctx = mp.get_context("spawn")
        self._queue = ctx.Queue()
        self._stop = ctx.Event()
        self._pause = ctx.Event()
        self._proc = None
        self._ended = threading.Event()

    def start(self) -> "TrainingJob":
        """Starts the training process; returns self."""
        if self._proc is not None:
            raise AnrError("training: this job was already started, expected a new job")
        if self.options.fit_into:
            self.options = replace(self.options, out=tempfile.mkdtemp(prefix="anr-fit-"))
        self.status.set_state(JobState.RUNNING)
        what = "fit" if self.options.fit_into else "training"
        self.status.set_progress(0, 0, f"Starting the {what} process…")
        self.status.log(f"starting the {what} process")
        threads = max(1, (os.cpu_count() or 2) - 1)  # one core stays with the studio's event loop
        self._proc = self._ctx.Process(target=_training_process, name="anr-training", daemon=True,
                                       args=(self.options, self._queue, self._stop, self._pause, threads, os.getpid()))
        try:
            self._proc.start()
        except Exception as exc:  # noqa: BLE001 - e.g. the system's memory, process or open-file limits
            if self.options.fit_into:
                shutil.rmtree(self.options.out, ignore_errors=True)
            self._proc = None
            self.status.fail(f"{what}: the {what} process could not start ({type(exc).__name__}: {exc}), expected the "
                             "system to allow one more process (free memory, process and open-file limits)")
            raise AnrError(self.status.snapshot().error) from exc
        threading.Thread(target=self._drain_loop, name="anr-training-drain", daemon=True).start()
        return self

    def _handle(self, kind: str, *args) -> bool:
        """Applies one message of the training process to ``status``; returns True after its last one."""
        st = self.status
        if kind == "end":  # the step it ended at: progress reports come only every few steps
            self.reason, st.avatar_path, step = args
            self.step = self.step if step is None else int(step)
            return True
        if kind == "fitted":
            self.fitted = args
            return False
        if kind in ("metrics", "progress"):
            self.step = int(args[0])
        apply = {"metrics": st.metrics.append, "progress": st.set_progress, "preview": st.set_preview, "log": st.log,
                 "error": st.fail}
        apply[kind](*args)
        return kind == "error"

    def _drain_loop(self) -> None:
        while True:
            alive = self._proc.is_alive()
            try:  # messages may still be in flight after the process exits: wait a little longer for them
                msg = self._queue.get(timeout=0.1 if alive else 0.5)
            except queue_mod.Empty:
                if alive:
                    continue
                self.status.fail(_exit_message(self._proc.exitcode, self.options.preset))
                break
            if self._handle(*msg):
                break
        self._proc.join(30)
        if self.options.fit_into:  # however the fit ended, its process died or the studio closes
            shutil.rmtree(self.options.out, ignore_errors=True)
        if self.reason is not None:
            self.status.set_state(JobState.STOPPED if self.reason == "stopped" else JobState.FINISHED)
        self._ended.set()

    def pause(self) -> None:
        """Pauses between steps."""
        self._pause.set()
        if self.status.state == JobState.RUNNING:
            self.status.set_state(JobState.PAUSED)

    def resume(self) -> None:
        """Continues a paused run."""
        self._pause.clear()
        if self.status.state == JobState.PAUSED:
            self.status.set_state(JobState.RUNNING)

    def stop(self) -> None:
        """Stops after the current step; the trainer then checkpoints and writes avatar.anr."""
        self._stop.set()
        self._pause.clear()
        if self.status.state.active:
            self.status.set_state(JobState.STOPPING)

    def join(self, timeout: float | None = None) -> bool:
        """Returns True once the run has ended and its status is final."""
        if self._proc is None:
            return True
        return self._ended.wait(timeout)

    @property
    def running(self) -> bool:
        """Returns True from `start` until the training process has exited (after its status turned final)."""
        return self._proc is not None and not self._ended.is_set()

    @property
    def outcome(self) -> str | None:
        """Returns how a stopped run that kept its work ended ("stopped at step N, wrote PATH" or, for a fit, "stopped at
        step N, kept NAME"), how a fit stopped before its first step ended, else None."""
        path = self.status.avatar_path
        if self.reason == "stopped" and self.options.fit_into:
            return f"stopped at step {self.step}, kept {self.fitted[0]}" if self.fitted else "stopped before its first step"
        if self.reason == "stopped" and path and Path(path).exists():
            return f"stopped at step {self.step}, wrote {path}"
        return None
