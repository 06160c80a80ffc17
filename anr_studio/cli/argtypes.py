"""Argument types that check ranges as argparse reads them (one line, exit 2, before anything loads), and
what every command shares: the device, messages."""

from __future__ import annotations

import argparse
import math
import sys
from typing import Callable

# Pixels on a side of a rendered image: beyond it one frame alone needs gigabytes.
MAX_IMAGE_SIDE = 8192


def count(low: int, high: int | None = None, name: str = "integer") -> Callable[[str], int]:
    """Returns an argparse type (named ``name`` in its errors) reading an integer in [low, high] (no upper bound when None)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low or (high is not None and value > high):
            span = f"at least {low}" if high is None else f"from {low} to {high}"
            raise argparse.ArgumentTypeError(f"{value} is out of range, expected {span}")
        return value

    parse.__name__ = name
    return parse


def number(low: float | None = None, high: float | None = None, *, open_low: bool = False) -> Callable[[str], float]:
    """Returns an argparse type reading a finite float in [low, high] (``(low, high]`` with ``open_low``)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        bad_low = low is not None and (value <= low if open_low else value < low)
        if not math.isfinite(value) or bad_low or (high is not None and value > high):
            lo = "" if low is None else (f"above {low:g}" if open_low else f"at least {low:g}")
            hi = "" if high is None else f"at most {high:g}"
            span = " and ".join(s for s in (lo, hi) if s) or "finite"
            raise argparse.ArgumentTypeError(f"{text} is out of range, expected a finite number {span}".rstrip())
        return value

    parse.__name__ = "number"
    return parse


image_side = count(16, MAX_IMAGE_SIDE, "size")
"""Reads an image side in pixels, 16 to `MAX_IMAGE_SIDE`."""


def device(name: str | None) -> str:
    """Returns the torch device to use: ``name``, or cuda when available; AnrError for cuda without a GPU."""
    import torch

    from anr_studio.errors import AnrError

    if name is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise AnrError("--device cuda: no CUDA GPU is available on this machine, expected --device cpu")
    return name


def add_device(parser: argparse.ArgumentParser, what: str = "device") -> None:
    """Adds ``--device cuda|cpu`` (default: cuda when available) to ``parser``."""
    parser.add_argument("--device", choices=["cuda", "cpu"], help=f"{what} (default: cuda if available)")


def progress_bar(total: int, desc: str, unit: str, quiet: bool, iterable=None):
    """Returns a tqdm bar on stderr (hidden with ``quiet``; counting the items of ``iterable`` as it is iterated),
    shown after half a second: a command that stops at once on bad input prints its one line without an empty bar
    above it."""
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=desc, unit=unit, dynamic_ncols=True, disable=quiet, file=sys.stderr, delay=0.5)


def say(message: str) -> None:
    """Prints ``message`` for the user on stderr, after the program's name (above any progress bar)."""
    from tqdm import tqdm

    tqdm.write(f"anr-studio: {message}", file=sys.stderr)
