"""What every format reader shares (fields, cameras, people, frames and masks), so each refuses a damaged
file the same way: one sentence naming the file, the field and what was expected."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import cv2
import numpy as np

from anr_studio.capture.images import VIDEO_EXTS, list_images, person_mask, read_image, video_frames, video_info
from anr_studio.capture.smpl_convert import axis_angle_to_rotations, rotations_to_axis_angle
from anr_studio.errors import AnrError, _shape_str


PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib", ".pth")


def result_pickle(poses: Path | None, probe: Any) -> Any:
    """Returns the object in the pickle file ``poses`` (read once by ``probe``), or None when it is not one."""
    if poses is None or not poses.is_file() or poses.suffix.lower() not in PICKLE_SUFFIXES:
        return None
    return probe.pickle(poses)


def tool_pickle(src: Path, poses: Path | None, probe: Any, tool: str, example: str) -> tuple[str, Any]:
    """Returns (label, object) of the result pickle ``poses`` of ``tool``; AnrError naming ``example`` without one."""
    if poses is None:
        raise AnrError(f"{src}: {tool} results need their file, expected --poses {example}")
    return str(poses), probe.pickle(poses)


# -- fields ---------------------------------------------------------------------------------
def require(data: Any, key: str, label: str, expected: str) -> Any:
    """Returns ``data[key]``; AnrError naming ``label``, the key and ``expected`` when it is missing."""
    mapping = hasattr(data, "keys") and hasattr(data, "__getitem__")
    if not mapping or key not in data:
        keys = ", ".join(sorted(map(str, data.keys()))) if mapping else f"a {type(data).__name__}"
        raise AnrError(f"{label}: has no {key} (found {keys or 'nothing'}), expected {expected}")
    return data[key]


def numbers(value: Any, label: str, field: str, shape: tuple | None = None) -> np.ndarray:
    """Returns ``value`` as finite float64 of ``shape`` (-1 = any length there; None = any shape)."""
    want = None if shape is None else _shape_str(["N" if s == -1 else s for s in shape])
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise AnrError(f"{label}: {field} is not numeric, expected numbers{f' of shape {want}' if want else ''}") from None
    if want and (array.ndim != len(shape) or any(w not in (-1, s) for w, s in zip(shape, array.shape))):
        raise AnrError(f"{label}: {field} has shape {array.shape}, expected {want}")
    if not np.all(np.isfinite(array)):
        raise AnrError(f"{label}: {field} contains NaN or Inf values, expected finite numbers")
    return array


def field(data: Any, key: str, label: str, shape: tuple, expected: str, flat: bool = False) -> np.ndarray:
    """Returns ``data[key]`` as float64 of ``shape`` (flattened first when ``flat``); ``expected`` names a missing key."""
    value = require(data, key, label, expected)
    return numbers(np.asarray(value).reshape(-1) if flat else value, label, key, shape)


def read_json(path: Path, expected: str, label: str | None = None) -> Any:
    """Returns the JSON value in ``path``; AnrError naming ``label`` (default the path) when it does not parse."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else exc
        raise AnrError(f"{label or path}: cannot read it as JSON ({reason}), expected {expected}") from None


def existing(path: Path, expected: str) -> Path:
    """Returns ``path`` when it is a file; AnrError saying it does not exist and what was ``expected`` otherwise."""
    if not path.is_file():
        raise AnrError(f"{path}: does not exist, expected {expected}")
    return path


def read_arrays(path: Path, expected: str) -> dict[str, np.ndarray]:
    """Returns the numeric arrays of the .npz file ``path`` by name (each header checked before its data)."""
    from anr_studio.safe_npz import NpzArchive

    with NpzArchive(existing(path, expected), expected) as data:
        return {k: data.array(k) for k in data.keys}


def pick(counts: dict, person: Any, label: str, what: str) -> Any:
    """Returns the key of ``counts`` (frames each person is seen in) that ``person`` names, by default the one
    seen most (ties: the smallest key)."""
    def order(k: Any) -> tuple:  # numbers by value, then names
        return (0, k, "") if isinstance(k, (int, np.integer)) else (1, 0, str(k))

    if not counts:
        raise AnrError(f"{label}: holds no {what}, expected at least one person")
    if person is None:
        return min(counts, key=lambda k: (-counts[k], order(k)))
    matching = [k for k in counts if str(k) == str(person)]
    if not matching:
        raise AnrError(f"{label}: has no {what} {person}, expected one of {', '.join(map(str, sorted(counts, key=order)))}")
    return matching[0]


# -- cameras --------------------------------------------------------------------------------
def intrinsics(fx: float, fy: float, cx: float, cy: float) -> np.ndarray:
    """Returns the pinhole intrinsics (3,3) float64 of focal lengths and principal point in pixels."""
    return np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1.0]])


