"""`Capture`: random access to a capture file, safe in DataLoader worker processes.

HDF5 handles must not cross ``fork``, so the small arrays are read at construction with a handle closed
at once, and frames/masks through a handle opened lazily in each process (keyed by pid), dropped when pickled.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path
from typing import Any, Iterable, Iterator

import h5py
import numpy as np

from anr_studio.capture import schema as S
from anr_studio.capture.validate import attr_value, require_valid
from anr_studio.errors import AnrError, expect_shape
from anr_studio.fileio import atomic_path, ensure_free_space, writing_lock


@contextlib.contextmanager
def new_h5(path: Path, name: str) -> Iterator[h5py.File]:
    """Yields a new HDF5 file that replaces ``path`` when the block ends cleanly and validation finds no problem
    (naming ``name``), else is discarded; AnrError at once while another process writes ``path``."""
    with writing_lock(path, "capture"), atomic_path(path) as tmp:  # the lock is held past the rename
        # No chunk cache: each chunk is written when filled, so a full disk fails that write, not the close.
        f = h5py.File(tmp, "w", rdcc_nbytes=0)
        try:
            yield f
            f.flush()  # a full disk fails here, while the file can still be discarded cleanly
            f.close()
        except BaseException:
            with contextlib.suppress(OSError):  # emptied first: a full disk gets its space back for the close
                os.truncate(tmp, 0)
            with contextlib.suppress(Exception):
                f.close()
            raise
        require_valid(tmp, name)


def as_uint8(value: Any, expected: tuple, field: str, source: str) -> np.ndarray:
    """Returns ``value`` as a uint8 array of shape ``expected``; AnrError naming ``source`` and ``field`` otherwise."""
    array = np.asarray(value)
    expect_shape(array, expected, field, source)
    if array.dtype != np.uint8:
        raise AnrError(f"{source}: {field} has dtype {array.dtype}, expected uint8 (0..255)")
    return array


def image_dataset(f: h5py.File, key: str, shape: tuple[int, ...], n: int = 0) -> h5py.Dataset:
    """Returns a new uint8 dataset ``key`` of ``n`` images of ``shape`` (resizable when ``n`` is 0), one per chunk."""
    return f.create_dataset(key, shape=(n, *shape), maxshape=(None if n == 0 else n, *shape), dtype=np.uint8,
                            chunks=(1, *shape), **S.IMAGE_COMPRESSION)


_REWRITE_LOCKS: dict[str, threading.RLock] = {}
_REWRITE_LOCKS_GUARD = threading.Lock()


def _rewrite_lock(path: Path) -> threading.RLock:
    """Returns the lock that serialises rewrites of the file at ``path`` within this process (two overlapping
    copy-and-rename rewrites would each drop the other's change); other processes are kept out by `writing_lock`."""
    key = os.path.realpath(path)
    with _REWRITE_LOCKS_GUARD:
        return _REWRITE_LOCKS.setdefault(key, threading.RLock())


class Capture:
    """Returns frames, masks, cameras and body parameters of one capture file by frame index (AnrError with
    the first problem ``validate`` finds); frames and masks are read from disk on demand."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._file: h5py.File | None = None
        self._pid: int | None = None  # the process that opened _file
        require_valid(self.path, str(path))
        self._load_metadata()

    def _load_metadata(self) -> None:
        try:
            with h5py.File(self.path, "r") as f:
                self.attrs: dict[str, Any] = {k: attr_value(v) for k, v in f.attrs.items()}
                self.identity: str = str(self.attrs["identity"])
                self.fps: float = float(self.attrs["fps"])
                self.body_model_id: str = str(attr_value(f["body"].attrs.get("model", "default")))
                n, h, w, _ = f[S.FRAMES].shape
                self._n = int(n)
                self.image_size: tuple[int, int] = (int(h), int(w))
                self.has_masks: bool = S.MASKS in f
                self.poses: np.ndarray = f[S.POSE][()]  # (N,24,3)
                self.transls: np.ndarray = f[S.TRANSL][()]  # (N,3)
                self.betas: np.ndarray = f[S.BETAS][()]  # (K,)
                K, R, t = (f[k][()] for k in (S.CAMERA_K, S.CAMERA_R, S.CAMERA_T))
                self.static_camera: bool = K.ndim == 2 and R.ndim == 2 and t.ndim == 1  # all frames share one camera
                # per frame (N,3,3), (N,3,3), (N,3); a static camera as read-only broadcast views
                self._K, self._R, self._t = (np.broadcast_to(a, (n, *S.CAMERA_SHAPES[k]))
                                             for a, k in ((K, S.CAMERA_K), (R, S.CAMERA_R), (t, S.CAMERA_T)))
                self._split = {
                    "train": f[S.SPLIT_TRAIN][()].astype(np.int64) if S.SPLIT_TRAIN in f else np.arange(self._n),
                    "test": f[S.SPLIT_TEST][()].astype(np.int64) if S.SPLIT_TEST in f else np.zeros(0, np.int64),
                }
                self.keyframes: np.ndarray | None = f[S.KEYFRAMES][()].astype(np.int64) if S.KEYFRAMES in f else None
                self.keyframe_coverage: np.ndarray | None = f[S.KEYFRAME_COVERAGE][()] if S.KEYFRAME_COVERAGE in f else None
                self._truth = {k: v[()] for k, v in f[S.TRUTH].items()} if S.TRUTH in f else {}
                self._background: np.ndarray | None = None
        except (OSError, RuntimeError, KeyError, ValueError, TypeError) as exc:  # damage validation did not reach
            raise AnrError(f"{self.path}: cannot read its metadata ({type(exc).__name__}: {str(exc).splitlines()[0][:120]}), "
                           "expected an intact capture (the file is damaged)") from None

    def _h5(self) -> h5py.File:
        pid = os.getpid()
        if self._file is None or self._pid != pid:
            # A handle inherited through fork belongs to the parent: forget it, never close it here.
            self._file = h5py.File(self.path, "r")
            self._pid = pid
        return self._file

    def close(self) -> None:
        """Closes this process's file handle (it reopens on the next read)."""
        if self._file is not None and self._pid == os.getpid():
            self._file.close()
        self._file, self._pid = None, None

    def __enter__(self) -> "Capture":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_file"], state["_pid"] = None, None
        return state

    def __len__(self) -> int:
        return self._n

    def _index(self, i: int) -> int:
        i = int(i)
        if not -self._n <= i < self._n:
            raise IndexError(f"{self.path.name}: frame {i} is out of range, expected 0 <= i < {self._n}")
        return i % self._n

    def _read(self, key: str, i: int | None) -> np.ndarray:
        """Returns ``key[i]`` (or all of ``key``); AnrError when its stored data cannot be decoded."""
        try:
            ds = self._h5()[key]
            return ds[()] if i is None else ds[i]
        except (OSError, RuntimeError, ValueError, KeyError) as exc:
            where = key if i is None else f"{key}[{i}]"
            raise AnrError(f"{self.path}: {where} cannot be read ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}), "
                           "expected intact data (the file is damaged)") from None

    def frame(self, i: int) -> np.ndarray:
        """Returns frame ``i`` as ``(H,W,3)`` uint8 RGB."""
        return self._read(S.FRAMES, self._index(i))

    def mask(self, i: int) -> np.ndarray | None:
        """Returns the soft foreground mask ``(H,W)`` uint8 0..255 of frame ``i``, or None without masks."""
        return self._read(S.MASKS, self._index(i)) if self.has_masks else None

    @property
    def background(self) -> np.ndarray:
        """Returns the clean background plate ``(H,W,3)`` uint8 (cached)."""
        if self._background is None:
            self._background = self._read(S.BACKGROUND, None)
        return self._background

    def camera(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Returns ``(K (3,3), R (3,3), t (3,))`` float32 of frame ``i`` (OpenCV, world to camera)."""
        i = self._index(i)
        return self._K[i].copy(), self._R[i].copy(), self._t[i].copy()

    def cameras(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Returns all cameras ``K (N,3,3), R (N,3,3), t (N,3)`` float32 (static ones repeated)."""
        return np.array(self._K), np.array(self._R), np.array(self._t)

    def pose(self, i: int) -> np.ndarray:
        """Returns the tracked SMPL-order axis-angle pose ``(24,3)`` float32 of frame ``i``."""
        return self.poses[self._index(i)].copy()

    def transl(self, i: int) -> np.ndarray:
        """Returns the tracked root translation ``(3,)`` float32 of frame ``i``."""
        return self.transls[self._index(i)].copy()

    def split(self, name: str) -> np.ndarray:
        """Returns the frame indices ``(n,)`` int64 of ``"train"`` or ``"test"`` (without a stored split: all
        frames train)."""
        if name not in self._split:
            raise AnrError(f"{self.path.name}: split {name!r} is unknown, expected 'train' or 'test'")
        return self._split[name].copy()

    @property
    def has_split(self) -> bool:
        """Returns True when the file stores split/train and split/test."""
        return bool(self._split["test"].size) or len(self._split["train"]) != self._n

    def truth(self, name: str) -> np.ndarray | None:
        """Returns the noise-free array ``truth/<name>`` of a synthetic capture, or None."""
        value = self._truth.get(name)
        return None if value is None else value.copy()

    @property
    def truth_names(self) -> list[str]:
        """Returns the names stored under ``truth/``."""
        return sorted(self._truth)

    @contextlib.contextmanager
    def _rewrite(self, replace: set[str], extra_bytes: int = 0) -> Iterator[h5py.File]:
        """Yields a copy of the capture without its top-level ``replace`` members, which then replaces it (HDF5 has
        no transactions and never gives deleted space back). ``extra_bytes``: about how much the caller adds, for
        the space check before HDF5 writes anything. AnrError at once while another process writes the capture."""
        with _rewrite_lock(self.path):
            self.close()
            ensure_free_space(self.path, int((self.path.stat().st_size + int(extra_bytes)) * 1.05))
            with new_h5(self.path, self.path.name) as dst:
                with h5py.File(self.path, "r") as src:
                    dst.attrs.update(src.attrs.items())
                    for key in src:
                        if key not in replace:
                            src.copy(src[key], dst, name=key)
                yield dst
            self.close()  # a handle opened while writing points at the replaced file
            self._load_metadata()

    def write_keyframes(self, indices: Any, coverage: Any = None) -> None:
        """Stores keyframe indices ``(k,)`` and their cumulative coverage ``(k,)`` (atomic rewrite)."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        with self._rewrite({S.KEYFRAMES, S.KEYFRAME_COVERAGE}) as f:
            f.create_dataset(S.KEYFRAMES, data=idx)
            if coverage is not None:
                cov = np.asarray(coverage, dtype=np.float32).reshape(-1)
                expect_shape(cov, (idx.size,), S.KEYFRAME_COVERAGE, self.path.name)
                f.create_dataset(S.KEYFRAME_COVERAGE, data=cov)

    def write_masks(self, masks: Iterable[Any], *, overwrite: bool = False) -> None:
        """Stores one soft mask ``(H,W)`` uint8 per frame, streamed in frame order (atomic rewrite); AnrError when
        masks exist and ``overwrite`` is False, or the count is not ``len(self)``."""
        if self.has_masks and not overwrite:
            raise AnrError(f"{self.path.name}: masks already exist, expected --overwrite to replace them")
        h, w = self.image_size
        # compressed soft masks take about a quarter of their raw size (an estimate for the space check)
        with self._rewrite({S.MASKS}, extra_bytes=self._n * h * w // 4) as f:
            ds = image_dataset(f, S.MASKS, (h, w), self._n)
            count = 0
            for i, mask in enumerate(masks):
                if i >= self._n:
                    raise AnrError(f"{self.path.name}: more masks than frames, expected {self._n}")
                ensure_free_space(self.path, 2 * h * w)  # HDF5 must not meet a full disk midway
                ds[i] = as_uint8(mask, (h, w), f"mask {i}", self.path.name)
                count = i + 1
            if count != self._n:
                raise AnrError(f"{self.path.name}: {count} masks were given, expected {self._n} (one per frame)")

    def __repr__(self) -> str:
        h, w = self.image_size
        return f"Capture({str(self.path)!r}, identity={self.identity!r}, frames={self._n}, size={h}x{w})"
