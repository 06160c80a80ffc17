"""Capture commands never destroy a user's file: existing outputs, inputs as outputs, read-only and private captures."""

from __future__ import annotations

import stat

import numpy as np
import pytest

from anr_studio.capture import CaptureWriter
from anr_studio.cli import main

H, W, N = 12, 10, 6


@pytest.fixture
def cap(tmp_path):
    path = tmp_path / "cap.h5"
    K = np.array([[20.0, 0, 5], [0, 20.0, 6], [0, 0, 1]], np.float32)
    with CaptureWriter(path, "carol", H, W, 30, betas=np.zeros(10), camera=(K, np.eye(3), [0, 0, 3])) as w:
        for i in range(N):
            w.append(np.full((H, W, 3), 40 * i, np.uint8), mask=np.zeros((H, W), np.uint8), pose=np.zeros((24, 3)))
    return path


def test_synth_and_import_refuse_to_replace_files(cap, tmp_path, capsys):
    before = cap.read_bytes()
    assert main(["synth", "--out", str(cap), "--frames", "2", "--size", "32", "--quiet"]) == 2
    assert "cap.h5: the file exists, expected a new name or --overwrite" in capsys.readouterr().err
    src = tmp_path / "clip"
    src.mkdir()
    poses = tmp_path / "poses.npz"
    np.savez(poses, poses=np.zeros((2, 72)))
    assert main(["import", str(src), "--poses", str(poses), "--out", str(poses)]) == 2
    assert "poses.npz: is also an input of this command" in capsys.readouterr().err
    assert main(["import", str(src), "--out", str(cap)]) == 2
    assert "the file exists" in capsys.readouterr().err
    assert cap.read_bytes() == before


@pytest.mark.parametrize("args, message", [
    (["synth", "--out", "{tmp}/s.h5", "--tracking-noise", "nan"], "argument --tracking-noise: nan is out of range"),
    (["synth", "--out", "{tmp}/s.h5", "--frames", "0"], "argument --frames: 0 is out of range"),
    (["keyframes", "{cap}", "--grid", "100000"], "argument --grid: 100000 is out of range, expected from 8 to 2048"),
    (["keyframes", "{cap}", "--fraction", "0"], "argument --fraction: 0 is out of range, expected a finite number above 0"),
])
def test_capture_arguments_are_range_checked(cap, tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as exit_:
        main([a.format(cap=cap, tmp=tmp_path) for a in args])
    assert exit_.value.code == 2 and message in capsys.readouterr().err


def test_keyframes_refuse_a_read_only_capture_and_keep_a_private_ones_mode(cap, capsys):
    from tests.train.helpers import tiny_body

    body = cap.parent / "body.safetensors"
    tiny_body().save(body)
    cap.chmod(0o444)
    before = cap.read_bytes()
    assert main(["keyframes", str(cap), "--body", str(body), "--grid", "16"]) == 2
    assert "cap.h5: is read-only, expected a writable file" in capsys.readouterr().err
    assert cap.read_bytes() == before and stat.S_IMODE(cap.stat().st_mode) == 0o444
    cap.chmod(0o600)
    assert main(["keyframes", str(cap), "--body", str(body), "--grid", "16"]) == 0
    assert stat.S_IMODE(cap.stat().st_mode) == 0o600 and cap.read_bytes() != before


def test_a_full_disk_ends_synth_import_masks_and_keyframes_with_one_line_not_a_crash(small_disk, tmp_path):
    import os
    import subprocess
    import sys

    def run(*args):
        return subprocess.run([sys.executable, "-m", "anr_studio.cli", *args], capture_output=True, text=True,
                              env=dict(os.environ, OMP_NUM_THREADS="1"), timeout=300)

    first = run("synth", "--out", str(small_disk / "a.h5"), "--frames", "8", "--size", "64", "--quiet")
    assert first.returncode == 0, first.stderr
    before = (small_disk / "a.h5").read_bytes()
    import shutil

    (small_disk / "filler").write_bytes(b"\0" * max(0, shutil.disk_usage(small_disk).free - 16 * 1024))
    import cv2

    clip = tmp_path / "clip"  # an import source on another disk
    (clip / "images").mkdir(parents=True)
    for i in range(20):
        cv2.imwrite(str(clip / "images" / f"{i:03d}.png"), np.random.default_rng(i).integers(0, 255, (64, 64, 3), np.uint8))
    E = np.eye(4)
    E[2, 3] = 3.0
    np.savez(clip / "params.npz", poses=np.zeros((20, 72)), K=np.array([[80.0, 0, 32], [0, 80, 32], [0, 0, 1]]), E=E)
    for args in (["synth", "--out", str(small_disk / "b.h5"), "--frames", "20", "--size", "64", "--quiet"],
                 ["import", str(clip), "--out", str(small_disk / "i.h5")],
                 ["masks", str(small_disk / "a.h5"), "--overwrite", "--no-refine", "--quiet"],
                 ["keyframes", str(small_disk / "a.h5"), "--grid", "16"]):
        proc = run(*args)  # a segfault (HDF5 closing a file it could not flush) exits with -11
        assert proc.returncode == 2, proc.stderr
        line = proc.stderr.strip().splitlines()[-1]
        assert "cannot write (the disk is full" in line and line.endswith("expected free space on that disk")
        assert "Traceback" not in proc.stderr
    assert sorted(p.name for p in small_disk.iterdir()) == ["a.h5", "filler"] and (small_disk / "a.h5").read_bytes() == before


def test_a_read_only_folder_is_one_line_for_an_unprivileged_user(tmp_path):
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to run as nobody")
    tmp_path.chmod(0o755)
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o555)
    ro.chmod(0o555)
    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, PYTHONPATH=str(root), HOME=str(tmp_path), OMP_NUM_THREADS="1")
    as_nobody = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", sys.executable]
    if subprocess.run([*as_nobody, "-c", "import anr_studio"], env=env, cwd=tmp_path, capture_output=True).returncode:
        pytest.skip("this checkout is not readable by nobody")
    proc = subprocess.run([*as_nobody, "-m", "anr_studio.cli", "synth", "--out", str(ro / "s.h5"), "--frames", "2",
                           "--size", "32", "--quiet"], capture_output=True, text=True, cwd=tmp_path, timeout=300, env=env)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (f"anr-studio: error: {ro / 's.h5'}: cannot write (permission denied), "
                                                    "expected a folder and file you may write")
    assert list(ro.iterdir()) == []


def test_a_damaged_video_prints_only_the_commands_line(tmp_path):
    import os
    import subprocess
    import sys

    import cv2

    video = tmp_path / "v.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 12, (16, 16))
    for i in range(3):
        writer.write(np.full((16, 16, 3), 40 * i, np.uint8))
    writer.release()
    data = bytearray(video.read_bytes())
    data[40:60] = bytes(20)  # the stream's header: FFmpeg and OpenCV would each print their complaints
    video.write_bytes(bytes(data))
    np.savez(tmp_path / "p.npz", poses=np.zeros((3, 72)), K=np.array([[20.0, 0, 8], [0, 20, 8], [0, 0, 1]]), E=np.eye(4))
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENCV_")}
    proc = subprocess.run([sys.executable, "-m", "anr_studio.cli", "import", str(video), "--poses", str(tmp_path / "p.npz"),
                           "--out", str(tmp_path / "o.h5")], capture_output=True, text=True, timeout=300,
                          env=dict(env, OMP_NUM_THREADS="1"))
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"anr-studio: error: {video}: holds no frames, expected at least one"]
