"""Frames and masks for the format readers: a video or a folder of images, subsets, undistortion."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import cv2
import numpy as np

from anr_studio.capture.importers import VIDEO_EXTS, _video_fps, _video_frames, list_images, read_image
from anr_studio.errors import AnrError


@dataclass
class Frames:
    """Frames (H,W,3) uint8 RGB from a video or a folder, with the size of the first."""

    frames: Iterator[np.ndarray]
    size: tuple[int, int]  # (H, W)
    fps: float | None
    files: list[Path] | None  # the image files, for a folder


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
        files, fps = None, _video_fps(src)
        it = _video_frames(src)
        if indices is not None:
            it = _select(it, indices, src)
    else:
        raise AnrError(f"{src}: is neither a video ({', '.join(sorted(VIDEO_EXTS))}) nor a folder of images, "
                       "expected the frames the tool ran on")
    first = next(it, None)
    if first is None:
        raise AnrError(f"{src}: holds no frames, expected at least one")
    return Frames(itertools.chain([first], it), first.shape[:2], fps, files)


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


def undistorted(images: Iterable[np.ndarray], cameras: Iterable[tuple[np.ndarray, np.ndarray]]) -> Iterator[np.ndarray]:
    """Yields ``images`` undistorted with their ``(K (3,3), D (k,))`` (OpenCV's model; K is kept)."""
    for img, (K, D) in zip(images, cameras):
        D = np.asarray(D, np.float64).reshape(-1)
        yield img if not np.any(D) else cv2.undistort(img, np.asarray(K, np.float64), D)


def mask_from_array(mask: Any, label: str) -> np.ndarray:
    """Returns a mask array (H,W) of 0/1, bool, float 0..1 or 0..255 as uint8 0..255."""
    m = np.asarray(mask)
    if m.ndim == 3 and m.shape[2] in (1, 3, 4):
        m = m[..., :3].max(axis=2)
    if m.ndim != 2 or m.dtype.kind not in "biuf" or m.size == 0:
        raise AnrError(f"{label}: mask has shape {m.shape} and type {m.dtype}, expected (H, W) numbers")
    m = m.astype(np.float32)
    if not np.all(np.isfinite(m)):
        raise AnrError(f"{label}: mask holds NaN or Inf values, expected 0..1 or 0..255")
    if m.max() <= 1.0:
        m = m * 255.0
    return np.clip(m + 0.5, 0, 255).astype(np.uint8)


def person_mask(path: Path) -> np.ndarray:
    """Returns a mask image whose non-zero pixels are the person (any label value) as uint8 0/255."""
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise AnrError(f"{path}: cannot read it as an image, expected a mask PNG")
    if img.ndim == 3:
        img = img[..., :3].max(axis=2)
    return np.where(img > 0, 255, 0).astype(np.uint8)


def require(data: Any, key: str, label: str, expected: str) -> Any:
    """Returns ``data[key]``; AnrError naming ``label``, the key and ``expected`` when it is missing."""
    mapping = hasattr(data, "keys") and hasattr(data, "__getitem__")
    if not mapping or key not in data:
        keys = ", ".join(sorted(map(str, data.keys()))) if mapping else f"a {type(data).__name__}"
        raise AnrError(f"{label}: has no {key} (found {keys or 'nothing'}), expected {expected}")
    return data[key]


def numbers(value: Any, label: str, field: str, shape: tuple) -> np.ndarray:
    """Returns ``value`` as float64 of ``shape`` (-1 = any length there); AnrError naming the field otherwise."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise AnrError(f"{label}: {field} is not numeric, expected numbers of shape {_shape(shape)}") from None
    if array.ndim != len(shape) or any(w not in (-1, s) for w, s in zip(shape, array.shape)):
        raise AnrError(f"{label}: {field} has shape {array.shape}, expected {_shape(shape)}")
    if not np.all(np.isfinite(array)):
        raise AnrError(f"{label}: {field} contains NaN or Inf values, expected finite numbers")
    return array


def _shape(shape: tuple) -> str:
    return "(" + ", ".join("N" if s == -1 else str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def rotations_to_axis_angle(rot: np.ndarray) -> np.ndarray:
    """Returns axis-angle vectors (..., 3) for rotation matrices (..., 3, 3)."""
    import torch

    from anr_studio.body.lbs import matrix_to_axis_angle

    return matrix_to_axis_angle(torch.as_tensor(rot, dtype=torch.float64)).numpy()


def axis_angle_to_rotations(aa: np.ndarray) -> np.ndarray:
    """Returns rotation matrices (..., 3, 3) for axis-angle vectors (..., 3)."""
    import torch

    from anr_studio.body.lbs import axis_angle_to_matrix

    return axis_angle_to_matrix(torch.as_tensor(aa, dtype=torch.float64)).numpy()


def padded_square(h: int, w: int) -> tuple[int, int, int]:
    """Returns (side, left, top) of the square that HMR-family tools pad an (h, w) image to."""
    side = max(h, w)
    return side, (side - w) // 2, (side - h) // 2
