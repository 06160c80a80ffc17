"""One writer per capture across processes: while one process writes a capture, a second (a CLI command, the studio)
fails at once with one sentence naming the file, and the capture stays whole."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from anr_studio.capture import Capture, CaptureWriter
from anr_studio.errors import AnrError
from tests.capture.test_store import H, W, _write

# Rewrites the capture's masks, holding before each mask until a line arrives on stdin.
HOLDING_WRITER = """
import sys
import numpy as np
from anr_studio.capture import Capture

cap = Capture(sys.argv[1])

def masks():
    for i in range(len(cap)):
        print("writing", flush=True)
        sys.stdin.readline()
        yield np.full(cap.image_size, 200 + i, np.uint8)

cap.write_masks(masks(), overwrite=True)
print("done", flush=True)
"""


def _holding_writer(path) -> subprocess.Popen:
    """Returns a process that is rewriting the capture at ``path`` (its masks), held before its first mask."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDING_WRITER, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, env=dict(os.environ, PYTHONPATH=os.getcwd()))
    assert proc.stdout.readline().strip() == "writing"
    return proc


def _finish(proc: subprocess.Popen) -> None:
    """Lets the holding writer write its masks; returns once it ended cleanly."""
    lines = []
    while True:
        proc.stdin.write("\n")
        proc.stdin.flush()
        lines.append(proc.stdout.readline().strip())
        if lines[-1] != "writing":
            break
    assert lines[-1] == "done" and proc.wait(60) == 0


def test_a_second_process_cannot_write_a_capture_another_is_writing(tmp_path):
    path = tmp_path / "cap.h5"
    _write(path)
    writer = _holding_writer(path)
    try:
        busy = f"{path}: another program \\(pid {writer.pid}\\) is writing this capture, expected it to finish first"
        start = time.monotonic()
        with pytest.raises(AnrError, match=busy):
            Capture(path).write_keyframes([0, 2])
        with pytest.raises(AnrError, match=busy):
            CaptureWriter(path, "bob", H, W, 30.0)
        assert time.monotonic() - start < 2  # at once, not after the other writer
        assert (tmp_path / "cap.h5.lock").exists()
        _finish(writer)
    finally:
        writer.kill()
        writer.wait()
    cap = Capture(path)  # whole: the other writer's masks, its own keyframes
    assert [int(cap.mask(i)[0, 0]) for i in range(len(cap))] == [200, 201, 202, 203, 204, 205]
    assert cap.keyframes.tolist() == [1, 3] and cap.identity == "alice"
    assert not (tmp_path / "cap.h5.lock").exists()  # the lock goes with its writer
    cap.write_keyframes([0, 2])
    assert Capture(path).keyframes.tolist() == [0, 2] and not (tmp_path / "cap.h5.lock").exists()


def test_the_masks_command_fails_at_once_while_another_process_writes_the_capture(tmp_path):
    path = tmp_path / "cap.h5"
    _write(path)
    before = path.read_bytes()
    writer = _holding_writer(path)
    try:
        out = subprocess.run([sys.executable, "-m", "anr_studio.cli", "masks", str(path), "--method", "plate", "--overwrite"],
                             capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=os.getcwd()), timeout=120)
        assert out.returncode == 2 and "Traceback" not in out.stderr
        assert out.stderr.strip().splitlines()[-1] == (f"anr-studio: error: {path}: another program (pid {writer.pid}) is writing this capture, "
                                      "expected it to finish first")
    finally:
        writer.kill()  # killed mid-write: the capture is left as it was
        writer.wait()
    assert path.read_bytes() == before
    with h5py.File(path, "r") as f:
        np.testing.assert_array_equal(f["masks"][:, 0, 0], np.arange(6) * 10)
    Capture(path).write_keyframes([0])  # a killed writer holds nothing
    assert Capture(path).keyframes.tolist() == [0]
