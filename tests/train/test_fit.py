"""New identity with a frozen renderer, a configuration of the trainer: only the new texture moves, the renderer
stays bit-identical, keyframes come first, a resumed fit equals an uninterrupted one."""

import numpy as np
import pytest
import torch

from anr_studio.avatar import Avatar
from anr_studio.avatar.file import read_avatar
from anr_studio.capture import Capture
from anr_studio.errors import AnrError
from anr_studio.model import ANRLoss
from anr_studio.train.checkpoint import checkpoint_paths, read_checkpoint
from anr_studio.train.fit import fit_identity, initial_texture
from anr_studio.train.trainer import Trainer
from tests.avatar.conftest import avatar_path, body, captures  # noqa: F401 - the trained avatar's fixtures
from tests.train.helpers import write_tiny_capture


def test_fit_leaves_the_renderer_bit_identical(avatar_path, captures, body, tmp_path):
    avatar = Avatar.load(avatar_path, body=body)
    start = initial_texture(avatar)
    seen = []
    result = fit_identity(avatar, captures[2], "carol", tmp_path / "work", steps=4, checkpoint_every=2,
                          progress=lambda s, n, losses: seen.append((s, n, losses["total"])))
    assert result.reason == "done" and result.step == 4
    assert [s for s, _, _ in seen] == [1, 2, 3, 4] and all(np.isfinite(v) for _, _, v in seen)
    assert avatar.identities == ["alice", "bob", "carol"]
    assert (avatar.texture("carol") - start).abs().max() > 1e-4  # the new texture learned something
    out = avatar.save(tmp_path / "with_carol.anr")
    before, after = read_avatar(avatar_path), read_avatar(out)
    assert sorted(before.renderer_state) == sorted(after.renderer_state)
    for key, value in before.renderer_state.items():  # every renderer tensor, bit for bit
        assert torch.equal(value, after.renderer_state[key]), key
    for i in range(2):  # the old identities too
        assert torch.equal(before.textures[i], after.textures[i])
    assert after.meta["identities"] == ["alice", "bob", "carol"]
    np.testing.assert_allclose(after.meta["betas"][2][:2], [0.2, 0.0], atol=1e-6)
    img, mask = Avatar.load(out, body=body).render("carol", np.zeros((24, 3)), None, size=32)
    assert img.shape == (32, 32, 3) and mask.max() > 0.05


def test_resumed_fit_equals_an_uninterrupted_one(avatar_path, captures, body, tmp_path):
    whole = fit_identity(Avatar.load(avatar_path, body=body), captures[2], "carol", tmp_path / "a", steps=4)
    first = fit_identity(Avatar.load(avatar_path, body=body), captures[2], "carol", tmp_path / "b", steps=4,
                         checkpoint_every=1, time_budget_s=1e-9)  # stops after one step, checkpointed
    assert first.step == 1 and first.reason == "time budget"
    with pytest.raises(AnrError, match="holds an earlier fit"):
        fit_identity(Avatar.load(avatar_path, body=body), captures[2], "carol", tmp_path / "b", steps=4)
    with pytest.raises(AnrError, match=r"fit of \['carol'\] on .* differs from \['dave'\]"):
        fit_identity(Avatar.load(avatar_path, body=body), captures[2], "dave", tmp_path / "b", steps=4, resume=True)
    rest = fit_identity(Avatar.load(avatar_path, body=body), captures[2], "carol", tmp_path / "b", steps=4, resume=True)
    assert rest.step == 4
    torch.testing.assert_close(rest.texture, whole.texture, rtol=0, atol=1e-6)
    assert not [k for k in read_checkpoint(checkpoint_paths(tmp_path / "b")[0][1]).tensors if k.startswith("renderer.")]


