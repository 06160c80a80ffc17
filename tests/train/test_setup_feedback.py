"""What a user sees early: the set-up stages, the first step's report at once, then a report every few seconds of
slow steps; a resume reads the poses the run fitted to the masks instead of fitting them again."""

import os
import time

import numpy as np

from anr_studio.train import trainer as trainer_module
from anr_studio.train.callbacks import Callback
from anr_studio.train.trainer import Trainer
from tests.train.test_trainer import small


class Seen(Callback):
    def __init__(self):
        self.phases, self.pose_fits, self.steps = [], [], []

    def on_phase(self, trainer, phase):
        self.phases.append(phase)

    def on_pose_fit(self, trainer, identity, done, total):
        self.pose_fits.append((identity, done, total))

    def on_step(self, trainer, info):
        self.steps.append((info.step, time.monotonic()))


def test_set_up_stages_then_the_first_step_at_once_then_every_few_seconds(tmp_path, captures, body, monkeypatch):
    monkeypatch.setattr(trainer_module, "REPORT_EVERY_S", 0.3)
    slow = Trainer.train_step

    def slow_step(self, *args, **kwargs):  # a step of a large preset on a CPU, to scale
        time.sleep(0.2)
        return slow(self, *args, **kwargs)

    monkeypatch.setattr(Trainer, "train_step", slow_step)
    seen = Seen()
    trainer = Trainer(small("tiny", "optim.steps=7", "optim.log_every=1000", "optim.preview_every=0"), captures,
                      tmp_path / "run", device="cpu", body=body, callbacks=[seen])
    assert seen.phases == ["opening the captures", "loading the body model", "building the model",
                           "preparing the training frames"]
    trainer.run()
    trainer.close()
    # log_every alone would report step 7 only: the first step reports when done, then a step 0.3 s or more after the
    # last report (every second step or so here), never sooner (the last step reports anyway).
    steps = [step for step, _ in seen.steps]
    assert steps[0] == 1 and steps[-1] == 7 and all(b - a <= 2 for a, b in zip(steps, steps[1:])), steps
    gaps = [b - a for (_, a), (_, b) in zip(seen.steps[:-2], seen.steps[1:-1])]
    assert len(gaps) >= 2 and min(gaps) >= 0.3, (steps, gaps)


def test_a_resume_reads_the_fitted_poses_and_a_changed_capture_is_fitted_again(tmp_path, captures, body):
    import shutil

    path = tmp_path / "alice.h5"
    shutil.copy(captures[0], path)
    run = tmp_path / "run"
    first = Seen()
    trainer = Trainer(small("tiny", "optim.steps=1", "data.refine_poses=2"), [str(path)], run, device="cpu", body=body,
                      callbacks=[first])
    fitted = trainer.dataset.poses
    trainer.run()
    trainer.close()
    assert first.pose_fits and list((run / "fitted_poses").iterdir())

    again = Seen()
    resumed = Trainer(small("tiny", "optim.steps=2", "data.refine_poses=2"), [str(path)], run, device="cpu", body=body,
                      resume=True, callbacks=[again])
    assert again.pose_fits == [], "the resume fitted the poses again"
    for (p0, t0), (p1, t1) in zip(fitted, resumed.dataset.poses):
        np.testing.assert_array_equal(p0, p1)
        np.testing.assert_array_equal(t0, t1)
    resumed.close()

    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))  # the capture was written again (masks redone)
    changed = Seen()
    Trainer(small("tiny", "optim.steps=2", "data.refine_poses=2"), [str(path)], run, device="cpu", body=body,
            resume=True, callbacks=[changed]).close()
    assert changed.pose_fits[-1] == ("alice", 6, 6), "a changed capture kept the poses fitted to the old one"  # 6 training frames
