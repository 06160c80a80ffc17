"""Checks a capture file: that it is safe to read, then against the version-1 schema; one sentence per problem.

Safe to read (checked before any data is read): no external storage, external links or virtual datasets (data
from other files), every dataset's declared data stored in the file, only standard filters (no plugin is loaded).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from h5py import h5d

from anr_studio.capture import schema as S
from anr_studio.errors import AnrError, _shape_str

# Rotation matrices further than this from orthonormal are not rotations (float32 round-off
# of a real rotation stays far below it).
ORTHONORMAL_TOL = 1e-3
# truth/ holds per-frame body parameters (72 pose values, 3 translation values) and betas.
TRUTH_MAX_VALUES_PER_FRAME = 1000
# Filters any HDF5 build decodes without a plugin (deflate, shuffle, fletcher32, szip, nbit,
# scale-offset) plus h5py's built-in lzf.
ALLOWED_FILTERS = {1: "gzip", 2: "shuffle", 3: "fletcher32", 4: "szip", 5: "nbit", 6: "scaleoffset", 32000: "lzf"}
# A capture holds a few dozen objects; a file with thousands is not one (and walking it is slow).
MAX_OBJECTS = 1000
# Attributes are small text and numbers; one larger than this is not a capture's.
MAX_ATTR_BYTES = 1 << 20


def _attr_problems(obj: h5py.HLObject, where: str, name: str) -> list[str]:
    problems = []
    for key in list(obj.attrs.keys())[:MAX_OBJECTS]:
        try:
            size = obj.attrs.get_id(key).get_storage_size()
        except (OSError, RuntimeError, KeyError, ValueError):
            size = MAX_ATTR_BYTES + 1
        if size > MAX_ATTR_BYTES:
            problems.append(f"{name}: attribute {key!r} of {where} holds {size} bytes, expected at most {MAX_ATTR_BYTES}")
    return problems


def _dataset_problem(ds: h5py.Dataset, file_size: int, name: str) -> str | None:
    """Returns why ``ds``'s data cannot be trusted to lie complete inside this file, or None."""
    key = ds.name.lstrip("/")
    if ds.is_virtual:
        return f"{name}: {key} is a virtual dataset (its data lives in other files), expected data stored in this file"
    if ds.external:
        target = ds.external[0][0]
        target = target.decode(errors="replace") if isinstance(target, bytes) else str(target)
        return f"{name}: {key} uses external raw storage ({target!r}), expected data stored in this file"
    plist = ds.id.get_create_plist()
    for i in range(plist.get_nfilters()):
        code = int(plist.get_filter(i)[0])
        if code not in ALLOWED_FILTERS:
            return f"{name}: {key} is encoded with HDF5 filter {code}, expected one of {', '.join(sorted(set(ALLOWED_FILTERS.values())))}"
    if ds.size == 0:
        return None
    layout = plist.get_layout()
    if layout == h5d.CHUNKED:
        total = math.prod(math.ceil(s / c) for s, c in zip(ds.shape, ds.chunks))
        stored = int(ds.id.get_num_chunks())
        if stored < total:
            return (f"{name}: {key} declares shape {tuple(ds.shape)} but stores only {stored} of its {total} chunks "
                    "(truncated or forged), expected every part of the data written")
    elif layout == h5d.CONTIGUOUS:
        size, offset = int(ds.id.get_storage_size()), ds.id.get_offset()
        if offset is None or size < ds.size * ds.dtype.itemsize or offset + size > file_size:
            return (f"{name}: {key} declares shape {tuple(ds.shape)} ({ds.size * ds.dtype.itemsize} bytes) but the file "
                    f"holds {size} of them (truncated or forged), expected the data in the file")
    return None


def _unsafe_problems(f: h5py.File, path: str | os.PathLike, name: str) -> list[str]:
    """Returns the problems of the open file ``f`` (at ``path``) in its links, datasets' storage and attribute sizes."""
    file_size = os.path.getsize(path)
    links: list[str] = []

    def collect(key: str) -> bool | None:
        links.append(key)
        return True if len(links) > MAX_OBJECTS else None  # a true value ends the walk

    f.visit_links(collect)
    if len(links) > MAX_OBJECTS:
        return [f"{name}: holds more than {MAX_OBJECTS} objects, expected an ANR capture's few dozen"]
    problems = _attr_problems(f, "the file", name)
    for key in links:
        link = f.get(key, getlink=True)
        if isinstance(link, h5py.ExternalLink):
            problems.append(f"{name}: {key} is an external link to {link.filename!r}, expected data stored in this file")
        elif isinstance(link, h5py.SoftLink):
            problems.append(f"{name}: {key} is a soft link to {link.path!r}, expected a plain dataset or group")
        elif (obj := f.get(key)) is not None:
            problem = _dataset_problem(obj, file_size, name) if isinstance(obj, h5py.Dataset) else None
            problems += ([problem] if problem else []) + _attr_problems(obj, key, name)
    return problems


