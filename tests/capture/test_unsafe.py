"""Hostile and damaged captures: data from outside the file, forged sizes, implausible values."""

from __future__ import annotations

import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from anr_studio.capture import Capture, CaptureWriter, validate
from anr_studio.cli import main
from anr_studio.errors import AnrError

H, W, N = 12, 10, 5
K = np.array([[20.0, 0, 5], [0, 20.0, 6], [0, 0, 1]], np.float32)


def _valid(path: Path, identity: str = "carol") -> Path:
    with CaptureWriter(path, identity, H, W, 30, betas=np.zeros(10), camera=(K, np.eye(3), [0, 0, 3])) as w:
        for i in range(N):
            w.append(np.full((H, W, 3), 40 * i, np.uint8), mask=np.zeros((H, W), np.uint8), pose=np.zeros((24, 3)))
        w.set_split([0, 1, 2], [3, 4])
        w.set_keyframes([0, 2], [0.5, 0.8])
    return path


@pytest.fixture
def cap(tmp_path):
    return _valid(tmp_path / "cap.h5")


def _refused(path: Path, message: str, capsys) -> None:
    """Asserts that validate, Capture and `capture info` all refuse ``path`` with ``message``."""
    problems = validate(path)
    assert any(message in p for p in problems), problems
    with pytest.raises(AnrError, match=str(path.name)):
        Capture(path)
    assert main(["capture", "info", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_external_raw_storage_is_refused(cap, tmp_path, capsys):
    victim = tmp_path / "secret.txt"
    victim.write_bytes(b"root:x:0:0:root:/root:/bin/bash\n" * 100)
    with h5py.File(cap, "r+") as f:
        del f["frames"]
        f.create_dataset("frames", shape=(N, H, W, 3), dtype=np.uint8, external=[(str(victim), 0, N * H * W * 3)])
    _refused(cap, f"frames uses external raw storage ('{victim}'), expected data stored in this file", capsys)


@pytest.mark.parametrize("command", [
    ["masks", "{cap}", "--no-refine", "--quiet", "--overwrite"],
    ["keyframes", "{cap}", "--dry-run"],
    ["capture", "check", "{cap}", "--out", "{tmp}/c.png"],
    ["train", "--captures", "{cap}", "--out", "{tmp}/run", "--device", "cpu", "--steps", "1", "--no-progress"],
    ["fit", "{demo}", "--capture", "{cap}", "--name", "x", "--out", "{tmp}/x.anr", "--device", "cpu", "--quiet"],
])
def test_every_command_reading_a_capture_refuses_external_raw_storage(cap, tmp_path, capsys, command):
    from anr_studio.fileio import shipped_path

    victim = tmp_path / "secret.txt"
    victim.write_bytes(b"root:x:0:0:root:/root:/bin/bash\n" * 100)
    with h5py.File(cap, "r+") as f:
        del f["frames"]
        f.create_dataset("frames", shape=(N, H, W, 3), dtype=np.uint8, external=[(str(victim), 0, N * H * W * 3)])
    before = cap.read_bytes()
    args = [a.format(cap=cap, tmp=tmp_path, demo=shipped_path("models", "demo.anr")) for a in command]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "frames uses external raw storage" in err and "Traceback" not in err
    assert cap.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["cap.h5", "secret.txt"]


def test_external_link_is_refused(cap, tmp_path, capsys):
    other = _valid(tmp_path / "other.h5", "dave")
    with h5py.File(cap, "r+") as f:
        del f["frames"]
        f["frames"] = h5py.ExternalLink(str(other), "/frames")
    _refused(cap, f"frames is an external link to '{other}'", capsys)


def test_virtual_dataset_is_refused(cap, tmp_path, capsys):
    other = _valid(tmp_path / "other.h5", "dave")
    with h5py.File(cap, "r+") as f:
        del f["frames"]
        layout = h5py.VirtualLayout(shape=(N, H, W, 3), dtype=np.uint8)
        layout[:] = h5py.VirtualSource(str(other), "frames", shape=(N, H, W, 3))
        f.create_virtual_dataset("frames", layout)
    _refused(cap, "frames is a virtual dataset (its data lives in other files)", capsys)


def test_soft_link_is_refused(cap, capsys):
    with h5py.File(cap, "r+") as f:
        del f["masks"]
        f["masks"] = h5py.SoftLink("/frames")
    _refused(cap, "masks is a soft link to '/frames'", capsys)


def _declare(path: Path, key: str, shape: tuple, chunks=None, dtype=np.float32) -> None:
    with h5py.File(path, "r+") as f:
        del f[key]
        f.create_dataset(key, shape=shape, dtype=dtype, chunks=chunks)


@pytest.mark.parametrize("key, shape, chunks, dtype, message", [
    ("frames", (10_000_000, H, W, 3), (1, H, W, 3), np.uint8, "but stores only 0 of its 10000000 chunks"),
    ("frames", (200_000, H, W, 3), (1, H, W, 3), np.uint8, "but stores only 0 of its 200000 chunks"),
    ("frames", (N, 100_000, W, 3), (1, 16, W, 3), np.uint8, "but stores only 0 of"),
    ("body/betas", (10**9,), None, np.float32, "body/betas declares shape (1000000000,) (4000000000 bytes) but the file holds 0"),
    ("body/pose", (N, 24, 3), None, np.float32, "body/pose declares shape (5, 24, 3) (1440 bytes) but the file holds 0"),
])
def test_declared_sizes_beyond_the_file_are_refused_before_reading(cap, capsys, key, shape, chunks, dtype, message):
    _declare(cap, key, shape, chunks, dtype)
    start = time.perf_counter()
    _refused(cap, message, capsys)
    assert time.perf_counter() - start < 5


def test_image_sides_are_bounded(cap, capsys):
    with h5py.File(cap, "r+") as f:
        del f["frames"]
        ds = f.create_dataset("frames", shape=(1, 9000, 2, 3), dtype=np.uint8, chunks=(1, 9000, 2, 3), compression="gzip")
        ds[0] = 0
    _refused(cap, "frames are 2x9000 pixels, expected at most 8192 on each side", capsys)


def _replace(path: Path, key: str, data) -> None:
    with h5py.File(path, "r+") as f:
        if key in f:
            del f[key]
        f[key] = data


@pytest.mark.parametrize("key, data, message", [
    ("camera/K", np.zeros((3, 3), np.float32), "camera/K[0] has focal lengths 0, 0, expected positive pixel focal lengths"),
    ("camera/K", -K, "camera/K[0] has focal lengths -20, -20"),
    ("camera/K", K * 2, "camera/K[0] has last row [0.0, 0.0, 2.0], expected [0, 0, 1]"),
    ("body/betas", np.full(10, 1e30, np.float32), "body/betas holds 1e+30 (index 0), expected values within ±100"),
    ("body/betas", np.zeros(301, np.float32), "body/betas holds 301 coefficients, expected at most 300"),
    ("body/pose", np.full((N, 24, 3), 1e6, np.float32), "body/pose holds 1e+06 (index 0), expected values within ±100 rad"),
    ("body/transl", np.full((N, 3), -1e9, np.float32), "body/transl holds -1e+09 (index 0), expected values within ±1000 m"),
    ("camera/t", np.array([0, 0, 1e12], np.float32), "camera/t holds 1e+12"),
    ("keyframes", np.array([0, 3]), "keyframes holds test frame 3, expected training frames only"),
    ("truth", np.zeros(3, np.float32), "truth is a dataset, expected a group"),
    ("body/pose", np.zeros((N, 24, 3), "S4"), "body/pose has dtype |S4, expected float32"),
])
def test_implausible_values_are_refused(cap, capsys, key, data, message):
    _replace(cap, key, data)
    _refused(cap, message, capsys)


@pytest.mark.parametrize("identity, message", [
    (b"\xff\xfecarol", "attribute identity is not valid UTF-8, expected text"),
    ("\x1b[2J\x1b[31mpwned", "attribute identity holds control characters"),
    ("x" * 300, "attribute identity has 300 characters, expected 1 to 200"),
    (np.arange(3), "attribute identity is ndarray, expected a string"),
])
def test_identity_must_be_printable_text(cap, capsys, identity, message):
    with h5py.File(cap, "r+") as f:
        if isinstance(identity, bytes):
            f.attrs.create("identity", identity, dtype=h5py.string_dtype("utf-8"))
        else:
            f.attrs["identity"] = identity
    _refused(cap, message, capsys)
    assert "\x1b" not in capsys.readouterr().err


def test_corrupt_compressed_chunk_is_our_error_when_read(cap):
    with h5py.File(cap, "r") as f:
        info = f["frames"].id.get_chunk_info(2)
    data = bytearray(cap.read_bytes())
    data[info.byte_offset: info.byte_offset + info.size] = bytes(range(256))[: info.size] * 1
    cap.write_bytes(bytes(data))
    capture = Capture(cap)  # the structure is intact: opening succeeds
    assert capture.frame(1).shape == (H, W, 3)
    with pytest.raises(AnrError, match=r"cap.h5: frames\[2\] cannot be read .* expected intact data"):
        capture.frame(2)
