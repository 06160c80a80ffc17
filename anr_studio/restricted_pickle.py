"""Unpickling without running code: the pieces shared by every reader of a third-party pickle.

A pickle may call any importable function. Our readers (SMPL model files in ``body.smpl_io``,
fitting tools' result files in ``capture.formats.safe_pickle``) subclass ``pickle.Unpickler`` and
answer ``find_class`` from an allowlist: :data:`NUMPY_GLOBALS` (what pickled numpy arrays,
dtypes and scalars need) plus their own entries; any other global raises :class:`RefusedGlobal`.
"""

from __future__ import annotations

import _compat_pickle
import pickle
from typing import Any

import numpy as np


class RefusedGlobal(pickle.UnpicklingError):
    """The pickle names a global outside the reader's allowlist (and that could run code)."""


def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    # Protocol-2 pickles written by Python 3 store bytes as _codecs.encode(text, "latin1").
    if encoding not in ("latin1", "latin-1"):
        raise RefusedGlobal(f"_codecs.encode with encoding {encoding!r} is not allowed")
    return text.encode("latin1")


def _frombuffer(buf: Any, dtype: Any, shape: Any, order: str) -> np.ndarray:
    # Protocol 5 pickles arrays as numpy's _frombuffer(buffer, dtype, shape, order).
    return np.frombuffer(buf, dtype=dtype).reshape(shape, order=order).copy()


NUMPY_GLOBALS: dict[tuple[str, str], Any] = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("_codecs", "encode"): _latin1_encode,
}
"""Globals a pickle of numpy arrays, dtypes, scalars and sets uses (numpy 1.x and 2.x module paths)."""
for _mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
    NUMPY_GLOBALS[(_mod, "_reconstruct")] = np.ndarray.__reduce__(np.zeros(1))[0]
    NUMPY_GLOBALS[(_mod, "scalar")] = np.float64(0).__reduce__()[0]
for _mod in ("numpy.core.numeric", "numpy._core.numeric"):
    NUMPY_GLOBALS[(_mod, "_frombuffer")] = _frombuffer


def allowed_global(allowed: dict[tuple[str, str], Any], module: str, name: str) -> Any:
    """Returns ``allowed[(module, name)]`` after Python 2 names are mapped as pickle maps them
    (``__builtin__``, ``copy_reg``); RefusedGlobal when it is not there."""
    if (module, name) in _compat_pickle.NAME_MAPPING:
        module, name = _compat_pickle.NAME_MAPPING[(module, name)]
    elif module in _compat_pickle.IMPORT_MAPPING:
        module = _compat_pickle.IMPORT_MAPPING[module]
    if (module, name) in allowed:
        return allowed[(module, name)]
    raise RefusedGlobal(f"refusing global {module}.{name}")
