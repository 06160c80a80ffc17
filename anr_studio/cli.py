"""`anr-studio` entry point. With no sub-command it opens the studio (the GUI).

Each package that offers commands has a ``commands`` module with ``register(subparsers)``;
the parser is built from those, so the GUI, the CLI and the tests share one code path.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from anr_studio.errors import AnrError

# Modules that define sub-commands, in the order they appear in --help.
COMMAND_MODULES = [
    "anr_studio.body.commands",
    "anr_studio.capture.commands",
    "anr_studio.capture.synth.commands",
    "anr_studio.capture.keyframes",
    "anr_studio.train.commands",
    "anr_studio.avatar.commands",
]


def build_parser() -> argparse.ArgumentParser:
    """Returns the full argument parser, sub-commands included."""
    parser = argparse.ArgumentParser(
        prog="anr-studio",
        description="ANR Studio: turn a video of a person into an animatable neural avatar. "
        "Run without a sub-command to open the studio.",
    )
    parser.add_argument("--screenshot", metavar="PNG", help="open the studio, save a screenshot of the window and quit")
    parser.add_argument("--open", metavar="PATH", help="open this avatar (.anr) or capture (.h5) in the studio")
    parser.add_argument("--quit-after", type=float, metavar="S", help="quit the studio after S seconds")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # that package has no commands yet
                continue
            raise
        module.register(sub)
    return parser


def _run_gui(args: argparse.Namespace) -> int:
    try:
        from anr_studio.gui.app import run_app
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("anr_studio.gui"):
            build_parser().print_help()
            print("\nThe desktop studio is not built yet; the sub-commands above work headless.")
            return 0
        raise
    return run_app(open_path=args.open, screenshot=args.screenshot, quit_after=args.quit_after)


def main(argv: list[str] | None = None) -> int:
    """Runs the CLI; returns the process exit code. User errors print one line, no traceback."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command is None:
            return _run_gui(args)
        return int(args.func(args) or 0)
    except AnrError as exc:
        print(f"anr-studio: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("anr-studio: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
