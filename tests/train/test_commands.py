"""`anr-studio train` / `anr-studio eval` end to end on the CPU with a tiny body and tiny captures."""

import json
import sys

import pytest

from anr_studio import cli
from tests.train.helpers import write_tiny_capture
from tests.train.test_trainer import SMALL


@pytest.fixture(scope="module")
def body_file(tmp_path_factory, body):
    path = tmp_path_factory.mktemp("body") / "tiny_body.safetensors"
    body.save(path)
    return str(path)


def _train(out, captures, body_file, *extra, progress=False):
    sets = [a for s in SMALL for a in ("--set", s)]
    return cli.main(["train", "--captures", *captures, "--preset", "tiny", "--out", str(out), "--device", "cpu",
                     "--body-model", body_file, *([] if progress else ["--no-progress"]), *sets, *extra])


def test_train_then_eval_writes_an_avatar_and_metrics(tmp_path, captures, body_file, capsys):
    run = tmp_path / "run"
    assert _train(run, captures, body_file, "--steps", "3", "--checkpoint-every", "2", "--eval-every", "3",
                  "--eval-frames", "1") == 0
    said = capsys.readouterr().out
    assert "training done at step 3 (" in said and f" s); wrote {run / 'avatar.anr'}\n" in said
    assert (run / "avatar.anr").exists() and (run / "run.json").exists()
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2, 3]
    history = json.loads((run / "heldout_psnr.json").read_text())["history"]
    assert [h["step"] for h in history] == [3] and history[0]["psnr"] > 5

    out = tmp_path / "metrics.json"
    assert cli.main(["eval", str(run), "--captures", *captures, "--split", "test", "--out", str(out), "--device", "cpu",
                     "--body-model", body_file, "--refine-poses", "3"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 2 and printed[1].endswith("over 4 frames after test-time pose refinement (3 steps)")
    metrics = json.loads(out.read_text())
    refined = metrics["test_time_pose_refinement"]
    assert refined["steps"] == 3 and refined["overall"]["frames"] == 4 and set(refined["per_identity"]) == {"alice", "bob"}
    assert refined["overall"]["psnr"] > 5 and 0 <= refined["overall"]["mask_iou"] <= 1
    assert set(metrics["per_identity"]) == {"alice", "bob"}
    for block in [metrics["overall"], *metrics["per_identity"].values()]:
        assert block["psnr"] > 5 and 0 <= block["ssim"] <= 1 and 0 <= block["flip"] <= 1
        assert 0 <= block["mask_iou"] <= 1
    assert metrics["overall"]["frames"] == 4  # 2 held-out frames per capture
    assert metrics["lpips"].startswith(("available", "unavailable")) and (
        (metrics["overall"]["lpips"] is None) == metrics["lpips"].startswith("unavailable"))



def test_eval_of_a_capture_without_masks_prints_mask_iou_as_unavailable(tmp_path, captures, body, body_file, capsys,
                                                                          monkeypatch):
    run = tmp_path / "run"
    assert _train(run, captures, body_file, "--steps", "5", "--time-budget", "0.001") == 0
    assert "training stopped at its time budget at step 1 (" in capsys.readouterr().out
    bare = write_tiny_capture(tmp_path / "alice-no-masks.h5", "alice", body, masks=False)
    out = tmp_path / "metrics.json"
    assert cli.main(["eval", str(run), "--captures", str(bare), "--out", str(out), "--device", "cpu",
                     "--body-model", body_file]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    metrics = json.loads(out.read_text())["overall"]
    assert metrics["mask_iou"] is None and metrics["psnr"] > 5
    assert line.startswith(f"{out}: PSNR {metrics['psnr']:.2f} dB, SSIM ") and line.endswith("over 2 frames")
    assert "mask IoU unavailable" in line and f"FLIP {metrics['flip']:.4f}" in line
    assert ("LPIPS unavailable" in line) == (metrics["lpips"] is None)

    def no_weights():
        raise AssertionError("the LPIPS weights were looked up before the captures were checked")

    monkeypatch.setattr("anr_studio.train.evaluate.lpips_status", no_weights)  # a lookup may download them
    assert cli.main(["eval", str(run), "--captures", str(bare), str(tmp_path / "typo.h5"), "--device", "cpu",
                     "--body-model", body_file]) == 2
    assert f"{tmp_path / 'typo.h5'}: " in capsys.readouterr().err
    stranger = write_tiny_capture(tmp_path / "carol.h5", "carol", body)
    assert cli.main(["eval", str(run), "--captures", str(stranger), "--device", "cpu", "--body-model", body_file]) == 2
    assert capsys.readouterr().err == ("anr-studio: error: carol.h5: identity 'carol' is not in the avatar, expected one "
                                       "of alice, bob\n")

def test_train_reports_fitting_the_poses_to_the_masks_as_lines_or_bars_after_the_stages(tmp_path, captures, body_file,
                                                                                       capsys, monkeypatch):
    def train(out):
        assert _train(out, captures, body_file, "--set", "data.refine_poses=2", "--steps", "1", progress=True) == 0
        return capsys.readouterr().err

    lines = train(tmp_path / "lines").splitlines()  # stderr is no terminal here: progress lines
    fit = [line for line in lines if line.startswith("fitting the tracked poses to the masks")]
    assert fit == [f"fitting the tracked poses to the masks ({who}): {done}/6 frames"  # the 6 training frames of 8
                   for who in ("alice", "bob") for done in (0, 6)]
    assert lines.index(fit[-1]) < next(i for i, line in enumerate(lines) if line.startswith("step 1/1"))

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)  # a terminal: stages, a bar per identity, the steps' bar
    bars = train(tmp_path / "bars")
    stages = ["opening the captures…", "loading the body model…", "building the model…",
              "preparing the training frames…"]
    assert [line for line in bars.splitlines() if line in stages] == stages
    for who in ("alice", "bob"):
        assert f"fitting the tracked poses to the masks ({who}): 100%" in bars and "6/6 [" in bars
    assert "1/1 [" in bars and bars.index("building the model…") < bars.index("fitting the tracked poses")


def test_resume_extends_a_run_and_a_second_run_in_the_same_folder_is_refused(tmp_path, captures, body_file, capsys,
                                                                             monkeypatch):
    run = tmp_path / "run"
    assert _train(run, captures, body_file, "--steps", "2") == 0
    assert _train(run, captures, body_file, "--steps", "2") == 2
    assert "already holds a run" in capsys.readouterr().err
    assert cli.main(["train", "--out", str(run), "--resume", "--steps", "3", "--device", "cpu", "--body-model",
                     body_file, "--no-progress"]) == 0
    assert "training done at step 3" in capsys.readouterr().out
    written = (run / "avatar.anr").stat().st_mtime_ns
    for extra, said in ((["--steps", "3"], "has done its 3 steps (at step 3); a larger --steps continues it"),
                        (["--steps", "9", "--time-budget", "0.001"], "has used its 0.001 s time budget (")):
        assert cli.main(["train", "--out", str(run), "--resume", "--device", "cpu", *extra]) == 0
        out, err = capsys.readouterr()
        assert out.startswith(f"{run}: nothing to train, the run {said}") and out.count("\n") == 1 and not err
    assert (run / "avatar.anr").stat().st_mtime_ns == written  # nothing written again

    def no_vgg(*args):
        raise AssertionError("VGG19's weights were looked up before the run's captures were checked")

    monkeypatch.setattr("anr_studio.model.vgg.load_vgg19_features", no_vgg)  # a lookup may download them
    assert cli.main(["train", "--out", str(run), "--resume", "--captures", captures[1], "--device", "cpu",
                     "--body-model", body_file, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"anr-studio: error: {run / 'checkpoints' / 'step-00000003.json'}: identities ['alice', 'bob'] "
                          "differ") and err.count("\n") == 1
    missing = tmp_path / "missing"
    assert cli.main(["train", "--out", str(missing), "--resume", "--device", "cpu"]) == 2
    assert capsys.readouterr().err == (f"anr-studio: error: --out {missing}: holds no run to resume (no run.json), "
                                       "expected an earlier run's folder, or drop --resume to start a new run\n")


def test_flags_map_onto_the_config(tmp_path, captures, capsys):
    assert cli.main(["train", "--captures", *captures, "--preset", "fast", "--out", str(tmp_path / "x"), "--no-split",
                     "--baseline", "dnr", "--time-budget", "90", "--set", "data.batch_size=3", "--print-config"]) == 0
    config = json.loads(capsys.readouterr().out)
    assert config["renderer"] == "dnr" and config["optim"]["split_optimization"] is False
    assert config["optim"]["time_budget_s"] == 90 and config["data"]["batch_size"] == 3
    assert config["data"]["resolution"] == 384
    assert cli.main(["train", "--captures", *captures, "--out", str(tmp_path / "y"), "--baseline", "dnr",
                     "--one-stage"]) == 2
    assert "expected at most one renderer choice" in capsys.readouterr().err


@pytest.mark.slow
def test_sigterm_stops_training_with_a_checkpoint_and_an_avatar(tmp_path, captures, body_file):
    import os
    import signal
    import subprocess
    import sys
    import time

    run = tmp_path / "run"
    sets = [a for s in SMALL for a in ("--set", s)]
    proc = subprocess.Popen([sys.executable, "-m", "anr_studio.cli", "train", "--captures", *captures, "--preset", "tiny",
                             "--out", str(run), "--device", "cpu", "--body-model", body_file, "--no-progress",
                             "--steps", "100000", "--checkpoint-every", "100000", *sets],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env=dict(os.environ, OMP_NUM_THREADS="1"))
    deadline = time.time() + 120
    while not (run / "log.jsonl").exists() and time.time() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0 and "training stopped at step" in out
    assert (run / "avatar.anr").exists()
    step = int(out.split("training stopped at step ")[1].split()[0])
    assert (run / "checkpoints" / f"step-{step:08d}.json").exists()


def test_train_names_the_captures_as_given(tmp_path, body, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_tiny_capture(tmp_path / "bare.h5", "alice", body, masks=False)
    for given, said in (("typo.h5", "typo.h5: file does not exist, expected an ANR capture (.h5)"),
                        ("bare.h5", "bare.h5: masks are missing, expected foreground masks (run `anr-studio masks bare.h5`)")):
        assert cli.main(["train", "--captures", given, "--preset", "tiny", "--out", "run", "--device", "cpu"]) == 2
        assert capsys.readouterr().err == f"anr-studio: error: {said}\n"
