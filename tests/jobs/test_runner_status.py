"""BackgroundJob pause/stop/fail, status ETA and the bounded metric buffer."""

import time

import numpy as np
import pytest

from anr_studio.components.status import JobState, MetricBuffer, TrainingStatus
from anr_studio.errors import AnrError
from anr_studio.jobs.runner import BackgroundJob


def _counting_job(n, delay=0.005):
    counter = {"i": 0}

    def fn(control):
        for i in range(n):
            control.checkpoint()
            counter["i"] = i + 1
            control.status.set_progress(i + 1, n)
            time.sleep(delay)
        return counter["i"]

    return fn, counter


def test_job_runs_to_completion_with_progress_and_eta():
    fn, counter = _counting_job(40)
    job = BackgroundJob("count", fn).start()
    time.sleep(0.05)
    snap = job.status.snapshot()
    assert snap.state == JobState.RUNNING and 0 < snap.done <= 40 and snap.total == 40
    assert job.join(5.0)
    assert job.result == 40 and job.status.state == JobState.FINISHED


def test_pause_holds_the_worker_and_stop_ends_it():
    fn, counter = _counting_job(100000, delay=0.001)
    job = BackgroundJob("count", fn).start()
    time.sleep(0.03)
    job.pause()
    time.sleep(0.05)
    assert job.status.state == JobState.PAUSED
    held = counter["i"]
    time.sleep(0.1)
    assert counter["i"] == held
    job.resume()
    time.sleep(0.05)
    assert counter["i"] > held and job.status.state == JobState.RUNNING
    job.stop()
    assert job.join(5.0)
    assert job.status.state == JobState.STOPPED and counter["i"] < 100000


def test_user_error_fails_with_its_message():
    def fn(control):
        raise AnrError("capture.h5: masks is missing, expected (N, H, W) uint8")

    job = BackgroundJob("bad", fn).start()
    assert job.join(5.0)
    snap = job.status.snapshot()
    assert snap.state == JobState.FAILED and snap.error.startswith("capture.h5: masks")


def test_metric_buffer_decimates_and_stays_bounded():
    buf = MetricBuffer(capacity=64)
    for step in range(1000):
        buf.append(step, {"loss": 1.0 / (step + 1), "nan": float("nan")})
    xs, ys = buf.series("loss")
    assert len(xs) < 64 and xs[0] == 0 and xs[-1] == 999
    assert np.all(np.diff(xs) > 0) and ys[0] == 1.0
    assert buf.series("nan")[0].size == 0 and buf.names() == ["loss"]


def test_training_status_preview_is_versioned():
    st = TrainingStatus()
    assert st.preview() == (0, None)
    img = np.zeros((4, 4, 3), np.uint8)
    st.set_preview(img, img + 1)
    v, (a, b) = st.preview()
    assert v == 1 and b[0, 0, 0] == 1


def test_log_is_a_bounded_tail_with_a_running_count():
    from anr_studio.components.status import JobStatus

    st = JobStatus(log_limit=5)
    for i in range(12):
        st.log(f"line {i}")
    snap = st.snapshot(log_tail=3)
    assert snap.log_count == 12 and [s.split("] ")[1] for s in snap.log] == ["line 9", "line 10", "line 11"]


def test_eta_is_smoothed_through_slow_steps_and_gone_once_the_job_ends(monkeypatch):
    import anr_studio.components.status as status_mod

    clock = {"t": 100.0}
    monkeypatch.setattr(status_mod.time, "monotonic", lambda: clock["t"])
    st = status_mod.JobStatus()
    st.set_state(JobState.RUNNING)
    etas = []
    for step in range(1, 601):
        # 0.1 s steps with a 2 s preview/checkpoint every 25th: the mean is 0.176 s per step.
        clock["t"] += 2.0 if step % 25 == 0 else 0.1
        st.set_progress(step, 2000)
        if step >= 400:  # once the estimate has seen a minute of work
            etas.append(st.snapshot().eta_s)
    etas = np.array(etas)
    assert np.all(np.isfinite(etas))
    # No jumps: a slow step moves the estimate by a few percent, not by minutes.
    jumps = np.abs(np.diff(etas)) / etas[1:]
    assert jumps.max() < 0.05, jumps.max()
    true_left = (2000 - 600) * (0.1 * 24 + 2.0) / 25
    assert abs(etas[-1] - true_left) < 0.35 * true_left, (etas[-1], true_left)
    st.set_state(JobState.STOPPED)
    assert st.snapshot().eta_s is None


def test_a_new_total_restarts_the_eta_in_its_own_units(monkeypatch):
    import anr_studio.components.status as status_mod

    clock = {"t": 100.0}
    monkeypatch.setattr(status_mod.time, "monotonic", lambda: clock["t"])
    st = status_mod.JobStatus()
    st.set_state(JobState.RUNNING)
    for frame in range(0, 301, 30):  # a set-up stage: 30 frames a second
        st.set_progress(frame, 300, "fitting")
        clock["t"] += 1.0
    st.set_progress(0, 1000, "training")
    assert st.snapshot().eta_s is None  # no rate of steps yet, and none carried over from the frames
    for step in range(1, 11):  # then 2 steps a second
        clock["t"] += 0.5
        st.set_progress(step, 1000)
    assert st.snapshot().eta_s == pytest.approx(990 / 2)
