"""A training child process never outlives the studio: killed parent -> the child stops and exits."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from anr_studio.jobs.training_job import watch_parent

STUDIO = textwrap.dedent("""
    import sys, time
    from tests.standin import standin_body, write_standin_capture
    from anr_studio.jobs.training_job import TrainingJob, TrainingOptions
    body = standin_body()
    cap = write_standin_capture(sys.argv[1] + "/c.h5", body)
    job = TrainingJob(TrainingOptions([cap], sys.argv[1] + "/run", preset="tiny", steps=100000,
                                      checkpoint_every=100000, preview_every=0, body=body)).start()
    t0 = time.monotonic()
    while len(job.status.metrics) < 2 and time.monotonic() - t0 < 240:
        time.sleep(0.05)
    print(job._proc.pid, len(job.status.metrics), flush=True)
    time.sleep(600)
""")


def _gone(pid: int) -> bool:
    """Returns True when ``pid`` has exited (no such process, or a zombie nobody reaped yet)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")


def test_watch_parent_flags_an_orphan_at_once():
    orphaned = threading.Event()
    watch_parent(os.getpid() + 10**7, orphaned, poll_s=0.01, grace_s=3600)  # never this process's parent
    assert orphaned.wait(2.0)
    still = threading.Event()
    watch_parent(os.getppid(), still, poll_s=0.01, grace_s=3600)
    assert not still.wait(0.2)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads process states from /proc")
def test_training_process_exits_when_the_studio_is_killed(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.getcwd() + os.pathsep + os.environ.get("PYTHONPATH", ""), OMP_NUM_THREADS="1")
    studio = subprocess.Popen([sys.executable, "-c", STUDIO, str(tmp_path)], stdout=subprocess.PIPE, text=True, env=env)
    try:
        child_pid, steps = map(int, studio.stdout.readline().split())
        assert steps >= 2, "the training never reported a step"
        assert not _gone(child_pid)
        studio.send_signal(signal.SIGKILL)  # a crash: no close handler runs
        studio.wait(10)
        t0 = time.monotonic()
        while not _gone(child_pid) and time.monotonic() - t0 < 60:
            time.sleep(0.1)
        assert _gone(child_pid), "the training process kept running after the studio died"
        # It stopped like a user stop: the run folder holds the checkpoint of where it got to.
        assert any((tmp_path / "run").rglob("*.safetensors")) or (tmp_path / "run" / "avatar.anr").exists()
    finally:
        if studio.poll() is None:
            studio.kill()
