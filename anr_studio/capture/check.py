"""Alignment check of a capture: each frame's rasterized coarse body against its mask (IoU), and overlays.

The coarse body is unclothed, so even a perfect fit misses loose clothes and hair: an IoU of 0.6 to
0.9 is a good fit, below 0.5 the body is off the person.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, Iterator

import cv2
import numpy as np
import torch

from anr_studio.body.skeleton import SMPL_PARENTS
from anr_studio.metrics.image import mask_iou

# Per-frame IoU below which a frame counts as misaligned.
FRAME_IOU = 0.5
# A capture is well aligned when its median IoU reaches GOOD_MEDIAN and at most POOR_SHARE of its
# frames are misaligned; poorly aligned when its median is below FRAME_IOU.
GOOD_MEDIAN = 0.6
POOR_SHARE = 0.1
OUTLINE_RGB = (255, 230, 0)  # the coarse body's outline
TRUE_OUTLINE_RGB = (0, 200, 255)  # the mask's outline
SKELETON_RGB = (255, 60, 60)
_CHUNK = 16


@dataclass
class AlignmentReport:
    """Per-frame IoU ``iou (n,)`` of frames ``indices (n,)`` (empty without masks) and the verdict."""

    indices: np.ndarray
    iou: np.ndarray
    verdict: str  # "good", "fair", "poor" or "unknown" (no masks)

    @property
    def poor(self) -> bool:
        """Returns whether the body is off the person in the capture."""
        return self.verdict == "poor"

    def summary(self) -> str:
        """Returns one line: median IoU, frames below the threshold and the verdict."""
        if not len(self.iou):
            return f"no masks: alignment not measured on {len(self.indices)} frames (run `anr-studio masks`)"
        low = int((self.iou < FRAME_IOU).sum())
        return (f"median IoU {float(np.median(self.iou)):.2f}, {low} of {len(self.iou)} frames below {FRAME_IOU}: "
                f"alignment {self.verdict}")


def _verdict(iou: np.ndarray) -> str:
    median, low = float(np.median(iou)), float((iou < FRAME_IOU).mean())
    if median >= GOOD_MEDIAN and low <= POOR_SHARE:
        return "good"
    return "poor" if median < FRAME_IOU else "fair"


def _frames(capture, indices) -> list[int]:
    return list(range(len(capture))) if indices is None else [int(i) for i in indices]


def capture_body(capture, path=None):
    """Returns the body ``capture`` was made with: the built-in one, or the file ``path`` (AnrError when the
    capture names another body model, or names a file and ``path`` is None)."""
    from anr_studio.body import load_body

    return load_body(path, model_id=capture.body_model_id, source=str(capture.path))


def check_alignment(capture, body=None, indices=None, progress: Callable[[int, int], None] | None = None) -> AlignmentReport:
    """Returns the AlignmentReport of ``capture`` (frames ``indices``, default all) posed on ``body``
    (default: the capture's own body); ``progress(done, total)`` is called after each chunk of frames."""
    idx = _frames(capture, indices)
    if not capture.has_masks:
        return AlignmentReport(np.asarray(idx), np.zeros(0), "unknown")
    iou = []
    for start in range(0, len(idx), _CHUNK):
        chunk = idx[start:start + _CHUNK]
        for i, coarse in zip(chunk, coarse_masks(capture, chunk, body)):
            iou.append(mask_iou(coarse.astype(np.float32), capture.mask(i)))
        if progress is not None:
            progress(len(iou), len(idx))
    iou_arr = np.asarray(iou)
    return AlignmentReport(np.asarray(idx), iou_arr, _verdict(iou_arr) if len(iou_arr) else "unknown")


def posed_body(capture, indices, body):
    """Returns (``body`` posed with the tracked parameters of frames ``indices`` (n,), their cameras K (n,3,3),
    R (n,3,3), t (n,3) float32 tensors)."""
    idx = [int(i) for i in indices]
    betas = torch.as_tensor(capture.betas, dtype=torch.float32)[None, : body.num_betas].expand(len(idx), -1)
    pose, transl = np.stack([capture.pose(i) for i in idx]), np.stack([capture.transl(i) for i in idx])
    K, R, t = (torch.as_tensor(np.stack(a)) for a in zip(*(capture.camera(i) for i in idx)))
    with torch.no_grad():
        posed = body(torch.as_tensor(pose, dtype=torch.float32), betas, torch.as_tensor(transl, dtype=torch.float32))
    return posed, (K, R, t)


def coarse_masks(capture, indices, body=None) -> np.ndarray:
    """Returns the rasterized coarse-body masks (n, H, W) bool of frames ``indices`` (n,) of ``capture``
    (posed as :func:`posed_body` says on ``body``, default the capture's own, seen by each frame's camera)."""
    from anr_studio.render import PerspectiveCamera, rasterize

    body = body if body is not None else capture_body(capture)
    if not len(indices):
        return np.zeros((0, *capture.image_size), bool)
    posed, camera = posed_body(capture, indices, body)
    with torch.no_grad():
        return rasterize(posed.vertices, body.faces, PerspectiveCamera(*camera), capture.image_size).mask.numpy()


def _joints_2d(capture, idx: list[int], body) -> np.ndarray:
    """Returns the coarse body's joints in pixels (n,24,2) for frames ``idx``."""
    from anr_studio.render import PerspectiveCamera

    posed, camera = posed_body(capture, idx, body)
    return PerspectiveCamera(*camera).project(posed.joints.double())[0].numpy()


def tile_grid(tiles: list[np.ndarray], columns: int, height: int | None = None) -> np.ndarray:
    """Returns images of one size (h,w,3) uint8 (scaled to ``height`` rows when given) laid out in rows of
    ``columns`` on a dark grey sheet."""
    if height is not None:
        size = (max(1, round(tiles[0].shape[1] * height / tiles[0].shape[0])), height)
        tiles = [cv2.resize(t, size, interpolation=cv2.INTER_AREA) for t in tiles]
    h, w = tiles[0].shape[:2]
    columns = max(1, min(columns, len(tiles)))
    sheet = np.full((-(-len(tiles) // columns) * h, columns * w, 3), 32, np.uint8)
    for k, img in enumerate(tiles):
        r, c = divmod(k, columns)
        sheet[r * h:(r + 1) * h, c * w:(c + 1) * w] = img
    return sheet


def draw_outline(img: np.ndarray, mask: np.ndarray, colour: tuple, thick: int, outer: bool = False) -> None:
    """Draws the outline of the binary ``mask`` (H,W) on ``img`` (H,W,3) uint8 (only the outer one when ``outer``)."""
    mode = cv2.RETR_EXTERNAL if outer else cv2.RETR_LIST
    contours, _ = cv2.findContours(mask.astype(np.uint8), mode, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(img, contours, -1, colour, thick, cv2.LINE_AA)


def draw_label(img: np.ndarray, text: str, y: int, scale: float) -> None:
    """Writes ``text`` in white on a black rim at the left of ``img`` (H,W,3) uint8, baseline at row ``y``."""
    # The rim is the text drawn one pixel off in each direction: a thicker stroke also spaces the letters
    # wider, so at small sizes its letters would drift off the white ones and garble the label.
    for dx, dy in ((dx, dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1) if dx or dy):
        cv2.putText(img, text, (5 + dx, y + dy), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, text, (5, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)


def overlay_frames(capture, body=None, indices=None, report: AlignmentReport | None = None) -> Iterator[np.ndarray]:
    """Yields frames (H,W,3) uint8 RGB with the coarse body's outline (yellow), skeleton (red), the mask's
    outline (cyan) and, with ``report``, the frame's IoU written in the corner (``body``: default the capture's own)."""
    body = body if body is not None else capture_body(capture)
    idx = _frames(capture, indices)
    ious = {} if report is None else dict(zip(report.indices.tolist(), report.iou.tolist()))
    h, w = capture.image_size
    thick, scale = max(1, round(max(h, w) / 400)), max(0.4, h / 900)
    for start in range(0, len(idx), _CHUNK):
        chunk = idx[start:start + _CHUNK]
        masks, joints = coarse_masks(capture, chunk, body), _joints_2d(capture, chunk, body)
        for i, coarse, pts in zip(chunk, masks, joints):
            img = np.ascontiguousarray(capture.frame(i))
            if capture.has_masks:
                draw_outline(img, capture.mask(i) > 127, TRUE_OUTLINE_RGB, thick, outer=True)
            draw_outline(img, coarse, OUTLINE_RGB, thick)
            if np.isfinite(pts).all() and np.abs(pts).max() < 1e6:
                p = np.round(pts).astype(int)
                for j, parent in enumerate(SMPL_PARENTS):
                    if parent >= 0:
                        cv2.line(img, tuple(p[parent]), tuple(p[j]), SKELETON_RGB, thick, cv2.LINE_AA)
            draw_label(img, f"#{i}" + (f" IoU {ious[i]:.2f}" if i in ious else ""), int(20 * scale / 0.5), scale)
            yield img


def contact_sheet(capture, count: int = 8, columns: int = 4, tile: int = 256, body=None) -> np.ndarray:
    """Returns a contact sheet (H, W, 3) uint8 RGB of ``count`` evenly spaced frames of ``capture`` (a Capture or
    a path), ``tile`` pixels high, with the outline (yellow) of the coarse ``body`` (default the capture's own)
    and labels (index, test, keyframe)."""
    from anr_studio.capture import Capture

    capture = Capture(capture) if isinstance(capture, (str, os.PathLike)) else capture
    n = len(capture)
    indices = np.unique(np.linspace(0, n - 1, min(count, n)).round().astype(int)).tolist()
    h, w = capture.image_size
    size = (max(1, round(w * tile / h)), tile)
    test, keys = set(capture.split("test").tolist()), set([] if capture.keyframes is None else capture.keyframes.tolist())
    tiles = []
    for i, mask in zip(indices, coarse_masks(capture, indices, body)):
        img = cv2.resize(capture.frame(i), size, interpolation=cv2.INTER_CUBIC if tile > h else cv2.INTER_AREA)
        draw_outline(img, cv2.resize(mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST), OUTLINE_RGB,
                     max(1, tile // 200))
        draw_label(img, f"#{i}" + (" test" if i in test else "") + (" key" if i in keys else ""), 16, 0.45)
        tiles.append(img)
    return tile_grid(tiles, columns)
