"""Damaged and wrong SMPL .npz motions: each is one AnrError sentence naming the file and the array."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from anr_studio.errors import AnrError
from anr_studio.motion import MotionClip, load_motion


def _npz(arrays: dict, compressed: bool = False) -> bytes:
    buf = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buf, **arrays)
    return buf.getvalue()


GOOD = dict(poses=np.full((2, 72), 0.1, np.float32), trans=np.zeros((2, 3), np.float32), fps=np.array(30.0))


def _load(tmp_path, data: bytes, name: str = "moves.npz"):
    path = tmp_path / name
    path.write_bytes(data)
    return load_motion(path)


@pytest.mark.parametrize("compressed", [False, True])
def test_every_flipped_byte_and_truncation_is_refused_or_harmless(tmp_path, compressed):
    data = _npz(dict(poses=GOOD["poses"][:1], fps=GOOD["fps"]), compressed)
    assert isinstance(_load(tmp_path, data), MotionClip)
    refused = 0
    for k in range(len(data)):
        for damaged in (data[:k] + bytes([data[k] ^ 0x10]) + data[k + 1:],) + ((data[:k],) if k % 4 == 0 else ()):
            try:
                clip = _load(tmp_path, damaged)
            except AnrError as exc:
                assert str(exc).startswith("moves.npz: ") and "\n" not in str(exc)
                refused += 1
            else:  # a flip in a value or in padding: the clip is still valid
                assert clip.poses.shape == (1, 24, 3) and np.isfinite(clip.poses).all()
    assert refused > len(data) // 2  # every truncation and most flips


@pytest.mark.parametrize("arrays, message", [
    (dict(GOOD, fps=np.array([])), "moves.npz: fps holds 0 values, expected one number"),
    (dict(GOOD, fps=np.array(0.0)), "moves.npz: fps is 0, expected 0.1 to 1000 frames per second"),
    (dict(GOOD, fps=np.array(np.nan)), "moves.npz: fps is nan"),
    (dict(GOOD, poses=np.full((2, 72), np.nan)), "moves.npz: poses contains NaN or Inf values"),
    (dict(GOOD, trans=np.full((2, 3), np.inf)), "moves.npz: trans contains NaN or Inf values"),
    (dict(GOOD, poses=np.full((2, 72), 1e39)), "moves.npz: poses contains NaN or Inf values (or numbers beyond float32)"),
    (dict(GOOD, trans=np.full((2, 3), 1e9)), "moves.npz: transl reaches 1e+09 m, expected at most 10000 m"),
    (dict(GOOD, poses=np.full((2, 72), 100.0)), "moves.npz: poses has a rotation of 173 radians"),
    (dict(GOOD, poses=np.zeros((0, 72))), "moves.npz: poses has shape (0, 72), expected (N, ...) with N >= 1"),
    (dict(GOOD, poses=np.zeros(72)), "moves.npz: poses has shape (72,)"),
    (dict(GOOD, trans=np.zeros((2, 2))), "moves.npz: trans has 2 values per frame, expected 3"),
    (dict(GOOD, poses=np.zeros((2, 72), complex)), "moves.npz: array 'poses' has dtype complex128, expected numbers"),
    (dict(GOOD, poses=np.array(["a", "b"])), "moves.npz: array 'poses' has dtype <U1, expected numbers"),
    (dict(GOOD, poses=np.zeros(2, [("a", "f4")])), "moves.npz: array 'poses' has dtype"),
])
def test_wrong_values_name_the_array(tmp_path, arrays, message):
    with pytest.raises(AnrError) as err:
        _load(tmp_path, _npz(arrays))
    assert str(err.value).startswith(message), str(err.value)


def _forged(shape, descr="<f4") -> bytes:
    """Returns a well-formed zip whose poses.npy header declares ``shape`` over 576 bytes of data."""
    header = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}"
    header += " " * (63 - (len(header) + 10) % 64) + "\n"
    npy = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + bytes(576)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("poses.npy", npy)
    return buf.getvalue()


@pytest.mark.parametrize("shape, descr, message", [
    ((10**11, 72), "<f4", "array 'poses' declares shape (100000000000, 72) (28,800,000,000,000 bytes), expected at most 512 MB"),
    ((2, 10**4), "<f4", "array 'poses' declares shape (2, 10000) (80,000 bytes) but holds 576 bytes"),
    ((2, 72), "|O", "array 'poses' has dtype object, expected numbers (object arrays would need unpickling"),
])
def test_headers_are_checked_before_reading(tmp_path, shape, descr, message):
    with pytest.raises(AnrError) as err:
        _load(tmp_path, _forged(shape, descr))
    assert message in str(err.value), str(err.value)


def test_object_arrays_are_never_unpickled(tmp_path, monkeypatch):
    import pickle

    def refuse(*args, **kwargs):
        raise AssertionError("unpickled")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        inner = io.BytesIO()
        np.save(inner, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
        zf.writestr("poses.npy", inner.getvalue())
    with pytest.raises(AnrError, match="dtype object"):
        _load(tmp_path, buf.getvalue())


@pytest.mark.parametrize("data, message", [
    (b"", "moves.npz: cannot read it as a NumPy .npz archive"),
    (b"PK\x03\x04" + bytes(30), "moves.npz: cannot read it as a NumPy .npz archive"),
    (b"\x93NUMPY not a zip", "moves.npz: cannot read it as a NumPy .npz archive"),
])
def test_empty_and_foreign_files(tmp_path, data, message):
    with pytest.raises(AnrError, match=f"^{message}"):
        _load(tmp_path, data)
