"""Pretrained weights: fetched into the hub cache on first use (a file:// address here), refused offline,
temporary names on failure, a corrupt cached VGG19 file named in an AnrError and never fatal to training."""

import hashlib

import pytest
import torch

from anr_studio.cli import main as cli_main
from anr_studio.errors import AnrError
from anr_studio.model import weights
from anr_studio.model.config import LossConfig
from anr_studio.model.losses import ANRLoss
from anr_studio.model.vgg import VGG19_FILENAME, load_vgg19_features


@pytest.fixture
def hub(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path / "torch" / "hub" / "checkpoints"


def _served(tmp_path, monkeypatch, name_stem="tiny"):
    """Returns (file name with its sha256 prefix, tensors) of a small weights file served at a file:// address."""
    tensors = {"layer.weight": torch.arange(12.0).reshape(3, 4)}
    source = tmp_path / "served.pth"
    torch.save(tensors, source)
    name = f"{name_stem}-{hashlib.sha256(source.read_bytes()).hexdigest()[:8]}.pth"
    monkeypatch.setitem(weights.WEIGHT_URLS, name, source.as_uri())
    return name, tensors


def test_a_missing_file_is_downloaded_once_into_the_hub_cache(tmp_path, monkeypatch, hub, capsys):
    monkeypatch.setenv(weights.OFFLINE_ENV, "0")
    name, tensors = _served(tmp_path, monkeypatch)
    path = weights.find_weights(name, what="test weights")
    assert path == hub / name and torch.equal(torch.load(path, weights_only=True)["layer.weight"], tensors["layer.weight"])
    message = capsys.readouterr().err.strip().splitlines()
    assert len(message) == 1 and "downloading test weights" in message[0] and "--offline" in message[0]
    assert weights.find_weights(name) == path and capsys.readouterr().err == ""  # cached: no second download
    assert [p.name for p in hub.iterdir()] == [name]  # no temporary files left


def test_offline_refuses_to_download(tmp_path, monkeypatch, hub):
    monkeypatch.setenv(weights.OFFLINE_ENV, "1")
    name, _ = _served(tmp_path, monkeypatch)
    with pytest.raises(AnrError, match="downloads are off"):
        weights.find_weights(name, what="test weights")
    assert not hub.exists() or not any(hub.iterdir())


def test_a_failed_download_leaves_no_file(tmp_path, monkeypatch, hub):
    monkeypatch.setenv(weights.OFFLINE_ENV, "0")
    name, _ = _served(tmp_path, monkeypatch)
    (tmp_path / "served.pth").write_bytes(b"changed after naming: the hash no longer matches")
    with pytest.raises(AnrError, match=name):
        weights.find_weights(name, what="test weights")
    assert not any(hub.iterdir())


def test_a_failed_download_is_tried_once_per_process(tmp_path, monkeypatch, hub, capsys):
    """Metrics ask for LPIPS per frame: without a network the download is tried and announced once, not per frame."""
    monkeypatch.setenv(weights.OFFLINE_ENV, "0")
    monkeypatch.setattr(weights, "_failed", {})
    name = "unreachable-0123abcd.pth"
    monkeypatch.setitem(weights.WEIGHT_URLS, name, (tmp_path / "nowhere.pth").as_uri())
    for _ in range(3):
        with pytest.raises(AnrError, match=name):
            weights.find_weights(name, what="test weights")
    assert capsys.readouterr().err.count("downloading test weights") == 1



@pytest.mark.parametrize("where", ["http://127.0.0.1:1/tiny.pth", "nowhere"])
def test_a_network_failure_is_named_as_one_not_as_a_failed_write(tmp_path, monkeypatch, hub, where):
    """No route, a refused connection or a missing source: the sentence gives the network's reason, never
    'cannot write' (the request's error is an OSError, which the temporary-file writer reads as a failed write)."""
    monkeypatch.setenv(weights.OFFLINE_ENV, "0")
    monkeypatch.setattr(weights, "_failed", {})
    name = "unreachable-0123abcd.pth"
    monkeypatch.setitem(weights.WEIGHT_URLS, name, where if "://" in where else (tmp_path / where).as_uri())
    with pytest.raises(AnrError) as failed:
        weights.find_weights(name, what="test weights")
    message = str(failed.value)
    assert message.startswith(f"{hub / name}: could not download test weights from ") and "--offline" in message
    assert "cannot write" not in message and "urlopen" not in message
    assert ("(Connection refused)" if "://" in where else "(No such file or directory)") in message
    assert not any(hub.iterdir())

def test_the_offline_switch_follows_any_sub_command(monkeypatch, tmp_path):
    monkeypatch.setenv(weights.OFFLINE_ENV, "0")
    assert cli_main(["body", "--out", str(tmp_path / "b.png"), "--size", "32", "--offline"]) == 0
    assert weights.offline()


def test_a_corrupt_cached_vgg19_is_named_and_training_goes_on_without_it(hub, monkeypatch):
    monkeypatch.setenv(weights.OFFLINE_ENV, "0")
    hub.mkdir(parents=True)
    (hub / VGG19_FILENAME).write_bytes(b"half a download")
    with pytest.raises(AnrError, match=VGG19_FILENAME):
        load_vgg19_features()
    loss = ANRLoss(LossConfig())
    assert loss.vgg is None and VGG19_FILENAME in loss.fallback_reason
