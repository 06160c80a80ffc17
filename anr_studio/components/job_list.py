"""JobList: the studio's background jobs in one list (name, progress, ETA, cancel), free of Qt.

Main thread only: jobs write their ``JobStatus`` from their own threads, the list reads snapshots.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass
from typing import Callable, Protocol

from psygnal import Signal

from anr_studio.components.status import JobState, JobStatus

DONE_LINGER_S = 4.0
"""Seconds a finished or cancelled job stays in the list."""
FAILED_LINGER_S = 15.0
"""Seconds a failed job stays in the list (long enough to read its message)."""
CLOSE_WAIT_S = 5.0
"""Seconds a closing studio waits in all for its cancelled jobs to end (each removes what it half wrote)."""
STATE_WORDS = {JobState.FINISHED: "done", JobState.STOPPED: "cancelled", JobState.STOPPING: "cancelling…"}


class StudioJob(Protocol):
    """A background job the list can show and cancel (``BackgroundJob``, ``TrainingJob``); one that has an
    ``outcome`` (a line on how it ended, or None) is shown ended with that line instead of "done" or "cancelled"."""

    status: JobStatus

    def stop(self) -> None:
        """Asks the job to stop cleanly (training checkpoints; other jobs leave nothing half-written)."""

    def join(self, timeout: float | None = None) -> bool:
        """Returns True once the job has ended (waits up to ``timeout`` seconds)."""


def format_eta(seconds: float | None) -> str:
    """Returns ``seconds`` left as "m:ss" (or "h:mm:ss"), rounded up, "" when unknown."""
    if seconds is None or not math.isfinite(seconds):
        return ""
    s = math.ceil(max(0.0, seconds))
    return f"{s // 3600:d}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60:d}:{s % 60:02d}"


@dataclass(frozen=True)
class JobRow:
    """What the job list shows of one job at one refresh."""

    key: int
    name: str
    state: JobState
    done: int
    total: int
    eta_s: float | None
    stage: str
    """The job's own progress message (e.g. "body fit"), "" when it has none."""
    error: str | None
    outcome: str | None = None
    """The job's own line on how it ended (a stopped training wrote its avatar), None for the state's word."""

    @property
    def fraction(self) -> float | None:
        """Returns done/total in [0, 1], None while the amount of work is unknown."""
        return min(1.0, self.done / self.total) if self.total > 0 else None

    def text(self) -> str:
        """Returns one line for the status bar: "42% · ETA 0:13", "done", "cancelled", the job's outcome or "failed: …"."""
        if self.state == JobState.FAILED:
            return f"failed: {self.error or 'no message'}"
        if self.outcome and not self.state.active:
            return self.outcome
        if self.state in STATE_WORDS:
            return STATE_WORDS[self.state]
        parts = [] if self.fraction is None else [f"{100 * self.fraction:.0f}%"]
        if self.state == JobState.PAUSED:
            parts.append("paused")
        elif self.total > 0 and self.done >= self.total:
            parts.append("finishing…")  # the counted work is done; what follows (writing) is not counted
        elif format_eta(self.eta_s):
            parts.append(f"ETA {format_eta(self.eta_s)}")
        if self.stage:
            parts.insert(0, self.stage)
        return " · ".join(parts) or "starting…"


@dataclass
class _Entry:
    job: StudioJob
    name: str
    ended_at: float | None = None


class JobList:
    """The running and recently ended jobs, in start order; ``changed`` fires when one is added or dropped, and
    ``rows()`` (polled) drops those ended more than their linger time ago."""

    changed = Signal()

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._entries: dict[int, _Entry] = {}
        self._keys = itertools.count(1)

    def add(self, job: StudioJob, name: str) -> int:
        """Returns the key of ``job``, now listed as ``name``."""
        key = next(self._keys)
        self._entries[key] = _Entry(job, name)
        self.changed.emit()
        return key

    def rows(self) -> list[JobRow]:
        """Returns one row per listed job, oldest first, after dropping jobs that ended long enough ago."""
        now = self._clock()
        rows, dropped = [], False
        for key, entry in list(self._entries.items()):
            snap = entry.job.status.snapshot(log_tail=0)
            if snap.state.active or snap.state == JobState.IDLE:
                entry.ended_at = None
            elif entry.ended_at is None:
                entry.ended_at = now
            elif now - entry.ended_at > (FAILED_LINGER_S if snap.state == JobState.FAILED else DONE_LINGER_S):
                del self._entries[key]
                dropped = True
                continue
            rows.append(JobRow(key, entry.name, snap.state, snap.done, snap.total, snap.eta_s, snap.message,
                               snap.error.splitlines()[0] if snap.error else None, getattr(entry.job, "outcome", None)))
        if dropped:
            self.changed.emit()
        return rows

    def cancel(self, key: int) -> bool:
        """Asks the job under ``key`` to stop; returns False when it is not listed or no longer running."""
        entry = self._entries.get(key)
        if entry is None or not entry.job.status.state.active:
            return False
        entry.job.stop()
        return True

    def cancel_all(self) -> None:
        """Asks every running job to stop (the studio is closing) and waits up to CLOSE_WAIT_S seconds in all for them
        to end: a job still running when the studio exits dies with it, leaving what it half wrote."""
        jobs = [entry.job for key, entry in list(self._entries.items()) if self.cancel(key)]
        deadline = time.monotonic() + CLOSE_WAIT_S
        for job in jobs:
            job.join(max(0.0, deadline - time.monotonic()))
