"""The `anr-studio` entry point: help, and user errors as one line without a traceback."""

import argparse
import subprocess
import sys

from anr_studio import cli
from anr_studio.errors import AnrError


def test_help_lists_subcommands():
    out = subprocess.run([sys.executable, "-m", "anr_studio.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    assert "anr-studio" in out.stdout
    listed = {line.split()[0] for line in out.stdout.splitlines() if line.startswith("    ") and line.split()}
    assert {"body", "capture", "masks", "import", "keyframes", "synth", "train", "eval", "render", "swap", "fit",
            "export"} <= listed


def test_parser_loads_no_torch_and_no_qt():
    """Building the parser (what `--help` does) imports no torch and no GUI: the packages load when a command runs."""
    code = ("import sys; from anr_studio.cli import build_parser; build_parser(); "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'PySide6', 'vispy', 'cv2'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_anr_error_prints_one_line(monkeypatch, capsys):
    def boom(args):
        raise AnrError("cap.h5: body/pose has shape (3, 23, 3), expected (N, 24, 3)")

    parser = argparse.ArgumentParser()
    parser.add_argument("--open"), parser.add_argument("--screenshot"), parser.add_argument("--quit-after")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("boom").set_defaults(func=boom)
    monkeypatch.setattr(cli, "build_parser", lambda: parser)

    assert cli.main(["boom"]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == ["anr-studio: error: cap.h5: body/pose has shape (3, 23, 3), expected (N, 24, 3)"]


def test_a_reader_that_goes_away_ends_the_command_quietly(tmp_path):
    capture = str(tmp_path / "a.h5")
    assert cli.main(["synth", "--out", capture, "--frames", "4", "--size", "32", "--views", "1", "--quiet"]) == 0
    # `anr-studio capture info cap.h5 | head -1` when the pipe closes before the command has written everything
    code = ("import os, sys; from anr_studio import cli; r, w = os.pipe(); os.close(r); os.dup2(w, 1); "
            "sys.exit(cli.main(['capture', 'info', sys.argv[1]]))")
    out = subprocess.run([sys.executable, "-c", code, capture], capture_output=True, text=True)
    assert out.returncode == 141 and out.stderr == "", out.stderr
