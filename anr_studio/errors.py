"""The one exception type users see (one sentence naming the file, the field and what was expected,
e.g. ``capture.h5: body/pose has shape (120, 23, 3), expected (N, 24, 3)``), and small checks that raise it."""

from __future__ import annotations

import contextlib
import threading
from typing import Any, Iterator, Sequence


class AnrError(Exception):
    """A problem with something the user gave us (a file, an argument, a name)."""

    def __init__(self, *args: Any) -> None:
        # A DataLoader worker's error comes back as AnrError("Caught AnrError in DataLoader worker ...
        # Original Traceback ..."): the user's one sentence is its last line.
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


def shown(text: str, limit: int = 40) -> str:
    """Returns ``text`` safe to print in a message: control characters as '?', cut to ``limit``."""
    clean = "".join(c if c.isprintable() else "?" for c in text[: limit + 1])
    return clean if len(clean) <= limit else clean[: limit - 3] + "..."


def _shape_str(shape: Sequence[Any]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def expect_shape(value: Any, expected: Sequence[int | str | None], field: str, source: str = "input") -> dict[str, int]:
    """Returns the sizes bound to named dimensions; AnrError when ``value.shape`` does not match ``expected``: ints
    (exact), strings (named: one size per name) or None (any), e.g. ``expect_shape(pose, ("B", 24, 3), "pose")``."""
    shape = tuple(getattr(value, "shape", ()))
    bound: dict[str, int] = {}
    ok = len(shape) == len(expected)
    for got, want in zip(shape, expected):
        if isinstance(want, str):
            ok = ok and bound.setdefault(want, int(got)) == int(got)
        elif want is not None:
            ok = ok and int(got) == int(want)
    if not ok:
        raise AnrError(f"{source}: {field} has shape {_shape_str(shape)}, expected {_shape_str([w if w is not None else '*' for w in expected])}")
    return bound


def expect_finite(value: Any, field: str, source: str = "input") -> None:
    """Raises AnrError when ``value`` (a tensor or array) holds NaN or Inf."""
    import numpy as np
    import torch

    if isinstance(value, torch.Tensor):
        finite = bool(torch.isfinite(value).all())
    else:
        finite = bool(np.all(np.isfinite(np.asarray(value))))
    if not finite:
        raise AnrError(f"{source}: {field} contains NaN or Inf values, expected finite numbers")


_host_checked = threading.local()


@contextlib.contextmanager
def inputs_checked_on_host() -> Iterator[None]:
    """Within it (re-entrant, per thread), checks that would read a device tensor's values back (a host sync,
    impossible during a CUDA graph capture) are skipped; callers validated their inputs on the host."""
    _host_checked.depth = getattr(_host_checked, "depth", 0) + 1
    try:
        yield
    finally:
        _host_checked.depth -= 1


def device_checks_enabled() -> bool:
    """Returns False inside `inputs_checked_on_host` (device value checks skipped), True otherwise."""
    return getattr(_host_checked, "depth", 0) == 0
