"""Checkpoint files: optimiser round trip, pruning, corruption handling, and SIGKILL during saving."""

import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch

from anr_studio.errors import AnrError
from anr_studio.avatar.file import read_avatar, write_avatar
from anr_studio.train.checkpoint import (
    checkpoint_paths,
    flatten_optimizer,
    load_latest_checkpoint,
    read_checkpoint,
    restore_optimizer,
    save_checkpoint,
)


def test_optimizer_state_round_trips_through_tensors_and_json():
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 3)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.5, 0.9))
    for _ in range(3):
        opt.zero_grad()
        model(torch.randn(5, 4)).square().sum().backward()
        opt.step()
    tensors, meta = flatten_optimizer(opt, "optim.r")
    assert all(isinstance(v, torch.Tensor) for v in tensors.values())
    model2 = torch.nn.Linear(4, 3)
    opt2 = torch.optim.Adam(model2.parameters(), lr=5.0)
    restore_optimizer(opt2, tensors, meta, "optim.r")
    a, b = opt.state_dict(), opt2.state_dict()
    assert b["param_groups"][0]["lr"] == 1e-3 and b["param_groups"][0]["betas"] == (0.5, 0.9)
    for i in a["state"]:
        for k in a["state"][i]:
            assert torch.equal(a["state"][i][k], b["state"][i][k])


def test_restored_moments_take_their_channels_last_parameters_layout():
    conv = torch.nn.Conv2d(3, 8, 3).to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(conv.parameters(), lr=1e-3)
    conv(torch.randn(1, 3, 8, 8)).sum().backward()
    opt.step()
    tensors, meta = flatten_optimizer(opt, "optim.r")
    conv2 = torch.nn.Conv2d(3, 8, 3).to(memory_format=torch.channels_last)
    opt2 = torch.optim.Adam(conv2.parameters(), lr=1e-3)
    restore_optimizer(opt2, tensors, meta, "optim.r")
    for p, p2 in zip(conv.parameters(), conv2.parameters()):
        for key in ("exp_avg", "exp_avg_sq"):
            assert opt2.state[p2][key].stride() == p2.stride()
            assert torch.equal(opt2.state[p2][key], opt.state[p][key])


def test_a_record_lacking_a_hyperparameter_takes_the_running_one_and_one_lacking_params_is_refused():
    model = torch.nn.Linear(4, 3)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=0.25)
    model(torch.randn(5, 4)).square().sum().backward()
    opt.step()
    tensors, meta = flatten_optimizer(opt, "optim.r")
    del meta["param_groups"][0]["weight_decay"]  # an older torch's record, or a damaged one
    opt2 = torch.optim.Adam(torch.nn.Linear(4, 3).parameters(), lr=5.0, weight_decay=0.5)
    restore_optimizer(opt2, tensors, meta, "optim.r")
    assert opt2.param_groups[0]["weight_decay"] == 0.5 and opt2.param_groups[0]["lr"] == 1e-3
    opt2.step()  # the optimiser runs with what it has
    del meta["param_groups"][0]["params"]
    with pytest.raises(AnrError, match="param_groups\\[0\\] has no params, expected the indices of its parameters"):
        restore_optimizer(opt2, tensors, meta, "optim.r")


def test_save_keeps_the_newest_complete_checkpoints(tmp_path):
    for step in range(1, 5):
        save_checkpoint(tmp_path, step, {"w": torch.full((3,), float(step))}, {"note": "x"})
    assert [s for s, _ in checkpoint_paths(tmp_path)] == [4, 3]
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == [
        "step-00000003.json", "step-00000003.safetensors", "step-00000004.json", "step-00000004.safetensors"]
    ckpt = load_latest_checkpoint(tmp_path)
    assert ckpt.step == 4 and torch.equal(ckpt.tensors["w"], torch.full((3,), 4.0)) and ckpt.meta["note"] == "x"


def test_truncated_tensors_are_detected(tmp_path):
    path = save_checkpoint(tmp_path, 7, {"w": torch.zeros(100)}, {})
    tensors = tmp_path / "checkpoints" / "step-00000007.safetensors"
    tensors.write_bytes(tensors.read_bytes()[:50])
    with pytest.raises(AnrError, match="step-00000007.safetensors: checkpoint tensors are missing or corrupt"):
        read_checkpoint(path)
    with pytest.raises(AnrError, match="no loadable checkpoint"):
        load_latest_checkpoint(tmp_path, warn=lambda m: None)
    assert load_latest_checkpoint(tmp_path / "nothing") is None


SAVER = textwrap.dedent("""
    import sys, torch
    from anr_studio.train.checkpoint import save_checkpoint
    step = 0
    while True:
        step += 1
        # Every tensor holds the step, so a loaded checkpoint must be internally consistent.
        tensors = {f"w{i}": torch.full((256, 1024), float(step)) for i in range(8)}
        save_checkpoint(sys.argv[1], step, tensors, {"step_copy": step})
        print(step, flush=True)
""")


@pytest.mark.slow
def test_sigkill_during_saving_always_leaves_a_loadable_checkpoint(tmp_path):
    rng = random.Random(0)
    for trial in range(3):
        run = tmp_path / f"run{trial}"
        proc = subprocess.Popen([sys.executable, "-c", SAVER, str(run)], stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "1"  # one checkpoint is committed
        time.sleep(rng.uniform(0.0, 0.6))  # then kill at a random moment, most likely mid-write
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        ckpt = load_latest_checkpoint(run, warn=lambda m: None)
        assert ckpt is not None and ckpt.meta["step_copy"] == ckpt.step
        assert all(torch.all(t == ckpt.step) for t in ckpt.tensors.values())


def test_avatar_file_round_trip_and_errors(tmp_path):
    state = {"net.weight": torch.randn(2, 3)}
    textures = [torch.randn(1, 8, 4, 4), torch.randn(8, 4, 4)]
    path = write_avatar(tmp_path / "a.anr", state, textures, {"identities": ["a", "b"], "renderer": "anr"})
    avatar = read_avatar(path)
    assert torch.equal(avatar.renderer_state["net.weight"], state["net.weight"])
    assert torch.equal(avatar.textures[0], textures[0][0]) and avatar.textures[1].shape == (8, 4, 4)
    assert avatar.meta["format"] == "anr-avatar" and avatar.meta["identities"] == ["a", "b"]
    (tmp_path / "bad.anr").write_bytes(b"not a safetensors file")
    with pytest.raises(AnrError, match="bad.anr: not an ANR Studio avatar file"):
        read_avatar(tmp_path / "bad.anr")
    with pytest.raises(AnrError, match="2 textures for 1 identities, expected one per identity"):
        write_avatar(tmp_path / "c.anr", state, textures, {"identities": ["a"]})
