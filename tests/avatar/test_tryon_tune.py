"""Fine-tuning an avatar's renderer for try-on from its own renders (no captures): the function and `tune-tryon`."""

import pytest
import torch

from anr_studio.avatar import Avatar
from anr_studio.avatar.file import read_avatar
from anr_studio.cli import main
from anr_studio.train.tryon_tune import tune_for_tryon


def test_tune_for_tryon_tunes_the_renderer_in_place_keeps_its_renders_close_and_leaves_it_frozen(avatar_path, body):
    avatar = Avatar.load(avatar_path, body=body)
    before = {k: v.clone() for k, v in avatar.renderer.state_dict().items()}
    torch.manual_seed(0)
    lines, seen = [], []
    result = tune_for_tryon(avatar, seconds=4.0, size=32, batch=2, lr=1e-3, log=lines.append,
                            checkpoint=lambda r, progress: seen.append((r, progress)), checkpoint_every_s=0.0)
    assert result["steps"] > 5 and result["keep"] < 0.5
    after = avatar.renderer.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before if before[k].is_floating_point())
    assert not any(p.requires_grad for p in avatar.renderer.parameters())
    # A checkpoint after every step (every 0 s), each handed the renderer being tuned, not the avatar's.
    assert [p["steps"] for _, p in seen] == list(range(1, result["steps"] + 1))
    assert all(r is seen[0][0] and r is not avatar.renderer for r, _ in seen)


@pytest.fixture(scope="module")
def body_file(tmp_path_factory, body):
    path = tmp_path_factory.mktemp("body") / "box.safetensors"
    body.save(path)
    return str(path)


def test_tune_tryon_command_writes_the_avatar_with_a_tuned_renderer_and_the_same_identities(avatar_path, body_file, tmp_path):
    out = tmp_path / "tuned.anr"
    common = ["--body-model", body_file, "--device", "cpu", "--quiet"]
    args = ["tune-tryon", str(avatar_path), "--out", str(out), "--seconds", "2", "--size", "32", "--batch-size", "2", *common]
    assert main(args) == 0
    before, after = read_avatar(avatar_path), read_avatar(out)
    assert after.meta["identities"] == before.meta["identities"]
    assert all(torch.equal(a, b) for a, b in zip(after.textures, before.textures))
    changed = [k for k in before.renderer_state if before.renderer_state[k].is_floating_point()
               and not torch.equal(before.renderer_state[k], after.renderer_state[k])]
    assert changed
    assert main(args) == 2  # an existing --out needs --overwrite


def test_tune_tryon_refuses_an_avatar_of_one_identity_in_one_line(avatar_path, body, body_file, tmp_path, capsys):
    single = Avatar.load(avatar_path, body=body)
    single.save(tmp_path / "alice.anr", ["alice"])
    assert main(["tune-tryon", str(tmp_path / "alice.anr"), "--out", str(tmp_path / "t.anr"), "--body-model", body_file,
                 "--device", "cpu", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "alice.anr: one identity ('alice'), expected at least two" in err and "Traceback" not in err
    assert not (tmp_path / "t.anr").exists()
