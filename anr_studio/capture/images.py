"""Frames and masks on disk: image files, folders of them and videos, read as a capture stores them."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, Sequence

import cv2
import numpy as np

from anr_studio.capture.schema import MAX_FPS
from anr_studio.errors import AnrError
from anr_studio.safe_npz import load_npy

IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}
VIDEO_EXTS = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v"}
# Masks whose values are all at most this and more than two are part-label images (ZJU-MoCap: 1..14).
MAX_LABEL = 31


def list_images(folder: Path) -> list[Path]:
    """Returns the image files in ``folder`` sorted by name."""
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTS and p.is_file())


def _imread(path: Path, expected: str) -> np.ndarray:
    """Returns the pixels of an image file as cv2 reads them (BGR(A) or grey), 16 bit scaled to 8."""
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise AnrError(f"{path}: cannot read it as an image, expected {expected}")
    return (img / 257.0 + 0.5).astype(np.uint8) if img.dtype == np.uint16 else img


def _grey(img: np.ndarray) -> np.ndarray:
    """Returns a mask image (H,W) from grey or colour pixels: the brightest colour channel."""
    return img[..., :3].max(axis=2) if img.ndim == 3 else img


def read_image(path: Path) -> np.ndarray:
    """Returns an image file as ``(H,W,3)`` uint8 RGB (grey is repeated, alpha dropped, 16 bit scaled)."""
    img = _imread(path, "a PNG or JPEG")
    if img.dtype != np.uint8:
        raise AnrError(f"{path}: has pixel type {img.dtype}, expected 8 or 16 bit")
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    return np.ascontiguousarray(img[..., 2::-1])  # BGR(A) -> RGB


def read_mask(path: Path) -> np.ndarray:
    """Returns a mask file as ``(H,W)`` uint8 0..255 (colour masks: the brightest channel; 0/1 masks scaled)."""
    img = _grey(_imread(path, "a mask PNG"))
    values = np.unique(img)
    if values.max() <= MAX_LABEL and len(values) > 2:
        raise AnrError(f"{path}: holds part labels ({', '.join(str(int(v)) for v in values[:16])}), expected a "
                       "foreground mask (0 = background, 255 = person); convert it with mask = (labels > 0) * 255")
    return mask_from_array(img, str(path))


def folder_masks(folder: Path, n: int | None = None, stems: Sequence[str] | None = None) -> Iterator[np.ndarray]:
    """Returns the masks (H,W) uint8 0..255 of the images, or NumPy ``.npy`` arrays, in ``folder``: those named like
    ``stems`` (the frames' names) when all are there, else all of them, which must be ``n`` (default: one per stem)."""
    files = sorted(folder.glob("*.npy")) or list_images(folder)
    named = {p.stem: p for p in files}
    n = len(stems) if n is None and stems is not None else n
    if stems is not None and all(s in named for s in stems):
        files = [named[s] for s in stems]
    elif n is not None and len(files) != n:
        raise AnrError(f"{folder}: holds {len(files)} masks, expected {n} (one per frame, named like the frames)")
    return (mask_from_array(load_npy(p, "a NumPy mask of (H, W) 0/1 values"), str(p)) if p.suffix == ".npy"
            else read_mask(p) for p in files)


def person_mask(path: Path) -> np.ndarray:
    """Returns a mask image whose non-zero pixels are the person (any label value) as uint8 0/255."""
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise AnrError(f"{path}: cannot read it as an image, expected a mask PNG")
    return np.where(_grey(img) > 0, 255, 0).astype(np.uint8)


def mask_from_array(mask: Any, label: str) -> np.ndarray:
    """Returns a mask array (H,W) of 0/1, bool, float 0..1 or 0..255 as uint8 0..255."""
    m = np.asarray(mask)
    if m.ndim == 3 and m.shape[2] in (1, 3, 4):
        m = _grey(m)
    if m.ndim != 2 or m.dtype.kind not in "biuf" or m.size == 0:
        raise AnrError(f"{label}: mask has shape {m.shape} and type {m.dtype}, expected (H, W) numbers")
    m = m.astype(np.float32)
    if not np.all(np.isfinite(m)):
        raise AnrError(f"{label}: mask holds NaN or Inf values, expected 0..1 or 0..255")
    if m.max() <= 1.0:
        m = m * 255.0
    return np.clip(m + 0.5, 0, 255).astype(np.uint8)


def video_frames(path: Path, gray: bool = False) -> Iterator[np.ndarray]:
    """Yields the frames of the video at ``path``: ``(H,W,3)`` uint8 RGB, or with ``gray`` masks ``(H,W)`` uint8."""
    video = cv2.VideoCapture(str(path))
    if not video.isOpened():
        raise AnrError(f"{path}: OpenCV cannot open it as a video, expected an .mp4/.avi/.mov file")
    try:
        while True:
            ok, frame = video.read()
            if not ok:
                return
            yield mask_from_array(_grey(frame), str(path)) if gray else np.ascontiguousarray(frame[..., ::-1])
    finally:
        video.release()


def video_info(path: Path) -> tuple[int, float | None]:
    """Returns (frame count as the container says, 0 when unknown; fps, None when unknown or implausible) of a video."""
    video = cv2.VideoCapture(str(path))
    try:
        if not video.isOpened():
            return 0, None
        count, fps = int(video.get(cv2.CAP_PROP_FRAME_COUNT)), float(video.get(cv2.CAP_PROP_FPS))
    finally:
        video.release()
    return max(count, 0), fps if np.isfinite(fps) and 0 < fps <= MAX_FPS else None
