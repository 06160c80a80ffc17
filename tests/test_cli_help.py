"""The entry point explains itself: --version, defaults and an example in every sub-command's --help, one
line and exit code 2 without a display; `fit` writes a new file unless --in-place."""

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from anr_studio import __version__, cli
from anr_studio.cli.avatar import fit_output
from anr_studio.errors import AnrError


def _sub_parsers(parser, path=""):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield f"{path} {name}".strip(), child
                yield from _sub_parsers(child, f"{path} {name}".strip())


def test_version(capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["--version"])
    assert stop.value.code == 0 and capsys.readouterr().out.strip() == f"anr-studio {__version__}"


def test_every_sub_command_help_has_an_example_and_its_defaults():
    commands = dict(_sub_parsers(cli.build_parser()))
    assert {"body", "capture", "capture info", "masks", "import", "keyframes", "synth", "train", "eval", "render",
            "swap", "fit", "export"} <= set(commands)
    for name, parser in commands.items():
        text = parser.format_help()
        assert f"example:\n  anr-studio {name.split()[0]}" in text, name
        flat = " ".join(text.split())
        for action in parser._actions:
            if action.option_strings and not cli._unset(action.default):
                assert "default" in (action.help or "") or f"(default: {action.default})" in flat, (name, action.dest)


def test_every_sub_command_help_describes_it_and_says_what_a_zero_default_means():
    for name, parser in _sub_parsers(cli.build_parser()):
        assert parser.description, f"anr-studio {name} --help has no description"
    helps = {name: " ".join(parser.format_help().split()) for name, parser in _sub_parsers(cli.build_parser())}
    assert "(default 0: never)" in helps["train"] and "(default: 0)" not in helps["train"]
    assert "(default 0: all frames)" in helps["eval"] and "(default 0: off)" in helps["eval"]
    assert "(default: 0)" not in helps["eval"]


def test_examples_parse():
    parser = cli.build_parser()
    for example in cli.EXAMPLES.values():
        parser.parse_args(example.split()[1:])


def test_no_display_is_one_line_and_exit_code_2(monkeypatch):
    env = {k: v for k, v in __import__("os").environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    out = subprocess.run([sys.executable, "-m", "anr_studio.cli"], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "xvfb-run anr-studio" in lines[0] and "sub-commands" in lines[0]


def test_fit_writes_a_new_file_unless_in_place():
    def args(**kw):
        return argparse.Namespace(**{"avatar": "runs/a/avatar.anr", "name": "b", "out": None, "in_place": False, **kw})

    assert fit_output(args()) == Path("runs/a/avatar-b.anr")
    assert fit_output(args(out="x.anr")) == Path("x.anr")
    assert fit_output(args(in_place=True)) == Path("runs/a/avatar.anr")
    with pytest.raises(AnrError, match="--in-place and --out"):
        fit_output(args(in_place=True, out="x.anr"))