def attr_value(value: Any) -> Any:
    """Returns an HDF5 attribute's bytes as text and numpy scalars as Python values (for messages)."""
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return value.item() if isinstance(value, np.generic) else value


class _Checker:
    def __init__(self, f: h5py.File, name: str) -> None:
        self.f, self.name, self.problems = f, name, []

    def add(self, msg: str) -> None:
        self.problems.append(f"{self.name}: {msg}")

    def dataset(self, key: str, required: bool = True) -> h5py.Dataset | None:
        obj = self.f.get(key)
        if obj is None:
            if required:
                self.add(f"dataset {key} is missing, expected it in every capture")
            return None
        if not isinstance(obj, h5py.Dataset):
            self.add(f"{key} is a group, expected a dataset")
            return None
        return obj

    def shaped(self, ds: h5py.Dataset, expected: tuple, kind: str) -> bool:
        """Returns True when ``ds`` has the expected shape (a name such as "N" = any size) and dtype kind."""
        ok = len(ds.shape) == len(expected) and all(isinstance(e, str) or g == e for g, e in zip(ds.shape, expected))
        if not ok:
            self.add(f"{ds.name.lstrip('/')} has shape {_shape_str(ds.shape)}, expected {_shape_str(expected)}")
            return False
        dtype_ok = {"uint8": ds.dtype == np.uint8, "float32": ds.dtype == np.float32, "int": ds.dtype.kind in "iu"}
        if not dtype_ok[kind]:
            self.add(f"{ds.name.lstrip('/')} has dtype {ds.dtype}, expected {'integer frame indices' if kind == 'int' else kind}")
            return False
        return True

    def finite(self, ds: h5py.Dataset, bound: float | None = None, unit: str = "") -> np.ndarray | None:
        """Returns the data of ``ds`` when finite (and within ``±bound``), else None after adding the problem."""
        data = np.atleast_1d(ds[()])
        if not np.all(np.isfinite(data)):
            first = int(np.argwhere(~np.isfinite(data))[0][0])
            return self.add(f"{ds.name.lstrip('/')} contains NaN or Inf (first at index {first}), expected finite numbers")
        if bound is not None and data.size and float(np.abs(data).max()) > bound:
            bad = tuple(np.argwhere(np.abs(data) > bound)[0])
            return self.add(f"{ds.name.lstrip('/')} holds {float(data[bad]):.3g} (index {bad[0]}), "
                            f"expected values within ±{bound:g}{unit}")
        return data

    def group(self, key: str) -> bool:
        """Returns True when ``key`` is absent or a group; adds a problem when it is a dataset."""
        obj = self.f.get(key)
        if obj is not None and not isinstance(obj, h5py.Group):
            self.add(f"{key} is a dataset, expected a group")
            return False
        return True


def validate(path: str | os.PathLike, *, name: str | None = None) -> list[str]:
    """Returns the problems of the capture at ``path`` (empty when valid), one sentence each naming ``name`` (default:
    the path)."""
    name = str(path) if name is None else name
    path = Path(path)
    if not path.is_file():
        return [f"{name}: {'is a folder' if path.is_dir() else 'file does not exist'}, expected an ANR capture (.h5)"]
    try:
        f = h5py.File(path, "r")
    except OSError:
        return [f"{name}: not a readable HDF5 file (truncated or another format), expected an ANR capture (.h5)"]
    try:
        with f:
            unsafe = _unsafe_problems(f, path, name)
            if unsafe:  # read nothing more from a file that reaches outside itself or is forged
                return unsafe
            c = _Checker(f, name)
            _check(c)
            return c.problems
    except (OSError, RuntimeError, KeyError, ValueError, TypeError, UnicodeError) as exc:
        # h5py raises these when a truncated file's metadata opens but its data does not.
        return [f"{name}: cannot read its data ({type(exc).__name__}: {exc}), expected a complete HDF5 file (truncated?)"]


def require_valid(path: str | os.PathLike, name: str) -> None:
    """Raises AnrError with the first problem `validate` finds in the capture at ``path``."""
    problems = validate(path, name=name)
    if problems:
        raise AnrError(problems[0])


