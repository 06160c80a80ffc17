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
