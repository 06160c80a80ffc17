"""SIGTERM or Ctrl-C to `render` and `export` while they write: the command ends with "interrupted", and each
output is either complete or absent, with no hidden temporary file left beside it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.avatar.test_commands import body_file  # noqa: F401 - fixture

ENV = dict(os.environ, OMP_NUM_THREADS="1")


def _hidden(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_during_a_video_render_leaves_no_partial_file(avatar_path, body_file, tmp_path, sig):  # noqa: F811
    out = tmp_path / "orbit.mp4"
    proc = subprocess.Popen([sys.executable, "-m", "anr_studio.cli", "render", str(avatar_path), "--orbit", "3600",
                             "--size", "32", "--out", str(out), "--body-model", body_file, "--device", "cpu", "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # as from a terminal
    deadline = time.time() + 120
    while not [p for p in tmp_path.iterdir() if ".partial" in p.name and p.stat().st_size > 48] and proc.poll() is None:
        assert time.time() < deadline, "the render never started writing its video"
        time.sleep(0.05)
    proc.send_signal(sig)  # frames are being encoded into the hidden temporary file
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "anr-studio: interrupted" in err and "Traceback" not in err, (proc.returncode, err)
    assert list(tmp_path.iterdir()) == []


# Writes half of a file under its temporary name, then the process receives SIGTERM before the rest is written.
_TERMINATED_MID_WRITE = """
import os, signal, sys, time
from pathlib import Path
from anr_studio import cli
write = Path.write_bytes
def write_half_then_terminate(self, data):
    write(self, data[: len(data) // 2])
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(30)
    return write(self, data)
Path.write_bytes = write_half_then_terminate
sys.exit(cli.main(sys.argv[1:]))
"""


def test_sigterm_during_an_export_leaves_no_partial_file(avatar_path, body_file, tmp_path):  # noqa: F811
    out = tmp_path / "export"
    out.mkdir()
    proc = subprocess.run([sys.executable, "-c", _TERMINATED_MID_WRITE, "export", str(avatar_path), "--mesh",
                           str(out / "body.obj"), "--body-model", body_file, "--device", "cpu"],
                          capture_output=True, text=True, env=ENV, timeout=120)
    assert proc.returncode == 130 and "anr-studio: interrupted" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert _hidden(out) == [] and not (out / "body.obj").exists()
