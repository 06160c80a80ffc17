"""BackgroundJob: runs a function on a worker thread with pause, stop and progress.

The function calls ``control.checkpoint()`` between units of work (blocks while paused, raises
``JobStopped`` after a stop). An AnrError ends the job FAILED with its sentence; anything else with its type.
"""

from __future__ import annotations

import threading
import traceback
from typing import Any, Callable

from anr_studio.components.status import JobState, JobStatus
from anr_studio.errors import AnrError


class JobStopped(Exception):
    """Raised inside a job by ``JobControl.checkpoint()`` after ``stop()``."""


class JobControl:
    """The worker's side of a job: pause/stop flags (threading.Event) and the status to write."""

    def __init__(self, status: JobStatus) -> None:
        self.status = status
        self.stop_event = threading.Event()
        self.resume_event = threading.Event()  # set = running, clear = paused
        self.resume_event.set()

    def checkpoint(self) -> None:
        """Blocks while paused; raises JobStopped once a stop was requested."""
        if not self.resume_event.is_set():
            self.status.set_state(JobState.PAUSED)
            self.resume_event.wait()  # set again by resume() and by stop()
            if not self.stop_event.is_set():
                self.status.set_state(JobState.RUNNING)
        if self.stop_event.is_set():
            raise JobStopped()


class BackgroundJob:
    """Runs ``fn(control) -> result`` on a daemon thread; ``result``/``status`` are read afterwards."""

    def __init__(self, name: str, fn: Callable[[JobControl], Any]) -> None:
        self.name = name
        self._fn = fn
        self.status = JobStatus()
        self.control = JobControl(self.status)
        self.result: Any = None
        self._thread: threading.Thread | None = None

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
            self.result = self._fn(self.control)
        except JobStopped:
            self.status.log("stopped by the user")
            self.status.set_state(JobState.STOPPED)
        except AnrError as exc:
            self.status.fail(str(exc))
        except Exception as exc:  # noqa: BLE001 - a worker must never die silently
            self.status.log(traceback.format_exc(limit=6))
            self.status.fail(f"{self.name} failed: {type(exc).__name__}: {exc}")
        else:
            self.status.set_state(JobState.STOPPED if self.control.stop_event.is_set() else JobState.FINISHED)

    def pause(self) -> None:
        """Asks the worker to pause at its next checkpoint."""
        self.control.resume_event.clear()

    def resume(self) -> None:
        """Lets a paused worker continue."""
        self.control.resume_event.set()

    def stop(self) -> None:
        """Asks the worker to stop at its next checkpoint (also releases a pause)."""
        if self.status.state.active:
            self.status.set_state(JobState.STOPPING)
        self.control.stop_event.set()
        self.control.resume_event.set()

    def join(self, timeout: float | None = None) -> bool:
        """Returns True when the worker has ended (waits up to ``timeout`` seconds)."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()
