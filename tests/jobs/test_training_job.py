"""TrainingJob (Qt-free): a real tiny training in a child process, with progress, losses, preview, stop."""

import time

import numpy as np
import pytest

from anr_studio.body.model import BodyModel
from anr_studio.components.status import JobState
from anr_studio.jobs.training_job import FIRST_STEP_STAGE, POSE_FIT_STAGE, TrainingJob, TrainingOptions, build_config


@pytest.fixture(scope="module")
def capture(tmp_path_factory):
    from tests.standin import standin_body, write_standin_capture

    body = standin_body()
    return write_standin_capture(tmp_path_factory.mktemp("cap") / "c.h5", body), body


def test_build_config_applies_overrides():
    cfg = build_config(TrainingOptions(["x.h5"], "out", preset="tiny", steps=7, checkpoint_every=3, preview_every=2, split_optimization=False))
    assert (cfg.optim.steps, cfg.optim.checkpoint_every, cfg.optim.preview_every, cfg.optim.split_optimization) == (7, 3, 2, False)


def test_training_job_runs_reports_and_stops_with_checkpoint(capture, tmp_path):
    from anr_studio.train.checkpoint import load_latest_checkpoint

    path, body = capture
    job = TrainingJob(TrainingOptions([path], str(tmp_path / "run"), preset="tiny", steps=100000, checkpoint_every=100000,
                                      preview_every=2, body=body)).start()
    t0 = time.monotonic()
    while len(job.status.metrics) < 3 and time.monotonic() - t0 < 120:
        assert job.status.state.active, job.status.snapshot().error
        time.sleep(0.05)
    assert len(job.status.metrics) >= 3
    xs, ys = job.status.metrics.series("total")
    assert np.all(np.diff(xs) > 0) and np.all(np.isfinite(ys))
    job.pause()
    assert job.status.state == JobState.PAUSED
    time.sleep(0.5)
    held = job.step
    time.sleep(0.5)
    assert job.step == held
    job.resume()
    job.stop()
    assert job.join(120)
    snap = job.status.snapshot()
    assert snap.state == JobState.STOPPED and snap.error is None and job.reason == "stopped"
    truth, render = job.status.preview()[1]
    # The preview is the held-out (test split) frame, whole: the capture's 64x64, not a training crop.
    from anr_studio.capture import Capture

    cap = Capture(path)
    np.testing.assert_array_equal(truth, cap.frame(int(cap.split("test")[0])))
    assert render.shape == (64, 64, 3) and render.dtype == np.uint8
    assert load_latest_checkpoint(tmp_path / "run") is not None
    assert (tmp_path / "run" / "avatar.anr").exists() and job.status.avatar_path.endswith("avatar.anr")


def test_a_stopped_job_reports_the_step_it_ended_at_between_progress_reports(capture, tmp_path):
    from anr_studio.train.checkpoint import load_latest_checkpoint

    path, body = capture
    job = TrainingJob(TrainingOptions([path], str(tmp_path / "run"), preset="tiny", steps=100000, checkpoint_every=100000,
                                      preview_every=0, overrides=["optim.log_every=1000"], body=body)).start()
    t0 = time.monotonic()
    while not any(" from step " in line for line in job.status.snapshot(log_tail=50).log) and time.monotonic() - t0 < 120:
        time.sleep(0.05)
    time.sleep(1.5)  # a few steps, no progress report yet
    job.stop()
    assert job.join(120) and job.reason == "stopped"
    step = load_latest_checkpoint(tmp_path / "run").step
    assert step > 0 and job.step == step and job.outcome.startswith(f"stopped at step {step}, wrote ")


def test_training_job_reports_fitting_the_poses_to_the_masks_before_the_steps(capture, tmp_path):
    from anr_studio.capture import Capture

    path, body = capture
    frames, identity = len(Capture(path).split("train")), Capture(path).identity  # the fit skips held-out frames
    job = TrainingJob(TrainingOptions([path], str(tmp_path / "run"), preset="tiny", steps=1, body=body,
                                      overrides=["data.refine_poses=2"]))
    reported, set_progress = [], job.status.set_progress
    job.status.set_progress = lambda done, total=None, message=None: (reported.append((done, total, message)),
                                                                       set_progress(done, total, message))
    assert job.start().join(120) and job.status.state == JobState.FINISHED
    stage = f"Fitting poses to masks… ({identity})"
    # The set-up stages by name, the frames of the pose fit, then the steps.
    assert reported[:5] == [(0, 0, "Starting the training process…"), (0, 0, "Opening the captures…"),
                            (0, 0, "Loading the body model…"), (0, 0, "Building the model…"),
                            (0, 0, "Preparing the training frames…")]
    assert reported[5] == (0, frames, stage) and (frames, frames, stage) in reported
    assert reported[reported.index((frames, frames, stage)) + 1] == (0, 1, FIRST_STEP_STAGE)
    assert any(f"fitting the tracked poses to the masks ({identity}, {frames} frames)" in line
               for line in job.status.snapshot().log)


