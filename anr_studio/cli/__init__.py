"""`anr-studio` entry point. With no sub-command it opens the studio (the GUI).

One module per command group (``anr_studio.cli.body``, ``.capture``, ``.synth``, ``.train``,
``.avatar``), each with ``register(subparsers)``. Registering only builds argparse parsers: the
packages a command needs load when it runs, so ``anr-studio --help`` starts in a fraction of a
second.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from anr_studio.errors import AnrError, printable

# Command groups, in the order they appear in --help.
COMMAND_MODULES = ["body", "capture", "synth", "train", "avatar"]


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
    parser.add_argument("--offline", action="store_true", help="never download pretrained weights (VGG19, LPIPS's "
                        "AlexNet); also ANR_OFFLINE=1; may follow any sub-command")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def _run_gui(args: argparse.Namespace) -> int:
    from anr_studio.gui.app import run_app

    return run_app(open_path=args.open, screenshot=args.screenshot, quit_after=args.quit_after)


def main(argv: list[str] | None = None) -> int:
    """Runs the CLI; returns the process exit code. User errors print one line, no traceback."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--offline" in argv:  # accepted before or after the sub-command
        from anr_studio.model.weights import set_offline

        argv = [a for a in argv if a != "--offline"]
        set_offline()
    args = parser.parse_args(argv)
    try:
        if args.command is None:
            return _run_gui(args)
        return int(args.func(args) or 0)
    except AnrError as exc:
        print(f"anr-studio: error: {printable(exc)}", file=sys.stderr)
        return 2
    except OSError as exc:  # permissions, missing folders, full disks that no reader or writer named itself
        from anr_studio.fileio import os_error_message

        print(f"anr-studio: error: {printable(os_error_message(exc, exc.filename or '.', 'access'))}", file=sys.stderr)
        return 2
    except MemoryError:
        print("anr-studio: error: out of memory, expected smaller inputs or settings (--size, --batch-size)", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("anr-studio: interrupted", file=sys.stderr)
        return 130
