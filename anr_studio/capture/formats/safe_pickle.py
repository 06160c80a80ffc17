"""Reading the pickles that fitting tools write (joblib, pickle, ``np.save`` of dicts, object .npz
members), without running any code they hold.

:class:`~anr_studio.restricted_pickle.RestrictedUnpickler` builds numpy arrays (joblib's too), dtypes,
scalars and builtin containers only; torch tensors become :class:`Unread` placeholders. Whole files may
be compressed (zlib, gzip, bz2, xz, lzma).
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import zlib
from pathlib import Path
from typing import Any, Callable

import numpy as np

from anr_studio.errors import AnrError
from anr_studio.restricted_pickle import JoblibArray, RefusedGlobal, RestrictedUnpickler
from anr_studio.safe_npz import NpzArchive, load_npy


class Unread:
    """Stands in for a value the importers never read (a torch tensor or its storage): built from any arguments."""

    def __init__(self, *_: Any) -> None:
        pass

    def __repr__(self) -> str:
        return "<unread>"


_ALLOWED: dict[tuple[str, str], Any] = {
    ("builtins", "dict"): dict,
    ("builtins", "list"): list,
    ("builtins", "tuple"): tuple,
    ("builtins", "complex"): complex,
    ("builtins", "bytearray"): bytearray,
    ("collections", "OrderedDict"): __import__("collections").OrderedDict,
    ("collections", "defaultdict"): __import__("collections").defaultdict,
    ("joblib.numpy_pickle", "NumpyArrayWrapper"): JoblibArray,
    ("sklearn.externals.joblib.numpy_pickle", "NumpyArrayWrapper"): JoblibArray,
    # torch tensors pickled with plain pickle: never rebuilt (that would run torch.load)
    ("torch._utils", "_rebuild_tensor_v2"): Unread,
    ("torch._utils", "_rebuild_tensor"): Unread,
    ("torch._utils", "_rebuild_parameter"): Unread,
    ("torch.storage", "_load_from_bytes"): Unread,
}


# joblib's compressors: zlib, gzip, bz2, xz, lzma (joblib/compressor.py prefixes)
_DECOMPRESS = ((b"\x78", zlib.decompress), (b"\x1f\x8b", gzip.decompress), (b"BZ", bz2.decompress),
               (b"\xfd7zXZ", lzma.decompress), (b"\x5d\x00", lzma.decompress))


def read_bytes(data: bytes, label: str, expected: str) -> Any:
    """Returns the object in pickle (or joblib) bytes ``data``, decompressed first when compressed."""
    for prefix, decompress in _DECOMPRESS:
        if data.startswith(prefix):
            try:
                data = decompress(data)
            except (OSError, EOFError, ValueError, zlib.error, lzma.LZMAError) as exc:
                raise AnrError(f"{label}: cannot decompress it ({exc}), expected {expected}") from None
            break
    try:
        return RestrictedUnpickler(io.BytesIO(data), _ALLOWED).load()
    except RefusedGlobal as exc:
        raise AnrError(f"{label}: not read ({exc}); expected {expected} holding only numpy arrays and "
                       "plain containers") from None
    except Exception as exc:  # a damaged stream can fail inside any allowed constructor
        raise AnrError(f"{label}: damaged or not a pickle ({type(exc).__name__}: {exc}), expected {expected}") from None


def read(path: Path, expected: str) -> Any:
    """Returns the object in the pickle or joblib file ``path`` (see :func:`read_bytes`)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise AnrError(f"{path}: cannot read it ({exc.strerror}), expected {expected}") from None
    return read_bytes(data, str(path), expected)


def _unpickled(expected: str) -> Callable[[bytes, str], Any]:
    """Returns the reader of an object array's pickled bytes that `anr_studio.safe_npz` calls."""

    def read(data: bytes, label: str) -> Any:
        value = read_bytes(data, label, expected)
        if isinstance(value, np.ndarray) and value.shape == () and value.dtype.hasobject:
            return value.item()  # np.save of a dict: a 0-d object array
        return value

    return read


def read_npy(path: Path, expected: str) -> Any:
    """Returns the contents of an ``.npy`` file: the array, or the object an object array holds (``np.save`` of a dict)."""
    return load_npy(path, expected, objects=_unpickled(expected))


def read_npz(path: Path, expected: str) -> dict[str, Any]:
    """Returns the members of an ``.npz`` file by name (object arrays read as in :func:`read_npy`)."""
    with NpzArchive(path, expected, objects=_unpickled(expected)) as archive:
        return {key: archive.array(key) for key in archive.keys}
