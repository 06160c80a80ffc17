"""BackgroundJob: runs a function on a worker thread with pause, stop and progress.

The function gets the job and calls its ``checkpoint()`` between units of work (blocks while paused, raises
``JobStopped`` after a stop). An AnrError ends the job FAILED with its sentence; anything else with its type.
"""

from __future__ import annotations

import threading
import traceback
from typing import Any, Callable

from anr_studio.components.status import JobState, JobStatus
from anr_studio.errors import AnrError


class JobStopped(Exception):
    """Raised inside a job by ``BackgroundJob.checkpoint()`` after ``stop()``."""


class BackgroundJob:
    """Runs ``fn(job) -> result`` on a daemon thread; ``result``/``status`` are read afterwards. ``fn`` calls
    ``job.checkpoint()`` between units of work and writes its progress to ``job.status``."""

    def __init__(self, name: str, fn: Callable[["BackgroundJob"], Any]) -> None:
        self.name = name
        self._fn = fn
        self.status = JobStatus()
        self.result: Any = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._resume = threading.Event()  # set = running, clear = paused
        self._resume.set()

    def start(self) -> "BackgroundJob":
        """Starts the worker thread; returns self."""
        if self._thread is not None:
            raise AnrError(f"job {self.name}: it was already started, expected a fresh job")
        self.status.set_state(JobState.RUNNING)
        self._thread = threading.Thread(target=self._run, name=f"anr-job-{self.name}", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            self.result = self._fn(self)
        except JobStopped:
            self.status.log("stopped by the user")
            self.status.set_state(JobState.STOPPED)
        except AnrError as exc:
            self.status.fail(str(exc))
        except Exception as exc:  # noqa: BLE001 - a worker must never die silently
            self.status.log(traceback.format_exc(limit=6))
            self.status.fail(f"{self.name} failed: {type(exc).__name__}: {exc}")
        else:
            self.status.set_state(JobState.STOPPED if self._stop.is_set() else JobState.FINISHED)

    def checkpoint(self) -> None:
        """Blocks while paused; raises JobStopped once a stop was requested (called by the worker)."""
        if not self._resume.is_set():
            self.status.set_state(JobState.PAUSED)
            self._resume.wait()  # set again by resume() and by stop()
            if not self._stop.is_set():
                self.status.set_state(JobState.RUNNING)
        if self._stop.is_set():
            raise JobStopped()

    def pause(self) -> None:
        """Asks the worker to pause at its next checkpoint."""
        self._resume.clear()

    def resume(self) -> None:
        """Lets a paused worker continue."""
        self._resume.set()

    def stop(self) -> None:
        """Asks the worker to stop at its next checkpoint (also releases a pause)."""
        if self.status.state.active:
            self.status.set_state(JobState.STOPPING)
        self._stop.set()
        self._resume.set()

    def join(self, timeout: float | None = None) -> bool:
        """Returns True when the worker has ended (waits up to ``timeout`` seconds)."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()