def _text_problem(value: object, field: str, max_len: int) -> str | None:
    """Returns why an attribute ``value`` is not printable UTF-8 text of at most ``max_len`` characters, or None."""
    try:
        value = value.decode("utf-8") if isinstance(value, bytes) else value
        if isinstance(value, str):
            value.encode("utf-8")  # lone surrogates are not UTF-8
    except UnicodeError:
        return f"attribute {field} is not valid UTF-8, expected text"
    if not isinstance(value, str):
        return f"attribute {field} is {type(value).__name__}, expected a string"
    if not value.strip() or len(value) > max_len:
        return f"attribute {field} has {len(value)} characters, expected 1 to {max_len}"
    if not value.isprintable():
        return f"attribute {field} holds control characters ({value!r}), expected printable text"
    return None


def _check(c: _Checker) -> None:
    attrs = c.f.attrs
    fmt = attr_value(attrs.get("format"))
    if fmt != S.FORMAT:
        c.add(f"attribute format is {fmt!r}, expected {S.FORMAT!r}")
        return  # not a capture: listing every missing dataset would bury the one useful line
    version = attr_value(attrs.get("version"))
    if not isinstance(version, int) or isinstance(version, bool):
        c.add(f"attribute version is {version!r}, expected the integer {S.VERSION}")
    elif version != S.VERSION:
        newer = " (written by a newer ANR Studio)" if version > S.VERSION else ""
        c.add(f"attribute version is {int(version)}, expected {S.VERSION}{newer}")
    identity = attrs.get("identity")
    problem = ("attribute identity is missing, expected a string naming the person" if identity is None
               else _text_problem(identity, "identity", S.MAX_NAME_LENGTH))
    if problem:
        c.add(problem)
    fps = attr_value(attrs.get("fps"))
    try:
        fps_ok = fps is not None and np.isfinite(float(fps)) and 0 < float(fps) <= S.MAX_FPS
    except (TypeError, ValueError):
        fps_ok = False
    if not fps_ok:
        c.add(f"attribute fps is {fps!r}, expected a positive number up to {S.MAX_FPS:g}")
    if not all(c.group(key) for key in ("camera", "body", "split", S.TRUTH)):
        return
    body = c.f.get("body")
    if body is not None:
        model = body.attrs.get("model")
        if not isinstance(model, (str, bytes)):
            c.add('body attribute model is missing, expected "default" or the sha256 of an SMPL file')
        elif _text_problem(model, "body/model", 64):
            c.add('body attribute model is not "default" or a sha256, expected one of them')

    frames = c.dataset(S.FRAMES)
    n = h = w = None
    if frames is not None and c.shaped(frames, ("N", "H", "W", 3), "uint8"):
        n, h, w = (int(s) for s in frames.shape[:3])
        if n > S.MAX_FRAMES:  # beyond the supported sizes: nothing more is read
            return c.add(f"frames declares {n} frames, expected at most {S.MAX_FRAMES}")
        if max(h, w) > S.MAX_IMAGE_SIDE:
            return c.add(f"frames are {w}x{h} pixels, expected at most {S.MAX_IMAGE_SIDE} on each side")
        if n == 0:
            c.add("frames holds 0 frames, expected at least one")
    masks = c.dataset(S.MASKS, required=False)
    if masks is not None and n is not None:
        c.shaped(masks, (n, h, w), "uint8")
    bg = c.dataset(S.BACKGROUND)
    if bg is not None and n is not None:
        c.shaped(bg, (h, w, 3), "uint8")

    for key, tail in S.CAMERA_SHAPES.items():
        ds = c.dataset(key)
        if ds is None or n is None:
            continue
        shape = (n,) + tail if len(ds.shape) == len(tail) + 1 else tail
        ok = c.shaped(ds, shape, "float32")
        data = c.finite(ds, S.MAX_ABS_METRES if key == S.CAMERA_T else None, " m") if ok else None
        if data is not None and key == S.CAMERA_K:
            _check_intrinsics(c, data.reshape(-1, 3, 3), h, w)
        if data is not None and key == S.CAMERA_R:
            R = data.reshape(-1, 3, 3).astype(np.float64)
            err = np.abs(R @ R.transpose(0, 2, 1) - np.eye(3)).max(axis=(1, 2))
            if np.any(err > ORTHONORMAL_TOL):
                c.add(f"camera/R[{int(np.argmax(err > ORTHONORMAL_TOL))}] is not a rotation (R R^T differs from I by "
                      f"{float(err.max()):.3g}), expected an orthonormal world-to-camera rotation")

    for key, shape, bound, unit in ((S.POSE, (n, S.NUM_JOINTS, 3), S.MAX_ABS_ANGLE, " rad"),
                                    (S.TRANSL, (n, 3), S.MAX_ABS_METRES, " m")):
        ds = c.dataset(key)
        if ds is not None and n is not None and c.shaped(ds, shape, "float32"):
            c.finite(ds, bound, unit)
    betas = c.dataset(S.BETAS)
    if betas is not None and c.shaped(betas, ("K",), "float32"):
        if betas.shape[0] > S.MAX_BETAS:
            c.add(f"body/betas holds {betas.shape[0]} coefficients, expected at most {S.MAX_BETAS}")
        else:
            c.finite(betas, S.MAX_ABS_BETA)

    if n is not None:
        _check_indices(c, n)
        _check_truth(c, n)


