"""Run folders survive users and machines: locks, runs stopped before a checkpoint, resumed logs,
full disks during checkpoints, SIGTERM/SIGHUP to the process group, and outputs that are inputs."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from anr_studio import cli
from anr_studio.train.checkpoint import checkpoint_paths, read_checkpoint
from tests.train.test_trainer import SMALL


@pytest.fixture(scope="module")
def body_file(tmp_path_factory, body):
    path = tmp_path_factory.mktemp("body") / "tiny_body.safetensors"
    body.save(path)
    return str(path)


def _train(out, captures, body_file, *extra):
    sets = [a for s in SMALL for a in ("--set", s)]
    return cli.main(["train", "--captures", *captures, "--preset", "tiny", "--out", str(out), "--device", "cpu",
                     "--body-model", body_file, "--no-progress", *sets, *extra])


def _resume(out, body_file, *extra):
    return cli.main(["train", "--out", str(out), "--resume", "--device", "cpu", "--body-model", body_file,
                     "--no-progress", *extra])


def test_a_run_stopped_before_its_first_checkpoint_resumes_or_is_replaced(tmp_path, captures, body_file, capsys):
    run = tmp_path / "run"
    assert _train(run, captures, body_file, "--steps", "2") == 0
    shutil.rmtree(run / "checkpoints")  # as if killed after run.json, before the first checkpoint
    (run / "avatar.anr").unlink()
    assert _train(run, captures, body_file, "--steps", "2") == 2
    assert "expected an empty folder, --resume to continue it or --overwrite to replace it" in capsys.readouterr().err
    assert _resume(run, body_file, "--steps", "2") == 0
    out = capsys.readouterr()
    assert "before its first checkpoint; starting it again from step 0" in out.err
    assert "training done at step 2" in out.out
    assert [r["step"] for r in map(json.loads, (run / "log.jsonl").read_text().splitlines())] == [1, 2]
    assert _train(run, captures, body_file, "--steps", "1", "--overwrite") == 0
    assert [step for step, _ in checkpoint_paths(run)] == [1]


def test_log_has_each_step_once_after_a_resume(tmp_path, captures, body_file):
    run = tmp_path / "run"
    assert _train(run, captures, body_file, "--steps", "3", "--checkpoint-every", "2") == 0
    for step, path in checkpoint_paths(run):  # as if killed after logging step 3, before its checkpoint
        if step == 3:
            path.unlink()
    assert _resume(run, body_file, "--steps", "4") == 0
    steps = [r["step"] for r in map(json.loads, (run / "log.jsonl").read_text().splitlines())]
    assert steps == [1, 2, 3, 4]


def test_damaged_log_lines_are_dropped_on_resume(tmp_path, captures, body_file):
    from tests.fuzz.mutate import deep_json

    run = tmp_path / "run"
    assert _train(run, captures, body_file, "--steps", "2") == 0
    with open(run / "log.jsonl", "ab") as f:  # lines no kill writes: binary, 100,000-deep, a step beyond any int
        f.write(b"\xff\x00garbage\n" + deep_json(100_000).encode() + b'\n{"step": 1e999}\n{"step": [1]}\n')
    assert _resume(run, body_file, "--steps", "3") == 0
    steps = [r["step"] for r in map(json.loads, (run / "log.jsonl").read_text().splitlines())]
    assert steps == [1, 2, 3]


def test_a_second_process_on_the_same_run_gets_a_clear_message(tmp_path, captures, body_file, capsys):
    run = tmp_path / "run"
    assert _train(run, captures, body_file, "--steps", "1") == 0
    holder = subprocess.Popen([sys.executable, "-c", "import time; from anr_studio.fileio import lock_folder; "
                               f"lock_folder({str(run)!r}); print('held', flush=True); time.sleep(60)"],
                              stdout=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONPATH=os.getcwd()))
    try:
        assert holder.stdout.readline().strip() == "held"
        assert _resume(run, body_file, "--steps", "2") == 2
        assert f"another anr-studio process (pid {holder.pid}) is using this run folder" in capsys.readouterr().err
    finally:
        holder.kill()
        holder.wait()


def test_a_full_disk_during_a_checkpoint_keeps_the_previous_one(tmp_path, captures, body_file, capsys, monkeypatch):
    import anr_studio.train.checkpoint as checkpoint

    real = checkpoint.save_file
    calls = []

    def fill_the_disk(tensors, filename, *args, **kwargs):
        calls.append(filename)
        if len(calls) == 2:
            with open(filename, "wb") as f:
                f.write(b"\0" * 100)  # a partial write, then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(tensors, filename, *args, **kwargs)

    monkeypatch.setattr(checkpoint, "save_file", fill_the_disk)
    run = tmp_path / "run"
    assert _train(run, captures, body_file, "--steps", "6", "--checkpoint-every", "2") == 2
    err = capsys.readouterr().err
    assert "cannot write (the disk is full), expected free space on that disk" in err and "Traceback" not in err
    assert [step for step, _ in checkpoint_paths(run)] == [2]
    assert read_checkpoint(checkpoint_paths(run)[0][1]).step == 2
    assert not [p for p in (run / "checkpoints").iterdir() if p.name.startswith(".")]
    monkeypatch.setattr(checkpoint, "save_file", real)
    assert _resume(run, body_file, "--steps", "3") == 0


def test_eval_refuses_to_write_over_an_input(tmp_path, captures, body_file, capsys):
    run = tmp_path / "run"
    assert _train(run, captures, body_file, "--steps", "1") == 0
    avatar = run / "avatar.anr"
    before = avatar.read_bytes()
    assert cli.main(["eval", str(run), "--captures", *captures, "--out", str(avatar), "--device", "cpu",
                     "--body-model", body_file]) == 2
    assert "is a .anr name, expected a .json file" in capsys.readouterr().err
    assert cli.main(["eval", str(avatar), "--captures", *captures, "--out", captures[0], "--device", "cpu"]) == 2
    assert "is also an input of this command" in capsys.readouterr().err
    assert avatar.read_bytes() == before


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="this machine has a GPU")
def test_train_on_cuda_without_a_gpu_is_one_sentence(tmp_path, captures, capsys):
    assert cli.main(["train", "--captures", *captures, "--out", str(tmp_path / "r"), "--device", "cuda"]) == 2
    assert "--device cuda: no CUDA GPU is available" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_a_stop_signal_to_the_process_group_stops_cleanly_with_workers(tmp_path, captures, body_file, sig):
    run = tmp_path / "run"
    sets = [a for s in SMALL + ["data.workers=2"] for a in ("--set", s)]
    proc = subprocess.Popen([sys.executable, "-m", "anr_studio.cli", "train", "--captures", *captures, "--preset", "tiny",
                             "--out", str(run), "--device", "cpu", "--body-model", body_file, "--no-progress",
                             "--steps", "100000", "--checkpoint-every", "100000", *sets],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            env=dict(os.environ, OMP_NUM_THREADS="1"),
                            preexec_fn=lambda: signal.signal(sig, signal.SIG_DFL))  # as from a terminal, not under nohup
    deadline = time.time() + 120
    while not (run / "log.jsonl").exists() and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)  # several steps into the run, workers busy
    os.killpg(proc.pid, sig)  # as `timeout` or a closing terminal does: the trainer and its workers
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "training stopped at step" in out and "Traceback" not in err, err
    step = int(out.split("training stopped at step ")[1].split()[0])
    assert read_checkpoint(run / "checkpoints" / f"step-{step:08d}.json").step == step
    assert (run / "avatar.anr").exists()


_FAILING_STEP = """
import sys
from anr_studio import cli
from anr_studio.train.trainer import Trainer
step = Trainer.train_step
def failing(self, *args):
    if self.step == 2:
        raise RuntimeError("an unexpected failure in the step")
    return step(self, *args)
Trainer.train_step = failing
sys.exit(cli.main(sys.argv[1:]))
"""


def test_an_unexpected_error_during_training_with_workers_ends_the_process(tmp_path, captures, body_file):
    # The loader's workers ignore stop signals, so the process must end them itself before it exits.
    sets = [a for s in SMALL + ["data.workers=2"] for a in ("--set", s)]
    proc = subprocess.run([sys.executable, "-c", _FAILING_STEP, "train", "--captures", *captures, "--preset", "tiny",
                           "--out", str(tmp_path / "run"), "--device", "cpu", "--body-model", body_file, "--no-progress",
                           *sets], capture_output=True, text=True, timeout=120, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert proc.returncode == 1 and "an unexpected failure in the step" in proc.stderr, proc.stderr
