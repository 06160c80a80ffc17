"""CaptureWriter / Capture: round trips, atomic writes, fork-safe reading."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import pickle
from pathlib import Path

import h5py
import numpy as np
import pytest

from anr_studio.capture import Capture, CaptureWriter
from anr_studio.errors import AnrError

H, W, N = 24, 16, 6
K = np.array([[30.0, 0, 8], [0, 30.0, 12], [0, 0, 1]], np.float32)


def _frames(n: int = N) -> np.ndarray:
    rng = np.random.default_rng(1)
    return rng.integers(0, 256, (n, H, W, 3), dtype=np.uint8)


def _write(path: Path, n: int = N, **kw) -> dict:
    frames = _frames(n)
    masks = (np.arange(n)[:, None, None] * 10 + np.zeros((n, H, W))).astype(np.uint8)
    poses = np.random.default_rng(2).normal(0, 0.2, (n, 24, 3)).astype(np.float32)
    transl = np.random.default_rng(3).normal(0, 1, (n, 3)).astype(np.float32)
    bg = np.full((H, W, 3), 77, np.uint8)
    with CaptureWriter(path, "alice", H, W, 25.0, betas=np.arange(10) * 0.1, camera=(K, np.eye(3), [0, 0, 3]),
                       background=bg, attrs={"source": "test", "noise": {"deg": 3}}, **kw) as w:
        for i in range(n):
            assert w.append(frames[i], mask=masks[i], pose=poses[i], transl=transl[i]) == i
        w.set_split([0, 1, 2, 3], [4, 5])
        w.set_keyframes([1, 3], [0.6, 0.9])
        w.set_truth(pose=poses.astype(np.float64) * 0, transl=transl)
    return dict(frames=frames, masks=masks, poses=poses, transl=transl, bg=bg)


def test_round_trip(tmp_path):
    path = tmp_path / "cap.h5"
    ref = _write(path)
    cap = Capture(path)
    assert len(cap) == N and cap.image_size == (H, W)
    assert cap.identity == "alice" and cap.fps == 25.0 and cap.body_model_id == "default"
    for i in range(N):
        np.testing.assert_array_equal(cap.frame(i), ref["frames"][i])
        np.testing.assert_array_equal(cap.mask(i), ref["masks"][i])
        np.testing.assert_allclose(cap.pose(i), ref["poses"][i])
        np.testing.assert_allclose(cap.transl(i), ref["transl"][i], rtol=1e-6)
    np.testing.assert_array_equal(cap.frame(-1), ref["frames"][-1])
    np.testing.assert_array_equal(cap.background, ref["bg"])
    Ki, Ri, ti = cap.camera(3)
    np.testing.assert_array_equal(Ki, K)
    np.testing.assert_array_equal(Ri, np.eye(3))
    np.testing.assert_array_equal(ti, [0, 0, 3])
    assert cap.static_camera and cap.cameras()[0].shape == (N, 3, 3)
    np.testing.assert_allclose(cap.betas, np.arange(10) * 0.1, rtol=1e-6)
    assert cap.split("train").tolist() == [0, 1, 2, 3] and cap.split("test").tolist() == [4, 5]
    assert cap.keyframes.tolist() == [1, 3] and np.allclose(cap.keyframe_coverage, [0.6, 0.9])
    np.testing.assert_allclose(cap.truth("transl"), ref["transl"])
    assert cap.truth("missing") is None
    assert cap.truth("pose").dtype == np.float32 and cap.truth_names == ["pose", "transl"]
    assert cap.attrs["source"] == "test" and json.loads(cap.attrs["noise"]) == {"deg": 3}
    with pytest.raises(IndexError):
        cap.frame(N)
    with pytest.raises(AnrError):
        cap.split("val")
    with h5py.File(path) as f:  # one frame per chunk, compressed: frames stream and read one at a time
        assert f["frames"].chunks == (1, H, W, 3) and f["frames"].compression == "gzip"
        assert f["masks"].chunks == (1, H, W)


def test_per_frame_cameras_and_median_background(tmp_path):
    path = tmp_path / "views.h5"
    frames = _frames(5)
    frames[:, :, :, :] = 90
    frames[2, :4] = 250  # a "person" in one frame only: the median must ignore it
    with CaptureWriter(path, "bob", H, W, 30, betas=np.zeros(10)) as w:
        for i in range(5):
            R = np.array([[np.cos(i), 0, np.sin(i)], [0, 1, 0], [-np.sin(i), 0, np.cos(i)]])
            Ki = K.copy()
            Ki[:2] *= i + 1  # focal lengths and principal point scale; the last row stays (0, 0, 1)
            w.append(frames[i], pose=np.zeros((24, 3)), camera=(Ki, R, [0, 0, i]))
    cap = Capture(path)
    assert not cap.static_camera and cap.mask(0) is None and not cap.has_masks
    Ki, Ri, ti = cap.camera(4)
    np.testing.assert_allclose(Ki[:2], K[:2] * 5)
    np.testing.assert_allclose(ti, [0, 0, 4])
    np.testing.assert_allclose(Ri[0], [np.cos(4), 0, np.sin(4)], atol=1e-6)
    np.testing.assert_array_equal(cap.background, np.full((H, W, 3), 90, np.uint8))
    assert not cap.has_split and cap.split("test").size == 0 and cap.keyframes is None


def test_exception_leaves_nothing(tmp_path):
    path = tmp_path / "cap.h5"
    with pytest.raises(RuntimeError):
        with CaptureWriter(path, "a", H, W, 30, betas=np.zeros(10), camera=(K, np.eye(3), [0, 0, 3])) as w:
            w.append(_frames(1)[0], pose=np.zeros((24, 3)))
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
    ref = _write(path)  # an existing file survives a failed rewrite byte for byte
    before = path.read_bytes()
    with pytest.raises(AnrError, match="body/pose has 2 frames, expected 1, one per frame written"):
        with CaptureWriter(path, "a", H, W, 30, betas=np.zeros(10), camera=(K, np.eye(3), [0, 0, 3])) as w:
            w.append(ref["frames"][0])
            w.set_body(np.zeros((2, 24, 3)), np.zeros((2, 3)))
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["cap.h5"]


@pytest.mark.parametrize("bad, match", [
    (dict(frame=np.zeros((H, W, 3), np.float32)), "dtype float32, expected uint8"),
    (dict(frame=np.zeros((H, W + 1, 3), np.uint8)), r"shape \(24, 17, 3\), expected \(24, 16, 3\)"),
    (dict(pose=np.zeros((23, 3))), r"body/pose\[0\] has shape"),
    (dict(pose=np.full((24, 3), np.nan)), "NaN or Inf"),
])
def test_append_rejects_bad_input(tmp_path, bad, match):
    w = CaptureWriter(tmp_path / "x.h5", "a", H, W, 30, betas=np.zeros(10), camera=(K, np.eye(3), [0, 0, 3]))
    args = dict(frame=_frames(1)[0], pose=np.zeros((24, 3))) | bad
    with pytest.raises(AnrError, match=match):
        w.append(args.pop("frame"), **args)
    w.abort()
    assert list(tmp_path.iterdir()) == []


def test_masks_all_or_none(tmp_path):
    w = CaptureWriter(tmp_path / "x.h5", "a", H, W, 30, betas=np.zeros(10), camera=(K, np.eye(3), [0, 0, 3]))
    w.append(_frames(1)[0], mask=np.zeros((H, W), np.uint8), pose=np.zeros((24, 3)))
    with pytest.raises(AnrError, match="frame 1 has no mask"):
        w.append(_frames(1)[0], pose=np.zeros((24, 3)))
    w.abort()


def test_write_keyframes_and_masks_atomically(tmp_path):
    path = tmp_path / "cap.h5"
    ref = _write(path)
    cap = Capture(path)
    cap.frame(0)  # holds a handle while rewriting
    cap.write_keyframes([3, 0, 2], [0.2, 0.5, 0.7])
    assert cap.keyframes.tolist() == [3, 0, 2]
    with pytest.raises(AnrError, match="keyframes holds test frame 5, expected training frames only"):
        cap.write_keyframes([5, 0])
    with pytest.raises(AnrError, match="masks already exist"):
        cap.write_masks(ref["masks"])
    before = path.read_bytes()

    def failing():
        yield ref["masks"][0]
        raise RuntimeError("extraction crashed")

    with pytest.raises(RuntimeError):
        cap.write_masks(failing(), overwrite=True)
    assert path.read_bytes() == before
    with pytest.raises(AnrError, match="2 masks were given, expected 6"):
        cap.write_masks(ref["masks"][:2], overwrite=True)
    cap.write_masks((255 - m for m in ref["masks"]), overwrite=True)
    np.testing.assert_array_equal(Capture(path).mask(4), 255 - ref["masks"][4])
    np.testing.assert_array_equal(cap.frame(3), ref["frames"][3])  # frames copied unchanged
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cap.h5"]


def _checksum(args):
    cap, i = args
    return os.getpid(), int(cap.frame(i).astype(np.int64).sum())


def test_reader_is_fork_safe(tmp_path):
    path = tmp_path / "cap.h5"
    ref = _write(path)
    cap = Capture(path)
    cap.frame(0)  # the parent holds an open handle before forking
    with mp.get_context("fork").Pool(2) as pool:
        results = pool.map(_checksum, [(cap, i) for i in range(N)])
    assert [s for _, s in results] == [int(f.astype(np.int64).sum()) for f in ref["frames"]]
    clone = pickle.loads(pickle.dumps(cap))  # spawn-style workers get a picklable reader
    assert clone._file is None
    np.testing.assert_array_equal(clone.frame(2), ref["frames"][2])
    np.testing.assert_array_equal(cap.frame(1), ref["frames"][1])
