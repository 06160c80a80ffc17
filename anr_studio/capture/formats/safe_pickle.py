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
import pickle
import tokenize
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from anr_studio.errors import AnrError
from anr_studio.restricted_pickle import JoblibArray, RefusedGlobal, RestrictedUnpickler, raw_array


class Unread:
    """Stands in for a value the importers never read (a torch tensor or its storage)."""

    def __repr__(self) -> str:
        return "<unread>"


def _unread(*args: Any) -> Unread:
    return Unread()


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
    ("torch._utils", "_rebuild_tensor_v2"): _unread,
    ("torch._utils", "_rebuild_tensor"): _unread,
    ("torch._utils", "_rebuild_parameter"): _unread,
    ("torch.storage", "_load_from_bytes"): _unread,
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


def _npy_payload(stream: Any, label: str, expected: str) -> Any:
    try:
        version = np.lib.format.read_magic(stream)
        if version not in ((1, 0), (2, 0)):
            raise ValueError(f"format version {version[0]}.{version[1]}")
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read_header(stream)
    except (ValueError, OSError, EOFError, SyntaxError, tokenize.TokenError) as exc:  # a header that does not tokenize
        raise AnrError(f"{label}: not a NumPy array file ({type(exc).__name__}), expected {expected}") from None
    if not dtype.hasobject:
        array = raw_array(stream, dtype, shape, fortran)
        if array is None:
            raise AnrError(f"{label}: array data ends early, expected {expected}")
        return array
    value = read_bytes(stream.read(), label, expected)
    if isinstance(value, np.ndarray) and value.shape == () and value.dtype.hasobject:
        return value.item()  # np.save of a dict: a 0-d object array
    return value


def read_npy(path: Path, expected: str) -> Any:
    """Returns the contents of an ``.npy`` file: the array, or the object an object array holds (``np.save`` of a dict)."""
    try:
        with open(path, "rb") as f:
            return _npy_payload(f, str(path), expected)
    except OSError as exc:
        raise AnrError(f"{path}: cannot read it ({exc.strerror}), expected {expected}") from None


def read_npz(path: Path, expected: str) -> dict[str, Any]:
    """Returns the members of an ``.npz`` file by name (object arrays read as in :func:`read_npy`)."""
    out: dict[str, Any] = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                if name.endswith(".npy"):
                    with archive.open(name) as member:
                        out[name[:-4]] = _npy_payload(io.BytesIO(member.read()), f"{path}: {name[:-4]}", expected)
    except (zipfile.BadZipFile, OSError) as exc:
        raise AnrError(f"{path}: not a readable .npz archive ({exc}), expected {expected}") from None
    return out
