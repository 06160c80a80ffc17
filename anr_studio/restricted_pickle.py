"""Unpickling without running code: `RestrictedUnpickler` builds only `NUMPY_GLOBALS` and its reader's allowlist
(any other global raises `RefusedGlobal`), and reads joblib's arrays, whose bytes follow outside the stream."""

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


class JoblibArray:
    """Stands in for ``joblib.numpy_pickle.NumpyArrayWrapper``: keeps its state; the array follows."""

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, dict):
            raise pickle.UnpicklingError("joblib array wrapper state is not a dict")
        self.__dict__.update(state)


class RestrictedUnpickler(pickle._Unpickler):  # the Python implementation: joblib arrays need BUILD
    """An Unpickler that builds only :data:`NUMPY_GLOBALS` and the globals in ``allowed`` (strings as latin1,
    as Python 2 pickles of numpy arrays need)."""

    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, file: Any, allowed: dict[tuple[str, str], Any]) -> None:
        super().__init__(file, encoding="latin1")
        self._file = file
        self._allowed = {**NUMPY_GLOBALS, **allowed}

    def find_class(self, module: str, name: str) -> Any:
        """Returns the allowed global ``module.name`` after Python 2 names are mapped as pickle maps them
        (``__builtin__``, ``copy_reg``) and scipy's sparse classes to ``scipy.sparse`` (whose private
        modules moved between versions); RefusedGlobal when it is not allowed."""
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        elif module in _compat_pickle.IMPORT_MAPPING:
            module = _compat_pickle.IMPORT_MAPPING[module]
        elif module.startswith("scipy.sparse."):
            module = "scipy.sparse"
        if (module, name) in self._allowed:
            return self._allowed[(module, name)]
        raise RefusedGlobal(f"refusing global {module}.{name}")

    def _load_build(self) -> None:
        pickle._Unpickler.load_build(self)
        if isinstance(self.stack[-1], JoblibArray):
            self.stack[-1] = self._read_joblib_array(self.stack[-1])

    dispatch[pickle.BUILD[0]] = _load_build

    def _read_joblib_array(self, wrapper: JoblibArray) -> np.ndarray:
        """Returns the array whose bytes follow a joblib wrapper in the file."""
        dtype, shape, order = wrapper.__dict__.get("dtype"), wrapper.__dict__.get("shape"), wrapper.__dict__.get("order", "C")
        if not isinstance(dtype, np.dtype) or not isinstance(shape, tuple) or order not in ("C", "F"):
            raise pickle.UnpicklingError("joblib array wrapper without dtype, shape and order")
        if wrapper.__dict__.get("subclass", np.ndarray) is not np.ndarray:
            raise pickle.UnpicklingError("joblib array of a numpy subclass")
        if dtype.hasobject:  # object arrays are a nested pickle (protocol 2)
            array = RestrictedUnpickler(self._file, self._allowed).load()
            if not isinstance(array, np.ndarray):
                raise pickle.UnpicklingError("joblib object array is not an array")
            return array
        if wrapper.__dict__.get("numpy_array_alignment_bytes") is not None:
            padding = self._file.read(1)
            if len(padding) != 1:
                raise pickle.UnpicklingError("joblib array data ends early")
            self._file.read(padding[0])
        count = int(np.prod(shape, dtype=np.int64))
        data = self._file.read(count * dtype.itemsize)
        if len(data) != count * dtype.itemsize:
            raise pickle.UnpicklingError("joblib array data ends early")
        array = np.frombuffer(data, dtype=dtype, count=count)
        return (array.reshape(shape[::-1]).T if order == "F" else array.reshape(shape)).copy()
