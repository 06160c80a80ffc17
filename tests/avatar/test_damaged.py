"""Damaged and forged avatar files are refused with one sentence; older files without a checksum still load."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
import torch

from anr_studio.avatar import Avatar
from anr_studio.avatar.file import META_KEY, read_avatar, write_avatar
from anr_studio.errors import AnrError


def _split(data: bytes):
    (n,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8:8 + n]), data[8 + n:]


def _join(header, payload: bytes) -> bytes:
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + payload


def _with_meta(data: bytes, edit) -> bytes:
    header, payload = _split(data)
    meta = json.loads(header["__metadata__"][META_KEY])
    header["__metadata__"][META_KEY] = edit(meta) if callable(edit) else edit
    return _join(header, payload)


def test_every_changed_byte_in_the_tensors_is_caught(avatar_path, tmp_path):
    data = avatar_path.read_bytes()
    header, payload = _split(data)
    offset = len(data) - len(payload)
    rng = np.random.default_rng(0)
    path = tmp_path / "a.anr"
    caught = 0
    for i in rng.choice(len(payload), 100, replace=False):
        damaged = bytearray(data)
        damaged[offset + int(i)] ^= 1 << int(rng.integers(8))
        path.write_bytes(bytes(damaged))
        with pytest.raises(AnrError, match="a.anr: ") as err:
            read_avatar(path)
        caught += "checksum" in str(err.value) or "NaN or Inf" in str(err.value)
    assert caught == 100


def test_files_without_a_checksum_still_load(avatar_path, tmp_path):
    old = tmp_path / "old.anr"
    old.write_bytes(_with_meta(avatar_path.read_bytes(), lambda m: json.dumps({k: v for k, v in m.items()
                                                                              if k != "tensors_sha256"})))
    data = read_avatar(old)
    assert "tensors_sha256" not in data.meta and data.meta["identities"] == ["alice", "bob"]


@pytest.mark.parametrize("label, edit, message", [
    ("a list", json.dumps([1, 2]), "metadata is a JSON list, expected an object"),
    ("a string", json.dumps("avatar"), "metadata is a JSON str, expected an object"),
    ("deep", "[" * 100_000 + "]" * 100_000, "metadata is not valid JSON (or nested too deeply)"),
    ("version text", lambda m: json.dumps(dict(m, version="one")), "version is 'one', expected an integer from 1 to 1"),
    ("version newer", lambda m: json.dumps(dict(m, version=7)), "(written by a newer ANR Studio)"),
    ("no identities", lambda m: json.dumps({k: v for k, v in m.items() if k != "identities"}),
     "identities is 'None', expected a non-empty list of names"),
    ("duplicates", lambda m: json.dumps(dict(m, identities=["alice", "alice"])), "identity 'alice' appears twice"),
    ("escape codes", lambda m: json.dumps(dict(m, identities=["\x1b[31malice", "bob"])), "expected printable text"),
    ("betas", lambda m: json.dumps(dict(m, betas=[[1e30], [0.0]])), "betas[0] holds NaN, Inf or values beyond ±100"),
    ("camera", lambda m: json.dumps(dict(m, cameras=[{"K": [[0, 0, 0]] * 3, "R": np.eye(3).tolist(), "t": [0, 0, 3]},
                                                     None])), "cameras[0].K has focal lengths 0, 0"),
    ("image size", lambda m: json.dumps(dict(m, image_size=[10**6, 4])), "image_size is [1000000, 4]"),
])
def test_bad_metadata_is_one_sentence(avatar_path, tmp_path, label, edit, message):
    path = tmp_path / "a.anr"
    path.write_bytes(_with_meta(avatar_path.read_bytes(), edit))
    with pytest.raises(AnrError) as err:
        read_avatar(path)
    assert message in str(err.value) and str(err.value).startswith(str(path)) and "\n" not in str(err.value)


def test_nan_renderer_weights_are_refused_even_with_a_matching_checksum(avatar_path, tmp_path):
    data = read_avatar(avatar_path)
    state = dict(data.renderer_state)
    name = next(k for k, v in state.items() if v.is_floating_point() and v.numel())
    state[name] = state[name].clone()
    state[name].view(-1)[0] = float("nan")
    path = write_avatar(tmp_path / "nan.anr", state, data.textures, data.meta)
    with pytest.raises(AnrError, match=f"tensor renderer.{name} holds NaN or Inf values, expected finite weights"):
        Avatar.load(path)


@pytest.mark.parametrize("cut", [0, 7, 100, -1])
def test_truncated_and_random_files_are_refused(avatar_path, tmp_path, cut):
    data = avatar_path.read_bytes()
    path = tmp_path / "a.anr"
    path.write_bytes(data[:cut] if cut >= 0 else np.random.default_rng(1).integers(0, 256, 5000, np.uint8).tobytes())
    with pytest.raises(AnrError, match=r"a.anr: not an ANR Studio avatar file: it is damaged or of another format \(its safetensors header cannot be"):
        read_avatar(path)


def test_the_checksum_covers_what_is_saved(avatar_path, tmp_path):
    data = read_avatar(avatar_path)
    textures = [t.clone() for t in data.textures]
    path = write_avatar(tmp_path / "b.anr", data.renderer_state, textures, data.meta)
    again = read_avatar(path)
    assert again.meta["tensors_sha256"] == data.meta["tensors_sha256"]  # same tensors, same checksum
    textures[0] = textures[0] + 1
    moved = read_avatar(write_avatar(tmp_path / "c.anr", data.renderer_state, textures, data.meta))
    assert moved.meta["tensors_sha256"] != data.meta["tensors_sha256"] and torch.equal(moved.textures[0], textures[0])
