"""The one exception type users see, and small checks that raise it.

Every message is one sentence naming the file (or object), the field and what was expected,
e.g. ``capture.h5: body/pose has shape (120, 23, 3), expected (N, 24, 3)``. The CLI prints
it without a traceback; the GUI shows it in a dialog.
"""

from __future__ import annotations

import threading
from typing import Any, Sequence


class AnrError(Exception):
    """A problem with something the user gave us (a file, an argument, a name)."""

    def __init__(self, *args: Any) -> None:
        # A DataLoader worker's error reaches the main process re-raised as AnrError(text) whose
        # text is "Caught AnrError in DataLoader worker process 0.\nOriginal Traceback ...";
        # the user's one sentence is the traceback's last line.
        if len(args) == 1 and isinstance(args[0], str) and args[0].startswith("Caught AnrError"):
            last = args[0].rstrip().splitlines()[-1]
            args = (last.split("AnrError: ", 1)[-1],)
        # Messages quote names and library errors from users' files: no escape code or line break
        # of theirs reaches a terminal or a dialog.
        super().__init__(*(printable(a) if isinstance(a, str) else a for a in args))


def printable(text: str) -> str:
    """Returns ``text`` with control characters (terminal escape codes, line breaks) shown as ``\\xNN`` escapes."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape", "backslashreplace").decode("ascii")
                   for ch in str(text))


def _shape_str(shape: Sequence[Any]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def expect_shape(value: Any, expected: Sequence[int | str | None], field: str, source: str = "input") -> dict[str, int]:
    """Returns the sizes bound to named dimensions; raises AnrError when ``value.shape`` does not match.

    ``expected`` holds ints (exact), strings (named dims: the same name must have the same size,
    and the name is reported back) or None (any size).
    Example: ``expect_shape(pose, ("B", 24, 3), "pose", "capture.h5")``.
    """
    shape = tuple(getattr(value, "shape", ()))
    bound: dict[str, int] = {}
    ok = len(shape) == len(expected)
    if ok:
        for got, want in zip(shape, expected):
            if want is None:
                continue
            if isinstance(want, str):
                if bound.setdefault(want, int(got)) != int(got):
                    ok = False
            elif int(got) != int(want):
                ok = False
    if not ok:
        raise AnrError(f"{source}: {field} has shape {_shape_str(shape)}, expected {_shape_str([w if w is not None else '*' for w in expected])}")
    return bound


def expect_finite(value: Any, field: str, source: str = "input") -> None:
    """Raises AnrError when ``value`` (a tensor or array) holds NaN or Inf."""
    import numpy as np

    try:
        import torch

        if isinstance(value, torch.Tensor):
            if not bool(torch.isfinite(value).all()):
                raise AnrError(f"{source}: {field} contains NaN or Inf values, expected finite numbers")
            return
    except ImportError:  # pragma: no cover - torch is a hard dependency
        pass
    if not np.all(np.isfinite(np.asarray(value))):
        raise AnrError(f"{source}: {field} contains NaN or Inf values, expected finite numbers")


_host_checked = threading.local()


class inputs_checked_on_host:
    """Context manager: within it, checks that would read a device tensor's values back are skipped.

    A value check on a CUDA tensor (finite values, index ranges) costs a host sync, and none may
    run while a CUDA graph is captured. A caller that validated its inputs on the host (the
    avatar's frame path: pose, betas and translation as CPU arrays, a camera checked when it was
    built) renders inside this context; shape checks and checks of CPU tensors still run.
    Re-entrant and per thread.
    """

    def __enter__(self) -> "inputs_checked_on_host":
        _host_checked.depth = getattr(_host_checked, "depth", 0) + 1
        return self

    def __exit__(self, *exc: Any) -> None:
        _host_checked.depth -= 1


def device_checks_enabled() -> bool:
    """Returns False inside `inputs_checked_on_host` (device value checks skipped), True otherwise."""
    return getattr(_host_checked, "depth", 0) == 0
