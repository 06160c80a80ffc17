"""Training follows the hardware: the default preset, DataLoader workers within the cores, progress lines
when stderr is not a terminal, and presets that never stop after a handful of steps."""

import io
import json

import pytest
import torch

from anr_studio import cli
from anr_studio.train.callbacks import LogLines, StepInfo
from anr_studio.train.data import available_cores
from anr_studio.train.presets import PRESETS, default_preset, preset
from anr_studio.train.trainer import Trainer
from tests.train.test_trainer import SMALL, small


def test_the_default_preset_follows_the_device():
    assert default_preset("cuda") == "fast"
    assert default_preset("cpu") == "cpu"
    cpu = preset("cpu")
    assert cpu.data.person_crop and cpu.data.workers == 0
    assert 0 < cpu.optim.time_budget_s <= 600  # the CPU path ends within 10 minutes of training


@pytest.mark.parametrize("name", list(PRESETS))
def test_no_preset_stops_after_a_handful_of_steps(name):
    assert preset(name).optim.steps >= 1000


def test_train_without_a_gpu_picks_the_cpu_preset_and_says_so(tmp_path, captures, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert cli.main(["train", "--captures", *captures, "--out", str(tmp_path / "x"), "--print-config"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["preset"] == "cpu"
    assert err.strip().splitlines() == [
        "anr-studio: no CUDA GPU: training with preset cpu (64² crops around the person, stops after 10 minutes); "
        "--preset fast needs a GPU"]
    assert cli.main(["train", "--captures", *captures, "--out", str(tmp_path / "y"), "--preset", "fast",
                     "--print-config"]) == 0
    assert "preset fast is sized for a GPU" in capsys.readouterr().err


def test_dataloader_workers_never_exceed_the_cores(tmp_path, captures, body):
    trainer = Trainer(small("tiny", "optim.steps=1", "data.workers=64"), captures, tmp_path / "run", device="cpu",
                      body=body)
    assert trainer.loader.num_workers == min(64, available_cores()) <= available_cores()
    trainer.close()


def test_log_lines_come_at_the_first_report_then_every_interval_and_at_the_end():
    now = [0.0]
    stream = io.StringIO()
    log = LogLines(every_s=30, stream=stream, clock=lambda: now[0])
    for step, t in [(10, 1.0), (20, 20.0), (30, 32.0), (40, 50.0), (50, 55.0)]:
        now[0] = t
        log.on_step(None, StepInfo(step=step, total_steps=50, losses={"total": 0.5}, images_per_s=12.0,
                                   elapsed_s=t, eta_s=100.0 - 2 * t))
    lines = stream.getvalue().splitlines()
    assert [line.split()[1] for line in lines] == ["10/50", "30/50", "50/50"]
    assert lines[1] == "step 30/50  loss 0.5000  12.0 images/s  0:32 elapsed, 0:36 left"


def test_train_prints_progress_lines_when_stderr_is_not_a_terminal(tmp_path, captures, body, capsys):
    path = tmp_path / "body.safetensors"
    body.save(path)
    sets = [a for s in SMALL for a in ("--set", s)]
    assert cli.main(["train", "--captures", *captures, "--preset", "tiny", "--out", str(tmp_path / "run"),
                     "--device", "cpu", "--body-model", str(path), "--steps", "3", *sets]) == 0
    err = capsys.readouterr().err
    assert "step 1/3" in err and "step 3/3" in err and "images/s" in err
