"""`anr-studio` entry point; with no sub-command it opens the studio (the GUI).

One module per command group, each with ``register(subparsers)``; commands import what they need when
they run, so ``--help`` is fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from anr_studio import __version__
from anr_studio.cli.argtypes import number
from anr_studio.errors import AnrError, printable
from anr_studio.fileio import on_stop_signals

# Command groups, in the order they appear in --help.
COMMAND_MODULES = ["body", "capture", "synth", "train", "avatar"]

# One example per sub-command, shown at the end of its --help.
EXAMPLES = {
    "body": "anr-studio body --pose bent --out body.png",
    "capture": "anr-studio capture info a.h5",
    "capture info": "anr-studio capture info a.h5",
    "capture check": "anr-studio capture check a.h5 --out overlay.png",
    "masks": "anr-studio masks a.h5",
    "import": "anr-studio import clip.mp4 --out cap.h5",
    "keyframes": "anr-studio keyframes a.h5",
    "synth": "anr-studio synth --out a.h5 --seed 0 --frames 150 --size 128",
    "train": "anr-studio train --captures a.h5 --out runs/a",
    "eval": "anr-studio eval runs/a --captures a.h5 --split test --out metrics.json",
    "render": "anr-studio render runs/a/avatar.anr --orbit 48 --size 256 --out orbit.mp4",
    "swap": "anr-studio swap runs/a/avatar.anr --from synth-0 --to synth-1 --region upper --name top --out tryon.anr",
    "tune-tryon": "anr-studio tune-tryon runs/a/avatar.anr --out tuned.anr --seconds 400 --device cuda",
    "fit": "anr-studio fit runs/a/avatar.anr --capture b.h5 --out ab.anr",
    "export": "anr-studio export runs/a/avatar.anr --mesh body.obj --pose walk:12",
}


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Adds "(default: X)" to an option's help when it has a default and its text does not state one."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (action.option_strings and not _unset(default) and not isinstance(action, argparse._HelpAction)
                and "default" not in text):
            text += f" (default: {default})"
        return text


def _unset(default: object) -> bool:
    """Returns True for the defaults of flags and of options that are off unless given."""
    return default is None or default is False or default == [] or default is argparse.SUPPRESS


def _finish_help(parser: argparse.ArgumentParser, path: str = "") -> None:
    """Gives ``parser`` and its sub-command parsers the formatter and their example."""
    parser.formatter_class = HelpFormatter
    if path in EXAMPLES:
        # a parser's own epilog (the import layouts) stays, the example follows it
        parser.epilog = (f"{parser.epilog}\n" if parser.epilog else "") + f"example:\n  {EXAMPLES[path]}"
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                _finish_help(child, f"{path} {name}".strip())


def build_parser() -> argparse.ArgumentParser:
    """Returns the full argument parser, sub-commands included."""
    parser = argparse.ArgumentParser(prog="anr-studio", description="ANR Studio: turn a video of a person into an "
                                     "animatable neural avatar. Run without a sub-command to open the studio.")
    parser.add_argument("--screenshot", metavar="PNG", help="open the studio, save a screenshot of the window and quit")
    parser.add_argument("--open", metavar="PATH", help="open this avatar (.anr) or capture (.h5) in the studio")
    parser.add_argument("--quit-after", type=number(0), metavar="S", help="quit the studio after S seconds")
    parser.add_argument("--offline", action="store_true", help="never download pretrained weights (VGG19, LPIPS's "
                        "AlexNet); also ANR_OFFLINE=1; may follow any sub-command")
    parser.add_argument("--version", action="version", version=f"anr-studio {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    _finish_help(parser)
    return parser


def _run_gui(args: argparse.Namespace) -> int:
    if sys.platform.startswith("linux") and not any(map(os.environ.get, ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY"))):
        print("anr-studio: no display to open the studio on (DISPLAY is not set): run it under `xvfb-run anr-studio`, "
              "or use the sub-commands, which need none (`anr-studio --help`)", file=sys.stderr)
        return 2
    from anr_studio.gui.app import run_app

    return run_app(open_path=args.open, screenshot=args.screenshot, quit_after=args.quit_after)


def _quiet_h5py_finalizers(unraisable) -> None:
    """Drops the errors h5py's finalizers meet closing a file a full disk cut short (the command already said so)."""
    if isinstance(unraisable.exc_value, (OSError, RuntimeError)) and "h5py" in repr(unraisable.object):
        return
    sys.__unraisablehook__(unraisable)


def main(argv: list[str] | None = None) -> int:
    """Runs the CLI; returns the process exit code. User errors print one line, no traceback."""
    sys.unraisablehook = _quiet_h5py_finalizers
    # train and fit say the VGG19 fallback themselves (their `warn`): the loss module's log line would repeat it
    logging.getLogger("anr_studio.model.losses").setLevel(logging.ERROR)
    # OpenCV and FFmpeg print lines of their own about damaged images and videos: the command's one
    # line says what is wrong (set these variables to see theirs)
    os.environ.setdefault("OPENCV_LOG_LEVEL", "OFF")
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--offline" in argv:  # accepted before or after the sub-command
        from anr_studio.model.weights import set_offline

        argv = [a for a in argv if a != "--offline"]
        set_offline()
    args = parser.parse_args(argv)
    try:
        if args.command is None:
            return _run_gui(args)  # the studio closes its window on these signals
        with on_stop_signals():  # SIGTERM and SIGHUP end a command as Ctrl-C does: nothing half-written left
            return int(args.func(args) or 0)
    except AnrError as exc:
        print(f"anr-studio: error: {printable(exc)}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader of our output went away (`| head`): end quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # the exit's flush must not fail again
        return 141
    except OSError as exc:  # permissions, missing folders, full disks that no reader or writer named itself
        from anr_studio.fileio import os_error_message

        print(f"anr-studio: error: {printable(os_error_message(exc, exc.filename or '', 'access'))}", file=sys.stderr)
        return 2
    except MemoryError:
        print("anr-studio: error: out of memory, expected smaller inputs or settings (--size, --batch-size)", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("anr-studio: interrupted", file=sys.stderr)
        return 130