def _check_intrinsics(c: _Checker, K: np.ndarray, h: int, w: int) -> None:
    """Adds a problem when an intrinsics matrix ``K (M,3,3)`` cannot be a pinhole camera's."""
    focal = K[:, [0, 1], [0, 1]]
    bad_focal = np.flatnonzero((focal <= 0).any(axis=1) | (focal > 1000 * max(h, w)).any(axis=1))
    if bad_focal.size:
        i = int(bad_focal[0])
        c.add(f"camera/K[{i}] has focal lengths {focal[i, 0]:.3g}, {focal[i, 1]:.3g}, expected positive pixel focal lengths "
              f"up to {1000 * max(h, w)}")
        return
    bad_row = np.flatnonzero(np.abs(K[:, 2] - np.array([0, 0, 1], np.float32)).max(axis=1) > 1e-6)
    if bad_row.size:
        c.add(f"camera/K[{int(bad_row[0])}] has last row {K[int(bad_row[0]), 2].tolist()}, expected [0, 0, 1]")


def _indices(c: _Checker, key: str, n: int) -> np.ndarray | None:
    ds = c.dataset(key, required=False)
    if ds is None or not c.shaped(ds, ("k",), "int"):
        return None
    if ds.shape[0] > n:
        c.add(f"{key} holds {ds.shape[0]} indices, expected at most one per frame ({n})")
        return None
    idx = ds[()].astype(np.int64)
    bad = idx[(idx < 0) | (idx >= n)]
    if bad.size:
        c.add(f"{key} holds index {int(bad[0])}, expected frame indices in [0, {n})")
        return None
    return idx


def _check_indices(c: _Checker, n: int) -> None:
    has_train, has_test = S.SPLIT_TRAIN in c.f, S.SPLIT_TEST in c.f
    if has_train != has_test:
        c.add(f"{S.SPLIT_TEST if has_train else S.SPLIT_TRAIN} is missing, expected split/train and split/test together")
    train, test = _indices(c, S.SPLIT_TRAIN, n), _indices(c, S.SPLIT_TEST, n)
    if train is not None and test is not None:
        both = np.intersect1d(train, test)
        if both.size:
            c.add(f"split/train and split/test share frame {int(both[0])}, expected disjoint index sets")
    keys = _indices(c, S.KEYFRAMES, n)
    if keys is not None and np.unique(keys).size != keys.size:
        c.add("keyframes holds repeated frame indices, expected each keyframe once")
    elif keys is not None and test is not None and np.intersect1d(keys, test).size:
        c.add(f"keyframes holds test frame {int(np.intersect1d(keys, test)[0])}, expected training frames only")
    cov = c.dataset(S.KEYFRAME_COVERAGE, required=False)
    if cov is not None:
        if keys is None:
            c.add("keyframe_coverage is present without keyframes, expected both or neither")
        elif c.shaped(cov, (keys.size,), "float32"):
            c.finite(cov)


def _check_truth(c: _Checker, n: int) -> None:
    truth = c.f.get(S.TRUTH)
    if truth is None:
        return
    expected: dict[str, tuple[Any, ...]] = {"pose": (n, S.NUM_JOINTS, 3), "transl": (n, 3)}
    for key in truth:
        ds = truth[key]
        if not isinstance(ds, h5py.Dataset):
            c.add(f"{S.TRUTH}/{key} is a group, expected a dataset")
        elif ds.dtype.kind not in "biuf":
            c.add(f"{S.TRUTH}/{key} has dtype {ds.dtype}, expected numbers")
        elif ds.size > TRUTH_MAX_VALUES_PER_FRAME * n:
            c.add(f"{S.TRUTH}/{key} holds {ds.size} values, expected at most {TRUTH_MAX_VALUES_PER_FRAME} per frame")
        elif key in expected and c.shaped(ds, expected[key], "float32"):
            c.finite(ds)