def test_keyframes_come_first_then_every_training_frame(avatar_path, captures, body, tmp_path, monkeypatch):
    seen = []
    train_step = Trainer.train_step

    def spy(self, batch, prepared=None):
        seen.append((bool(batch["keyframe_step"][0]), set(batch["index"].tolist())))
        return train_step(self, batch, prepared)

    monkeypatch.setattr(Trainer, "train_step", spy)
    fit_identity(Avatar.load(avatar_path, body=body), captures[2], "carol", tmp_path / "w", steps=6, keyframe_fraction=0.5)
    cap = Capture(captures[2])
    keys, train = set(cap.keyframes.tolist()), set(cap.split("train").tolist())
    assert [key_step for key_step, _ in seen] == [True] * 3 + [False] * 3
    assert all(frames <= keys for _, frames in seen[:3])
    later = set().union(*(frames for _, frames in seen[3:]))
    assert later <= train and later - keys  # then every training frame, not only the keyframes


def test_a_fit_skips_nan_steps_then_stops_with_the_trainers_error(avatar_path, captures, body, tmp_path, monkeypatch):
    forward = ANRLoss.forward

    def poisoned(self, *args, **kwargs):
        total, terms = forward(self, *args, **kwargs)
        return total * float("nan"), terms

    monkeypatch.setattr(ANRLoss, "forward", poisoned)
    avatar = Avatar.load(avatar_path, body=body)
    said = []
    with pytest.raises(AnrError, match="20 consecutive steps had NaN or Inf"):
        fit_identity(avatar, captures[2], "carol", tmp_path / "w", steps=30, warn=said.append)
    assert avatar.identities == ["alice", "bob"] and sum("step skipped" in m for m in said) == 20


def test_fit_bad_input(avatar_path, captures, body, tmp_path):
    avatar = Avatar.load(avatar_path, body=body)
    with pytest.raises(AnrError, match="already has an identity"):
        fit_identity(avatar, captures[2], "alice", tmp_path / "w", steps=1)
    other = write_tiny_capture(tmp_path / "other.h5", "dave", body, seed=3, body_model="default")
    with pytest.raises(AnrError, match="body model 'default' differs from the avatar's 'box'"):
        fit_identity(avatar, str(other), "dave", tmp_path / "w", steps=1)
    with pytest.raises(AnrError, match="no fit checkpoint"):
        fit_identity(avatar, captures[2], "carol", tmp_path / "empty", steps=1, resume=True)


@pytest.mark.slow
@pytest.mark.parametrize("sig", ["SIGTERM", "SIGHUP"])
def test_a_stop_signal_to_the_process_group_stops_a_fit_with_a_checkpoint(avatar_path, captures, body, tmp_path, sig):
    import os
    import signal
    import subprocess
    import sys
    import time

    from anr_studio.cli import main

    body_file = tmp_path / "box.safetensors"
    body.save(body_file)
    work, out = tmp_path / "work", tmp_path / "with_carol.anr"
    args = [str(avatar_path), "--capture", captures[2], "--name", "carol", "--work", str(work), "--out", str(out),
            "--body-model", str(body_file), "--device", "cpu", "--quiet"]
    proc = subprocess.Popen([sys.executable, "-m", "anr_studio.cli", "fit", *args, "--steps", "100000",
                             "--checkpoint-every", "100000"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, env=dict(os.environ, OMP_NUM_THREADS="1"),
                            preexec_fn=lambda: signal.signal(getattr(signal, sig), signal.SIG_DFL))  # as from a terminal
    deadline = time.time() + 120
    while not (work / "run.json").exists() and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(2.0)  # some steps into the fit
    os.killpg(proc.pid, getattr(signal, sig))  # as `timeout` or a closing terminal does
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "Traceback" not in err, err
    step = int(err.split("stopped at step ")[1].split(";")[0])
    assert read_checkpoint(work / "checkpoints" / f"step-{step:08d}.json").step == step
    assert not out.exists()
    assert main(["fit", *args, "--steps", str(step + 1), "--resume"]) == 0  # continues where it stopped
    assert Avatar.load(out, body=body).identities == ["alice", "bob", "carol"]