def extrinsics(R: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Returns the world-to-camera matrix (4,4) of ``R`` (3,3) and ``t`` (3,)."""
    E = np.eye(4)
    E[:3, :3], E[:3, 3] = R, np.reshape(t, 3)
    return E


def padded_square(h: int, w: int) -> tuple[int, int, int]:
    """Returns (side, left, top) of the square that HMR-family tools pad an (h, w) image to."""
    side = max(h, w)
    return side, (side - w) // 2, (side - h) // 2


def rh_th_fits(fits: Iterable[tuple[Any, str]], expected: str, pelvis: Callable[[np.ndarray], np.ndarray]) -> dict:
    """Returns SMPL's ``poses (N,72)``, ``trans (N,3)`` and ``betas (K,)`` from (fit, label) pairs of EasyMocap fits
    (``poses`` (1,72+), ``Rh``, ``Th`` (1,3), ``shapes`` (1,K)). EasyMocap rotates about SMPL's origin
    (``v = R(Rh) v_smpl + Th``): ``R_root = R(Rh) R(poses[:3])``, ``trans = Th + R(Rh) J0 - J0``, J0 = ``pelvis(betas)``."""
    rows, rh, th, shapes = [], [], [], []
    for fit, where in fits:
        rows.append(field(fit, "poses", where, (1, -1), expected).reshape(-1)[:72])
        if len(rows[-1]) != 72:
            raise AnrError(f"{where}: poses has {len(rows[-1])} values, expected 72 (SMPL)")
        rh.append(field(fit, "Rh", where, (1, 3), expected)[0])
        th.append(field(fit, "Th", where, (1, 3), expected)[0])
        shapes.append(field(fit, "shapes", where, (1, -1), expected)[0])
    betas = np.mean(shapes, 0)
    r, j0 = axis_angle_to_rotations(np.stack(rh)), pelvis(betas)
    pose = np.stack(rows)
    pose[:, :3] = rotations_to_axis_angle(r @ axis_angle_to_rotations(pose[:, :3]))
    return {"poses": pose, "trans": np.stack(th) + r @ j0 - j0, "betas": betas}


# -- frames and masks -----------------------------------------------------------------------
@dataclass
class Frames:
    """Frames (H,W,3) uint8 RGB from a video or a folder, with the size of the first."""

    frames: Iterator[np.ndarray]
    size: tuple[int, int]  # (H, W)
    fps: float | None


def open_frames(src: Path, indices: Sequence[int] | None = None) -> Frames:
    """Returns the frames of the video or image folder ``src`` (only ``indices`` when given, in order)."""
    if src.is_dir():
        files = list_images(src)
        if not files:
            raise AnrError(f"{src}: holds no images, expected the frames the tool ran on (.png or .jpg)")
        if indices is not None:
            bad = [i for i in indices if not 0 <= i < len(files)]
            if bad:
                raise AnrError(f"{src}: has {len(files)} images, expected frame {bad[0]} that the fits name")
            files = [files[i] for i in indices]
        it: Iterator[np.ndarray] = (read_image(p) for p in files)
        fps = None
    elif src.is_file() and src.suffix.lower() in VIDEO_EXTS:
        fps = video_info(src)[1]
        it = video_frames(src) if indices is None else _select(video_frames(src), indices, src)
    else:
        raise AnrError(f"{src}: is neither a video ({', '.join(sorted(VIDEO_EXTS))}) nor a folder of images, "
                       "expected the frames the tool ran on")
    first = next(it, None)
    if first is None:
        raise AnrError(f"{src}: holds no frames, expected at least one")
    return Frames(itertools.chain([first], it), first.shape[:2], fps)


def _select(frames: Iterator[np.ndarray], indices: Sequence[int], src: Path) -> Iterator[np.ndarray]:
    wanted = list(indices)
    if any(b <= a for a, b in zip(wanted, wanted[1:])):
        raise AnrError(f"{src}: the fits name frames out of order, expected increasing frame numbers")
    pos = count = 0
    for frame in frames:
        if pos < len(wanted) and count == wanted[pos]:
            yield frame
            pos += 1
        count += 1
    if pos < len(wanted):
        raise AnrError(f"{src}: has {count} frames, expected frame {wanted[pos]} that the fits name")


def by_stem(folder: Path, stems: Sequence[str], what: str) -> list[Path]:
    """Returns the image in ``folder`` of each stem in ``stems``; AnrError naming the first one missing."""
    files = {p.stem: p for p in list_images(folder)} if folder.is_dir() else {}
    missing = [s for s in stems if s not in files]
    if missing:
        raise AnrError(f"{folder}: has no {what} {missing[0]}, expected one per frame")
    return [files[s] for s in stems]


def person_masks(paths: Iterable[list[Path]]) -> Iterator[np.ndarray]:
    """Yields per frame the union (H,W) uint8 0/255 of the non-zero pixels of its mask images."""
    for files in paths:
        out = person_mask(files[0])
        for p in files[1:]:
            part = person_mask(p)
            if part.shape != out.shape:
                raise AnrError(f"{p}: is {part.shape[1]}x{part.shape[0]}, expected the size of {files[0].name} "
                               f"({out.shape[1]}x{out.shape[0]})")
            out = np.maximum(out, part)
        yield out


def undistorted(images: Iterable[np.ndarray], K: np.ndarray, D: np.ndarray) -> Iterator[np.ndarray]:
    """Yields ``images`` undistorted with the camera's ``K (3,3)`` and ``D (k,)`` (OpenCV's model; K is kept)."""
    D = np.asarray(D, np.float64).reshape(-1)
    for img in images:
        yield img if not np.any(D) else cv2.undistort(img, np.asarray(K, np.float64), D)
