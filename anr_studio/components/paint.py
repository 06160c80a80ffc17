"""PaintState and brush tools for the try-on UV mask, free of Qt so they test without OpenGL.

The mask is (S,S) float32 in [0,1] in UV-image space (row 0 is v = 1): 1 takes texture A, 0 keeps B.
Brush tools are functions of ``(state, event)``; the canvas turns mouse events into ``PaintEvent``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Literal

import numpy as np
from psygnal import Signal

from anr_studio.avatar.tryon import uv_to_pixels
from anr_studio.components.undo import Undoable
from anr_studio.errors import AnrError

BRUSH_RADIUS_RANGE = (1.0, 64.0)  # mask pixels
BRUSH_STEP = 1.25  # `]` multiplies the radius by this, `[` divides
Box = tuple[int, int, int, int]  # dirty box (y0, y1, x0, x1) of an edit


@dataclass
class Brush:
    """Brush settings: ``radius`` in mask pixels, ``softness`` in [0,1] (feathered fraction of the
    radius), ``strength`` in [0,1], ``erase`` paints towards 0 instead of 1."""

    radius: float = 12.0
    softness: float = 0.5
    strength: float = 1.0
    erase: bool = False


@dataclass(frozen=True)
class PaintEvent:
    """A pointer event in mask pixel coordinates (x right, y down; pixel centres at +0.5)."""

    kind: Literal["press", "move", "release"]
    x: float
    y: float


class PaintState(Undoable[np.ndarray]):
    """Holds the try-on mask (S,S) float32 in [0,1], the brush, and the undo history.

    ``changed(tuple)`` fires with the dirty box (y0, y1, x0, x1) after every edit, ``brush_resized(float)`` with the
    brush radius after `set_brush_radius`; ``unsaved`` until ``mark_saved``.
    """

    changed = Signal(tuple)
    brush_resized = Signal(float)

    def __init__(self, size: int = 256) -> None:
        if size < 8:
            raise AnrError(f"paint state: size {size} is too small, expected at least 8 pixels")
        super().__init__(limit=50)  # masks are large: fewer steps than the pose keeps
        self.size = int(size)
        self.mask = np.zeros((self.size, self.size), np.float32)
        self.brush = Brush()
        self.stroke_point: tuple[float, float] | None = None  # where the stroke's pointer last was (x, y)
        self.unsaved = False
        self.changed.connect(self._on_edit)

    def _on_edit(self, _box: tuple) -> None:
        self.unsaved = bool(self.mask.any())  # an empty mask holds nothing to lose

    def mark_saved(self) -> None:
        """Records that the current mask has been kept (saved into an identity or a file)."""
        self.unsaved = False

    def set_brush_radius(self, radius: float) -> float:
        """Returns the brush radius after setting it to ``radius`` mask pixels (rounded, within BRUSH_RADIUS_RANGE)."""
        self.brush.radius = float(np.clip(round(radius), *BRUSH_RADIUS_RANGE))
        self.brush_resized.emit(self.brush.radius)
        return self.brush.radius

    def _full(self) -> Box:
        return (0, self.size, 0, self.size)

    def set_mask(self, mask: np.ndarray) -> None:
        """Replaces the mask with ``mask`` (S,S) in [0,1] (other sizes are resampled)."""
        mask = np.asarray(mask, np.float32)
        if mask.ndim != 2:
            raise AnrError(f"paint state: mask has shape {mask.shape}, expected a 2-D (H, W) array")
        if mask.shape != (self.size, self.size):
            import cv2

            mask = cv2.resize(mask, (self.size, self.size), interpolation=cv2.INTER_LINEAR)
        self.record()
        self.mask = np.clip(mask, 0.0, 1.0).astype(np.float32)
        self.changed.emit(self._full())

    def begin_stroke(self, x: float, y: float) -> None:
        """Starts a stroke at (x, y): its edits until ``end_stroke`` are one undo step."""
        self.record(object())  # a key of its own: the stroke's edits merge into one step
        self.stroke_point = (float(x), float(y))

    def end_stroke(self) -> None:
        """Ends the stroke: the next edit is a new undo step."""
        self.stroke_point = None
        self.end_gesture()

    def _snapshot(self) -> np.ndarray:
        return self.mask.copy()

    def _restore(self, mask: np.ndarray) -> None:
        self.mask = mask
        self.changed.emit(self._full())


def brush_falloff(dist: np.ndarray, radius: float, softness: float) -> np.ndarray:
    """Returns the weight in [0,1] of a round brush at ``dist`` from its centre: 1 inside the hard core, falling
    linearly to 0 across the feathered rim (``softness``: its share of the ``radius``)."""
    r = max(float(radius), 0.5)
    return np.clip((r - dist) / max(r * float(np.clip(softness, 0.0, 1.0)), 1e-3), 0.0, 1.0)


def painted(values: np.ndarray, weights: np.ndarray, brush: Brush) -> np.ndarray:
    """Returns mask ``values`` after ``brush`` painted them with ``weights``: towards 1, or towards 0 when erasing."""
    w = weights * float(np.clip(brush.strength, 0.0, 1.0))
    return values * (1.0 - w) if brush.erase else values + (1.0 - values) * w


def dab(state: PaintState, x: float, y: float) -> Box | None:
    """Returns the dirty box (y0, y1, x0, x1) after stamping one soft round dab at (x, y); None if off-canvas."""
    b = state.brush
    r = max(float(b.radius), 0.5)
    x0, x1 = max(int(math.floor(x - r)), 0), min(int(math.ceil(x + r)) + 1, state.size)
    y0, y1 = max(int(math.floor(y - r)), 0), min(int(math.ceil(y + r)) + 1, state.size)
    if x0 >= x1 or y0 >= y1:
        return None
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32) + 0.5
    w = brush_falloff(np.hypot(xx - x, yy - y), r, b.softness)
    state.mask[y0:y1, x0:x1] = painted(state.mask[y0:y1, x0:x1], w, b)
    return (y0, y1, x0, x1)


def stroke(state: PaintState, event: PaintEvent, dab_at: Callable[[float, float], Box | None], spacing: float) -> Box | None:
    """Returns the dirty box (y0, y1, x0, x1) after one pointer event: ``dab_at(x, y)`` on press and every
    ``spacing`` along a move; a press..release stroke is one undo step."""
    boxes = []
    if event.kind == "press":
        state.begin_stroke(event.x, event.y)
        boxes.append(dab_at(event.x, event.y))
    elif event.kind == "move" and state.stroke_point is not None:
        x0, y0 = state.stroke_point
        n = max(int(math.ceil(math.hypot(event.x - x0, event.y - y0) / spacing)), 1)
        boxes = [dab_at(x0 + (event.x - x0) * i / n, y0 + (event.y - y0) * i / n) for i in range(1, n + 1)]
        state.stroke_point = (float(event.x), float(event.y))
    elif event.kind == "release":
        state.end_stroke()
    boxes = [b for b in boxes if b is not None]
    if not boxes:
        return None
    box = (min(b[0] for b in boxes), max(b[1] for b in boxes), min(b[2] for b in boxes), max(b[3] for b in boxes))
    state.changed.emit(box)
    return box


def handle_event(state: PaintState, event: PaintEvent) -> Box | None:
    """Returns the dirty box after applying one pointer event in mask pixels; a press..release stroke is one undo step."""
    return stroke(state, event, lambda x, y: dab(state, x, y), max(state.brush.radius * 0.25, 0.5))


def fill(state: PaintState, region: np.ndarray) -> None:
    """Sets the mask to 1 (or 0 with the eraser) wherever ``region`` (S,S) in [0,1] is set, keeping soft edges."""
    region = np.asarray(region, np.float32)
    if region.shape != state.mask.shape:
        raise AnrError(f"paint state: region has shape {region.shape}, expected {state.mask.shape}")
    state.record()
    if state.brush.erase:
        state.mask *= 1.0 - region
    else:
        state.mask = np.maximum(state.mask, region)
    state.changed.emit(state._full())


def clear(state: PaintState) -> None:
    """Sets the whole mask to 0 (one undo step)."""
    state.record()
    state.mask[:] = 0.0
    state.changed.emit(state._full())


def uv_triangle_mask(face_uvs: np.ndarray, size: int, faces: np.ndarray | None = None) -> np.ndarray:
    """Returns a (size,size) float32 mask, 1 on the UV triangles ``face_uvs`` (F,3,2) (or the ``faces`` subset)."""
    import cv2

    tri = np.asarray(face_uvs, np.float64)
    out = np.zeros((size, size), np.uint8)
    # fillPoly takes fixed-point coordinates; 4 fractional bits keep sub-pixel accuracy.
    pts = np.round(uv_to_pixels(tri if faces is None else tri[faces], size) * 16).astype(np.int32)
    cv2.fillPoly(out, list(pts), 255, lineType=cv2.LINE_8, shift=4)
    return out.astype(np.float32) / 255.0


def uv_layout_image(face_uvs: np.ndarray, size: int) -> np.ndarray:
    """Returns a (size,size,3) uint8 picture of the UV layout: islands in grey, triangle edges darker."""
    import cv2

    img = np.full((size, size, 3), 40, np.uint8)
    img[uv_triangle_mask(face_uvs, size) > 0.5] = (110, 110, 120)
    pts = np.round(uv_to_pixels(np.asarray(face_uvs, np.float64), size) * 16).astype(np.int32)
    cv2.polylines(img, list(pts), True, (80, 80, 90), 1, lineType=cv2.LINE_AA, shift=4)
    return img


def resize_brush(state: PaintState, steps: int) -> float:
    """Returns the brush radius after ``steps`` size steps (+1 for `]`, -1 for `[`), clamped to BRUSH_RADIUS_RANGE."""
    r = float(state.brush.radius) * BRUSH_STEP ** int(steps)
    if steps:  # always move by at least one pixel so small brushes still change
        r = max(r, state.brush.radius + 1) if steps > 0 else min(r, state.brush.radius - 1)
    return state.set_brush_radius(r)


def uv_part_labels(face_uvs: np.ndarray, face_parts: np.ndarray, part_names: list[str],
                   size: int = 128) -> list[tuple[str, float, float]]:
    """Returns (part name, x, y) per UV island of each labelled part, x/y in [0,1] of the UV image (row 0 is v = 1).

    face_uvs (F,3,2), face_parts (F,) indices into ``part_names``; islands under 0.2 % of the image are unlabelled.
    """
    import cv2

    parts = np.asarray(face_parts).reshape(-1)
    out: list[tuple[str, float, float]] = []
    for k, name in enumerate(part_names):
        sel = parts == k
        if not sel.any():
            continue
        m = (uv_triangle_mask(face_uvs, size, faces=sel) > 0.5).astype(np.uint8)
        n, _lab, stats, cents = cv2.connectedComponentsWithStats(m, connectivity=8)
        for i in range(1, n):
            if stats[i, cv2.CC_STAT_AREA] >= 0.002 * size * size:
                out.append((name.replace("_", " "), float(cents[i][0]) / size, float(cents[i][1]) / size))
    return out
