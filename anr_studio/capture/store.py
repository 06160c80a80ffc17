"""`CaptureWriter`: writes a capture file (layout in ``schema``) frame by frame, never holding the video:
frames and masks go to disk as appended, only body parameters and cameras wait in memory for ``close``."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any, Iterator

import h5py
import numpy as np

from anr_studio.capture import schema as S
from anr_studio.capture.reader import as_uint8, image_dataset, new_h5
from anr_studio.errors import AnrError, expect_finite, expect_shape
from anr_studio.fileio import ensure_free_space, os_error_message

# Frames read back to estimate a background plate when none was given: enough for a robust
# per-pixel median, few enough to stay fast on long videos.
MEDIAN_SAMPLES = 64


def _as_float(value: Any, expected: tuple, field: str, source: str) -> np.ndarray:
    array = np.asarray(value, dtype=np.float32)
    expect_shape(array, expected, field, source)
    expect_finite(array, field, source)
    return array


class CaptureWriter:
    """Writes a capture file frame by frame (a context manager); the file appears at ``path`` only on a clean
    close, and on an exception or ``abort()`` an existing ``path`` is untouched (AnrError at once while another
    process writes it). ``camera``: static ``(K (3,3), R (3,3), t (3,))`` or None for cameras per frame
    (``append`` or ``set_cameras``); ``background`` None: the median of the frames; ``body_model``: "default"
    or the sha256 of an SMPL file; ``attrs``: see `set_attrs`."""

    def __init__(self, path: str | os.PathLike, identity: str, height: int, width: int, fps: float, *,
                 betas: Any = None, camera: tuple[Any, Any, Any] | None = None, background: Any = None,
                 body_model: str = "default", attrs: dict[str, Any] | None = None) -> None:
        self.path = Path(path)
        self._name = self.path.name
        self.height, self.width = int(height), int(width)
        if self.height <= 0 or self.width <= 0:
            raise AnrError(f"{self._name}: image size {height}x{width} is not positive, expected H, W >= 1")
        if not (np.isfinite(fps) and fps > 0):
            raise AnrError(f"{self._name}: fps is {fps}, expected a positive number")
        self._body: list[tuple[np.ndarray, np.ndarray]] = []  # per-frame (pose, transl)
        self._cams: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._bulk_body: tuple[np.ndarray, np.ndarray] | None = None
        self._bulk_cams: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._background = None if background is None else as_uint8(
            background, (self.height, self.width, 3), "background", self._name)
        self._datasets: dict[str, np.ndarray] = {}  # betas, split, keyframes and truth/, written by close()
        if betas is not None:
            self._datasets[S.BETAS] = _as_float(betas, (None,), "body/betas", self._name)
        self._attrs: dict[str, Any] = {}
        self._n = 0
        self._has_masks: bool | None = None
        self._closed = False
        if camera is not None:
            self.set_cameras(*camera)
        self._stack = contextlib.ExitStack()
        self._f = self._stack.enter_context(new_h5(self.path, self._name))
        with self._aborting((OSError,)):  # a full disk or a folder we may not write: nothing is left behind
            self._f.attrs.update(format=S.FORMAT, version=S.VERSION, identity=str(identity), fps=float(fps))
            self._f.create_group("body").attrs["model"] = str(body_model)
            self._frames = image_dataset(self._f, S.FRAMES, (self.height, self.width, 3))
            self._masks: h5py.Dataset | None = None
            self.set_attrs(**(attrs or {}))

    def append(self, frame: Any, mask: Any = None, *, pose: Any = None, transl: Any = None,
               camera: tuple[Any, Any, Any] | None = None) -> int:
        """Returns the index of the frame just written. ``frame (H,W,3)`` uint8, ``mask (H,W)``
        uint8 0..255 (all frames or none), ``pose (24,3)`` axis-angle, ``transl (3,)``,
        ``camera`` = (K (3,3), R (3,3), t (3,)) when the writer has no static camera."""
        self._check_open()
        with self._aborting((OSError, RuntimeError), any_error=False):  # a full disk: nothing half-written stays
            # HDF5 recovers badly from a full disk midway (its objects fail to close): check before each frame.
            ensure_free_space(self.path, 2 * self.height * self.width * 4)
            i = self._n
            frame = as_uint8(frame, (self.height, self.width, 3), f"frame {i}", self._name)
            if self._has_masks is None:
                self._has_masks = mask is not None
                if self._has_masks:
                    self._masks = image_dataset(self._f, S.MASKS, (self.height, self.width))
            if self._has_masks != (mask is not None):
                want = "a mask like the frames before it" if self._has_masks else "no mask, like the frames before it"
                raise AnrError(f"{self._name}: frame {i} has {'no ' if mask is None else ''}mask, expected {want}")
            if pose is not None or transl is not None:
                if self._bulk_body is not None:
                    raise AnrError(f"{self._name}: frame {i} has its own pose, but set_body() already gave all poses")
                self._body.append((_as_float(pose, (S.NUM_JOINTS, 3), f"body/pose[{i}]", self._name),
                                   _as_float(np.zeros(3) if transl is None else transl, (3,), f"body/transl[{i}]", self._name)))
            if camera is not None:
                if self._bulk_cams is not None:
                    raise AnrError(f"{self._name}: frame {i} has its own camera, but the capture's cameras are already set")
                self._cams.append(tuple(_as_float(a, S.CAMERA_SHAPES[key], f"{key}[{i}]", self._name)
                                        for a, key in zip(camera, S.CAMERA_SHAPES, strict=True)))
            if mask is not None:
                mask = as_uint8(mask, (self.height, self.width), f"mask {i}", self._name)
            for ds, image in ((self._frames, frame), (self._masks, mask)):
                if ds is not None:
                    ds.resize(i + 1, axis=0)
                    ds[i] = image
            self._n = i + 1
            return i

    def set_body(self, pose: Any, transl: Any, betas: Any = None) -> None:
        """Sets all body parameters at once: ``pose (N,24,3)``, ``transl (N,3)``, ``betas (K,)``."""
        self._check_open()
        if self._body:
            raise AnrError(f"{self._name}: set_body() after per-frame poses were given to append()")
        pose = _as_float(pose, ("N", S.NUM_JOINTS, 3), "body/pose", self._name)
        transl = _as_float(transl, (pose.shape[0], 3), "body/transl", self._name)
        self._bulk_body = (pose, transl)
        if betas is not None:
            self._datasets[S.BETAS] = _as_float(betas, (None,), "body/betas", self._name)

    def set_cameras(self, K: Any, R: Any, t: Any) -> None:
        """Sets the cameras: static ``K (3,3), R (3,3), t (3,)`` or per frame ``(N,3,3), (N,3,3), (N,3)``."""
        if self._cams:
            raise AnrError(f"{self._name}: set_cameras() after per-frame cameras were given to append()")
        lead = ("N",) if np.ndim(K) == 3 else ()  # frame counts are checked against the frames by validation
        self._bulk_cams = tuple(_as_float(a, lead + S.CAMERA_SHAPES[key], key, self._name)
                                for a, key in zip((K, R, t), S.CAMERA_SHAPES))

    def set_split(self, train: Any, test: Any) -> None:
        """Sets the frame indices ``train (n,)`` and ``test (m,)`` (disjoint)."""
        self._datasets.update({S.SPLIT_TRAIN: np.asarray(train, dtype=np.int64).reshape(-1),
                               S.SPLIT_TEST: np.asarray(test, dtype=np.int64).reshape(-1)})

    def set_keyframes(self, indices: Any, coverage: Any = None) -> None:
        """Sets the keyframe indices ``(k,)`` and optionally the cumulative coverage ``(k,)`` after each."""
        idx = self._datasets[S.KEYFRAMES] = np.asarray(indices, dtype=np.int64).reshape(-1)
        self._datasets.pop(S.KEYFRAME_COVERAGE, None)
        if coverage is not None:
            self._datasets[S.KEYFRAME_COVERAGE] = _as_float(coverage, (idx.shape[0],), S.KEYFRAME_COVERAGE, self._name)

    def set_truth(self, **arrays: Any) -> None:
        """Stores noise-free arrays under ``truth/`` (e.g. ``pose=(N,24,3)``, ``transl=(N,3)``, ``betas=(K,)``)."""
        for name, value in arrays.items():
            value = np.asarray(value)
            # float32 like the tracked parameters, so truth and tracking compare without casts
            self._datasets[f"{S.TRUTH}/{name}"] = value.astype(np.float32) if value.dtype.kind == "f" else value

    def set_attrs(self, **attrs: Any) -> None:
        """Adds extra file attributes; values that are not str/number/bool are stored as JSON text."""
        for key, value in attrs.items():
            if key in ("format", "version"):
                raise AnrError(f"{self._name}: attribute {key!r} is reserved, expected another name")
            if not isinstance(value, (str, int, float, bool, np.integer, np.floating)):
                value = json.dumps(value)
            self._attrs[key] = value

    @property
    def num_frames(self) -> int:
        """Returns the number of frames appended so far."""
        return self._n

    def close(self) -> None:
        """Writes the remaining fields, validates the file and renames it onto ``path``."""
        if self._closed:
            return
        with self._aborting((OSError, RuntimeError)):  # h5py reports a failed flush as RuntimeError
            self._finish()
            self._closed = True
            self._stack.close()  # flush, validate, fsync + rename

    def abort(self) -> None:
        """Discards everything written; ``path`` is left as it was."""
        if not self._closed:
            self._closed = True
            self._stack.__exit__(AnrError, AnrError("aborted"), None)

    def __enter__(self) -> "CaptureWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    @contextlib.contextmanager
    def _aborting(self, disk_errors: tuple, any_error: bool = True) -> Iterator[None]:
        """Aborts the writer when the block raises ``disk_errors`` (told as one AnrError sentence) or,
        with ``any_error``, anything else."""
        try:
            yield
        except disk_errors as exc:
            self.abort()
            raise AnrError(os_error_message(exc, self.path)) from None
        except BaseException:
            if any_error:
                self.abort()
            raise

    def _check_open(self) -> None:
        if self._closed:
            raise AnrError(f"{self._name}: the capture writer is closed, expected an open writer")

    def _finish(self) -> None:
        n, f, name = self._n, self._f, self._name
        ensure_free_space(self.path, n * (S.NUM_JOINTS * 3 + 3 + 21) * 4 + 3 * self.height * self.width)
        if n == 0:
            raise AnrError(f"{name}: no frames were written, expected at least one")
        if self._bulk_body is not None:
            pose, transl = self._bulk_body
        elif self._body:
            pose, transl = (np.stack(a) for a in zip(*self._body))
        else:
            raise AnrError(f"{name}: body/pose was never given, expected a pose per frame (append or set_body)")
        if pose.shape[0] != n:
            raise AnrError(f"{name}: body/pose has {pose.shape[0]} frames, expected {n}, one per frame written")
        if S.BETAS not in self._datasets:
            raise AnrError(f"{name}: body/betas was never given, expected shape coefficients (K,)")
        if self._bulk_cams is not None:
            K, R, t = self._bulk_cams
        elif self._cams:
            K, R, t = (np.stack(c) for c in zip(*self._cams))
        else:
            raise AnrError(f"{name}: camera was never given, expected a static camera or one per frame")
        background = self._background
        if background is None:  # the empty scene when the person moves around (one who never moves leaves a ghost)
            idx = np.unique(np.linspace(0, n - 1, min(n, MEDIAN_SAMPLES)).round().astype(np.int64))
            background = np.median(np.stack([self._frames[int(i)] for i in idx]), axis=0).round().astype(np.uint8)
        f.create_dataset(S.BACKGROUND, data=background, **S.IMAGE_COMPRESSION)
        datasets = {S.CAMERA_K: K, S.CAMERA_R: R, S.CAMERA_T: t, S.POSE: pose, S.TRANSL: transl, **self._datasets}
        for key, value in datasets.items():
            f.create_dataset(key, data=value)
        f.attrs.update(self._attrs)

