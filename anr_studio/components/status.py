"""Job and training status objects the GUI polls: state, progress, ETA, log, loss history, previews.

Workers write these under a lock, readers get copies: the studio polls ``snapshot()`` from a QTimer.
"""

from __future__ import annotations

import enum
import math
import threading
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np


ETA_TAU_S = 60.0
"""Seconds of wall time the ETA's rate averages over."""


class JobState(enum.Enum):
    """Lifecycle of a background job."""

    IDLE = "idle"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPING = "stopping"
    FINISHED = "finished"
    STOPPED = "stopped"
    FAILED = "failed"

    @property
    def active(self) -> bool:
        return self in (JobState.RUNNING, JobState.PAUSED, JobState.STOPPING)


@dataclass
class StatusSnapshot:
    """A consistent copy of a JobStatus for one UI refresh."""

    state: JobState
    done: int
    total: int
    eta_s: float | None
    message: str
    error: str | None
    log: list[str] = field(default_factory=list)
    log_count: int = 0  # lines logged since the start (the log itself is a bounded tail)


class JobStatus:
    """Thread-safe status of one job: state, progress (done/total), ETA, a bounded log, the error."""

    def __init__(self, log_limit: int = 2000) -> None:
        self._lock = threading.Lock()
        self._state = JobState.IDLE
        self._done = 0
        self._total = 0
        self._message = ""
        self._error: str | None = None
        self._log: deque[str] = deque(maxlen=log_limit)
        self._log_count = 0
        self._t_start: float | None = None
        # Seconds and units of work, each summed with weights that decay over ETA_TAU_S of wall
        # time: their ratio moves smoothly through slow steps (previews, checkpoints) instead of
        # jumping with each one, and still follows a lasting change of pace.
        self._rate_s = 0.0
        self._rate_units = 0.0
        self._last_progress: tuple[float, int] | None = None

    def set_state(self, state: JobState) -> None:
        """Records a lifecycle change (the ETA's rate leaves paused spans out)."""
        with self._lock:
            if state == self._state:
                return
            if state == JobState.RUNNING and self._t_start is None:
                self._t_start = time.monotonic()
            if self._state == JobState.PAUSED:
                self._last_progress = None  # the paused span is no step's duration
            self._state = state

    @property
    def state(self) -> JobState:
        with self._lock:
            return self._state

    def set_progress(self, done: int, total: int | None = None, message: str | None = None) -> None:
        """Records ``done`` of ``total`` units of work (a new ``total`` starts a new kind of unit: the ETA's rate restarts)."""
        with self._lock:
            self._done = int(done)
            if total is not None and int(total) != self._total:
                self._total = int(total)
                self._rate_s = self._rate_units = 0.0
                self._last_progress = None
            if message is not None:
                self._message = message
            now = time.monotonic()
            last = self._last_progress
            if last is not None and self._done > last[1] and now > last[0]:
                dt = now - last[0]
                decay = math.exp(-dt / ETA_TAU_S)
                self._rate_s = self._rate_s * decay + dt
                self._rate_units = self._rate_units * decay + (self._done - last[1])
            if last is None or self._done != last[1]:
                self._last_progress = (now, self._done)

    def log(self, line: str) -> None:
        """Appends one line to the bounded log, stamped with the elapsed time."""
        with self._lock:
            t = 0.0 if self._t_start is None else time.monotonic() - self._t_start
            self._log.append(f"[{t:7.1f}s] {line}")
            self._log_count += 1

    def fail(self, message: str) -> None:
        """Records a user-facing error message and moves to FAILED."""
        with self._lock:
            self._error = message
        self.log(f"error: {message}")
        self.set_state(JobState.FAILED)

    def _eta(self) -> float | None:
        """Returns the seconds left at the smoothed rate; None before a rate is known and once the job ended."""
        if not self._state.active or self._rate_units <= 0 or self._total <= 0:
            return None
        return max(0, self._total - self._done) * self._rate_s / self._rate_units

    def snapshot(self, log_tail: int = 200) -> StatusSnapshot:
        """Returns a consistent copy for the UI (the last ``log_tail`` log lines)."""
        with self._lock:
            log = list(self._log)[-log_tail:] if log_tail else []
            return StatusSnapshot(self._state, self._done, self._total, self._eta(), self._message, self._error, log,
                                  self._log_count)


class MetricBuffer:
    """Bounded per-name histories of (step, value): a full series drops every other point, so a plot spans the
    whole run with at most ``capacity`` points."""

    def __init__(self, capacity: int = 4000) -> None:
        self.capacity = max(int(capacity), 16)
        self._lock = threading.Lock()
        self._series: dict[str, tuple[list[int], list[float]]] = {}
        self.version = 0

    def append(self, step: int, values: dict[str, float]) -> None:
        """Adds one value per name at ``step`` (non-finite values are skipped)."""
        with self._lock:
            for name, value in values.items():
                value = float(value)
                if not np.isfinite(value):
                    continue
                xs, ys = self._series.setdefault(name, ([], []))
                xs.append(int(step))
                ys.append(value)
                if len(xs) >= self.capacity:
                    del xs[1::2]
                    del ys[1::2]
            self.version += 1

    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._series)

    def series(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Returns (steps (n,) int64, values (n,) float64) for ``name`` (empty arrays if unknown)."""
        with self._lock:
            xs, ys = self._series.get(name, ([], []))
            return np.asarray(xs, np.int64), np.asarray(ys, np.float64)

    def __len__(self) -> int:
        with self._lock:
            return max((len(v[0]) for v in self._series.values()), default=0)


class TrainingStatus(JobStatus):
    """JobStatus plus the loss history (MetricBuffer) and the latest (truth, render) preview images."""

    def __init__(self) -> None:
        super().__init__()
        self.metrics = MetricBuffer()
        self._preview: tuple[np.ndarray, np.ndarray] | None = None
        self._preview_version = 0
        self.avatar_path: str | None = None

    def set_preview(self, truth: np.ndarray, render: np.ndarray) -> None:
        """Stores the latest preview pair, each (H,W,3) uint8."""
        with self._lock:
            self._preview = (np.ascontiguousarray(truth), np.ascontiguousarray(render))
            self._preview_version += 1

    def preview(self) -> tuple[int, tuple[np.ndarray, np.ndarray] | None]:
        """Returns (version, (truth, render) or None); the version lets the UI skip unchanged frames."""
        with self._lock:
            return self._preview_version, self._preview