def test_the_first_step_reports_at_once_between_progress_reports(capture, tmp_path):
    path, body = capture
    job = TrainingJob(TrainingOptions([path], str(tmp_path / "run"), preset="tiny", steps=3, preview_every=0,
                                      overrides=["optim.log_every=1000"], body=body)).start()
    assert job.join(120) and job.status.state == JobState.FINISHED
    xs, _ = job.status.metrics.series("total")
    assert xs.tolist()[0] == 1 and xs.tolist()[-1] == 3  # log_every alone: step 3 only


def test_training_job_reports_a_user_error(tmp_path):
    job = TrainingJob(TrainingOptions([str(tmp_path / "missing.h5")], str(tmp_path / "run"), preset="tiny")).start()
    assert job.join(120)
    snap = job.status.snapshot()
    assert snap.state == JobState.FAILED and "missing.h5" in snap.error


def test_training_job_resumes_an_interrupted_run(capture, tmp_path):
    path, body = capture
    out = str(tmp_path / "run")
    first = TrainingJob(TrainingOptions([path], out, preset="tiny", steps=3, checkpoint_every=1, body=body)).start()
    assert first.join(120) and first.status.state == JobState.FINISHED and first.step == 3
    again = TrainingJob(TrainingOptions([path], out, preset="tiny", steps=5, checkpoint_every=1, body=body, resume=True)).start()
    assert again.join(120), "resumed run did not finish"
    snap = again.status.snapshot()
    assert snap.state == JobState.FINISHED and snap.error is None
    xs, _ = again.status.metrics.series("total")
    assert xs.tolist() == [4, 5]  # continued after step 3, not from scratch
    assert any("from step 3" in line for line in snap.log)


class FailingBody(BodyModel):
    """The stand-in body, failing unexpectedly on its third pose in the training process (never in a loader worker)."""

    def forward(self, *args, **kwargs):
        import torch

        if torch.utils.data.get_worker_info() is None:
            self.calls = getattr(self, "calls", 0) + 1
            if self.calls == 3:
                raise RuntimeError("an unexpected failure in the step")
        return super().forward(*args, **kwargs)


def test_training_job_with_loader_workers_trains_and_ends_its_process_after_an_unexpected_error(capture, tmp_path):
    import copy

    path, body = capture
    failing = copy.deepcopy(body)
    failing.__class__ = FailingBody
    job = TrainingJob(TrainingOptions([path], str(tmp_path / "run"), preset="tiny", steps=1000, body=failing,
                                      overrides=["data.workers=2"])).start()
    assert job.join(120)
    snap = job.status.snapshot()
    assert snap.state == JobState.FAILED and "an unexpected failure in the step" in snap.error, snap.error
    assert job.step >= 1  # the loader's workers delivered batches
    assert not job._proc.is_alive()  # ended at once, not after the studio's wait for it


def test_a_stop_while_the_poses_are_fitted_ends_the_run_there(capture, tmp_path):
    from tests.standin import write_standin_capture

    _, body = capture
    # Four batches of pose fitting, long enough that the stop reaches the training process during the fit even
    # when a loaded machine delays the studio's reading of its first progress report.
    path = write_standin_capture(tmp_path / "c.h5", body, frames=60)
    job = TrainingJob(TrainingOptions([path], str(tmp_path / "run"), preset="tiny", steps=5, body=body,
                                      overrides=["data.refine_poses=100"]))
    fitted, set_progress = [], job.status.set_progress

    def progress(done, total=None, message=None):
        if message and message.startswith(POSE_FIT_STAGE):
            fitted.append(done)
            job.stop()
        set_progress(done, total, message)

    job.status.set_progress = progress
    assert job.start().join(120) and job.status.state == JobState.STOPPED
    assert fitted and max(fitted) < 59  # the stop ended the fit (59 training frames), not the fit's end
    assert not (tmp_path / "run" / "avatar.anr").exists()  # nothing was trained


def test_sigterm_to_the_training_process_stops_it_as_a_stop_does(capture, tmp_path):
    """`kill` (or the studio's exit) sends SIGTERM: the run ends with its checkpoint and avatar, and no hidden
    temporary file is left in the run folder."""
    import os
    import signal

    from anr_studio.train.checkpoint import load_latest_checkpoint

    path, body = capture
    run = tmp_path / "run"
    job = TrainingJob(TrainingOptions([path], str(run), preset="tiny", steps=100000, checkpoint_every=1,
                                      preview_every=0, body=body)).start()
    t0 = time.monotonic()
    while job.step < 3 and time.monotonic() - t0 < 120:
        assert job.status.state.active, job.status.snapshot().error
        time.sleep(0.05)
    os.kill(job._proc.pid, signal.SIGTERM)  # checkpoints are written every step: most likely during one
    assert job.join(120)
    snap = job.status.snapshot()
    assert snap.error is None and job.reason == "stopped", snap.error
    assert load_latest_checkpoint(run).step == job.step and (run / "avatar.anr").exists()
    assert [p.name for p in run.rglob(".*")] == [".lock"]  # the run folder's lock file stays, as after any run
