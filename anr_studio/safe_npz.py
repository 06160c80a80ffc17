"""NumPy .npz / .npy files read without trusting them: each ``.npy`` header (format 1.0/2.0) is checked
first, so object, string and structured dtypes (pickles) and shapes beyond the limit or the bytes held
are refused before anything is allocated; any damage is an AnrError naming the file and the array.
A reader given ``objects`` (a restricted unpickler, `capture.formats.safe_pickle`) takes any fixed-size
dtype, and object arrays are what ``objects(pickled bytes, label)`` returns.
"""

from __future__ import annotations

import math
import os
import struct
import tokenize
import zipfile
import zlib
from pathlib import Path
from typing import Any, Callable

import numpy as np

from anr_studio.errors import AnrError, shown

MAX_FILE_BYTES = 2 * 2**30
MAX_MEMBERS = 1024
MAX_ARRAY_BYTES = 512 * 2**20
_SLACK_BYTES = 4096
_NUMBER_KINDS = "biuf"  # bool, signed, unsigned, float
Objects = Callable[[bytes, str], Any]
# What a damaged zip or .npy stream raises inside zipfile, zlib and numpy.lib.format.
_DAMAGE = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, ValueError, SyntaxError, OverflowError,
           struct.error, NotImplementedError, RuntimeError, OSError, tokenize.TokenError)


def _reason(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return "".join(c if c.isprintable() else "?" for c in text)[:120]


class NpzArchive:
    """An open .npz archive (a context manager). ``keys``: the array names it holds."""

    def __init__(self, path: str | os.PathLike, expected: str = "NumPy arrays", objects: Objects | None = None) -> None:
        self.path = Path(path)
        self.label = shown(self.path.name, 80)
        self.expected, self.objects = expected, objects
        try:
            size = self.path.stat().st_size
        except OSError as exc:
            raise AnrError(f"{self.label}: cannot read it ({exc.strerror or exc}), expected a .npz file of {expected}") from None
        if size > MAX_FILE_BYTES:
            raise AnrError(f"{self.label}: the file is {size / 2**30:.1f} GB, expected a .npz file of {expected} "
                           f"of at most {MAX_FILE_BYTES // 2**30} GB")
        try:
            self._zip = zipfile.ZipFile(self.path)
            infos = self._zip.infolist()
        except _DAMAGE as exc:
            raise AnrError(f"{self.label}: cannot read it as a NumPy .npz archive ({_reason(exc)}), expected {expected}") from None
        if len(infos) > MAX_MEMBERS:
            self.close()
            raise AnrError(f"{self.label}: the archive holds {len(infos)} files, expected at most {MAX_MEMBERS} arrays")
        self._members = {(i.filename[:-4] if i.filename.endswith(".npy") else i.filename): i for i in infos}

    @property
    def keys(self) -> list[str]:
        return sorted(self._members)

    def __contains__(self, key: str) -> bool:
        return key in self._members

    def close(self) -> None:
        self._zip.close()

    def __enter__(self) -> "NpzArchive":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def array(self, key: str) -> Any:
        """Returns the array ``key`` after checking its header: numbers only (see ``objects``), a sane size, no pickles."""
        info = self._members[key]
        what = f"{self.label}: array {key!r}"
        try:
            return _read_array(lambda: self._zip.open(info), info.file_size, what, what, self.objects)
        except _DAMAGE as exc:
            raise AnrError(f"{what} is damaged ({_reason(exc)}), expected {self.expected}") from None


def _read_array(open_stream: Callable[[], Any], size: int, what: str, label: str, objects: Objects | None) -> Any:
    """Returns the array of the ``size``-byte .npy stream that ``open_stream()`` opens (twice: headers first), after
    checking its header: numbers only, or what ``objects(pickled bytes, label)`` returns for an object array."""
    with open_stream() as f:
        version = np.lib.format.read_magic(f)
        if version not in ((1, 0), (2, 0)):
            raise AnrError(f"{what} is in .npy format {version[0]}.{version[1]}, expected 1.0 or 2.0")
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read(f)
        shape, header_bytes = tuple(int(s) for s in shape), f.tell()
        if dtype.hasobject and objects is not None:
            return objects(f.read(), label)
    _check_header(what, shape, dtype, size - header_bytes, numbers=objects is None)
    with open_stream() as f:
        value = np.lib.format.read_array(f, allow_pickle=False)
        f.read()  # to the end of a zip member: its CRC is checked there
    if value.shape != shape:
        raise AnrError(f"{what} holds shape {value.shape}, expected the declared {shape}")
    return value


def _check_header(what: str, shape: tuple[int, ...], dtype: np.dtype, held: int, numbers: bool = True) -> None:
    """Raises AnrError naming ``what`` unless a .npy header declares an array of a sane size that ``held`` bytes hold
    (of numbers, with ``numbers``)."""
    if dtype.hasobject or (numbers and (dtype.fields is not None or dtype.subdtype is not None
                                        or dtype.kind not in _NUMBER_KINDS)):
        why = " (object arrays would need unpickling, which is never done)" if dtype.hasobject else ""
        raise AnrError(f"{what} has dtype {dtype}, expected numbers{why}")
    if any(s < 0 for s in shape):
        raise AnrError(f"{what} declares shape {shape}, expected sizes of at least 0")
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes > MAX_ARRAY_BYTES:
        raise AnrError(f"{what} declares shape {shape} ({nbytes:,} bytes), expected at most "
                       f"{MAX_ARRAY_BYTES // 2**20} MB")
    if nbytes > held:
        raise AnrError(f"{what} declares shape {shape} ({nbytes:,} bytes) but holds "
                       f"{max(held, 0):,} bytes, expected the whole array")
    if held - nbytes > _SLACK_BYTES:  # nothing but the array is read, so no archive can inflate beyond it
        raise AnrError(f"{what} holds {held - nbytes:,} bytes beyond its shape {shape}, "
                       "expected only the array")


def load_npy(path: str | os.PathLike, expected: str = "a NumPy array", objects: Objects | None = None) -> Any:
    """Returns the array in a .npy file after checking its header: numbers only (see ``objects``), a sane size,
    no pickles."""
    path = Path(path)
    label = shown(path.name, 80)
    try:
        return _read_array(lambda: open(path, "rb"), path.stat().st_size, f"{label}: the array", label, objects)
    except FileNotFoundError:
        raise AnrError(f"{label}: file not found, expected a .npy file of {expected}") from None
    except OSError as exc:
        raise AnrError(f"{label}: cannot read it ({exc.strerror or _reason(exc)}), expected a .npy file of {expected}") from None
    except _DAMAGE as exc:
        raise AnrError(f"{label}: cannot read it as a NumPy .npy file ({_reason(exc)}), expected {expected}") from None
