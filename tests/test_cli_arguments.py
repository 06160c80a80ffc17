"""Every option that takes a number is range-checked as argparse reads it: text, NaN, infinities and
numbers beyond a float end with exit status 2 and an error naming the option, before anything runs."""

from __future__ import annotations

import argparse

import pytest

from anr_studio.cli import build_parser

ODD_VALUES = ["nan", "inf", "-inf", "1e400", "x", "", "0x10", "1,5"]
# Plain integers whose range the command itself checks (tests/cli/test_body.py covers them).
CHECKED_BY_THE_COMMAND = {("body", "--size"), ("body", "--frame")}


def _numeric_options(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """Yields (sub-command path, action) for every option of ``parser`` that converts its value."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _numeric_options(child, (*path, name))
        elif action.option_strings and action.type is not None:
            yield path, action


OPTIONS = [(path, action.option_strings[-1]) for path, action in _numeric_options(build_parser())]


def test_every_numeric_option_reads_through_a_range_checked_type():
    assert len(OPTIONS) > 30
    for path, action in _numeric_options(build_parser()):
        key = (" ".join(path), action.option_strings[-1])
        assert action.type.__name__ in {"integer", "number", "size"} or key in CHECKED_BY_THE_COMMAND, key


@pytest.mark.parametrize("path, option", OPTIONS, ids=[" ".join((*p, o)) for p, o in OPTIONS])
def test_odd_numbers_end_with_exit_2_naming_the_option(path, option, capsys):
    for value in ODD_VALUES:
        with pytest.raises(SystemExit) as exit_:
            build_parser().parse_args([*path, option, value])
        err = capsys.readouterr().err
        assert exit_.value.code == 2 and f"argument {option}" in err and "Traceback" not in err, (value, err)


@pytest.mark.parametrize("args, message", [
    (["synth", "--seed", "-1"], "argument --seed: -1 is out of range, expected from 0 to 4294967295"),
    (["synth", "--size", "5000"], "argument --size: 5000 is out of range, expected from 16 to 4096"),
    (["--quit-after", "-2"], "argument --quit-after: -2 is out of range, expected a finite number at least 0"),
])
def test_values_a_library_would_reject_later_are_refused_first(args, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(args)
    assert exit_.value.code == 2 and message in capsys.readouterr().err
