"""Painting the try-on UV mask on a rendered view of the body, free of Qt.

Each texel on the body has a fixed face and barycentrics (`TexelMap`); ``view_paint_map`` places them in
a posed view and keeps those its depth shows, so a dab paints the texels under a round brush on screen,
across UV seams, never hidden ones. ``px_per_texel`` turns the canvas's brush radius into view pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from anr_studio.components.paint import Box, PaintEvent, PaintState, brush_falloff, painted, stroke
from anr_studio.components.protocols import StudioBody
from anr_studio.components.scene import posed
from anr_studio.errors import AnrError
from anr_studio.render import WeakPerspectiveCamera, rasterize, render_body_maps

# Texels just outside a UV island take the surface point of the nearest island texel, so painted
# regions also cover the border texels that bilinear texture sampling reads.
ISLAND_PADDING_PX = 2
# A texel counts as seen when it is at most this far (metres) behind the nearest surface of the view.
DEPTH_TOLERANCE_M = 0.02

_texel_maps: dict[tuple, "TexelMap"] = {}


@dataclass(frozen=True)
class TexelMap:
    """Where the texels of a (size,size) mask lie on a body's surface, for every pose.

    index: (N,) long flat indices into the mask (row 0 is v = 1) of the texels on (or next to) a UV island.
    face:  (N,) long face of each texel; bary: (N,3) float32 its barycentrics on that face.
    """

    size: int
    index: np.ndarray
    face: np.ndarray
    bary: np.ndarray


def texel_map(body: StudioBody, size: int) -> TexelMap:
    """Returns the TexelMap of ``body`` for a mask of ``size`` pixels a side (cached per body and size)."""
    key = (id(body), body.model_id, int(size))
    cached = _texel_maps.get(key)
    if cached is not None:
        return cached
    face_uvs = body.face_uvs.detach().cpu().to(torch.float32)  # (F,3,2)
    num_faces = face_uvs.shape[0]
    # The UV layout as a flat mesh, one vertex per face corner (seams stay apart), seen by a camera
    # that puts (u, v) at mask pixel (u * size, (1 - v) * size).
    flat = torch.cat([face_uvs.reshape(-1, 2), torch.zeros(num_faces * 3, 1)], dim=1)[None]
    corners = torch.arange(num_faces * 3).reshape(num_faces, 3)
    camera = WeakPerspectiveCamera(torch.tensor([float(size)]), torch.tensor([[0.0, float(size)]]))
    frags = rasterize(flat, corners, camera, (size, size))
    face_id = frags.face_id[0].numpy()
    bary = frags.bary[0].numpy()
    on = face_id >= 0
    if not on.any():
        raise AnrError(f"body {body.model_id}: face_uvs cover no pixel of a {size}x{size} mask, expected UVs in [0, 1]")
    from scipy import ndimage

    dist, (iy, ix) = ndimage.distance_transform_edt(~on, return_indices=True)
    keep = dist <= ISLAND_PADDING_PX
    ys, xs = np.nonzero(keep)
    src_y, src_x = iy[ys, xs], ix[ys, xs]
    out = TexelMap(int(size), (ys * size + xs).astype(np.int64), face_id[src_y, src_x].astype(np.int64),
                   bary[src_y, src_x].astype(np.float32))
    _texel_maps[key] = out
    return out


@dataclass(frozen=True)
class ViewPaintMap:
    """The mask's texels as one view shows them.

    image_size: (H, W); index: (M,) flat mask indices of the shown texels; pixels: (M,2) float their view
    positions (x right, y down, centres at +0.5); px_per_texel: view pixels per mask pixel.
    """

    size: int
    image_size: tuple[int, int]
    index: np.ndarray
    pixels: np.ndarray
    px_per_texel: float

    def brush_radius_px(self, radius_texels: float) -> float:
        """Returns the radius in view pixels of a brush ``radius_texels`` mask pixels wide."""
        return float(radius_texels) * self.px_per_texel

    def texels_under(self, x: float, y: float, radius_px: float, softness: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """Returns (flat mask indices (K,), weights (K,) in (0,1]) of the texels a dab of ``radius_px`` view
        pixels at view pixel (x, y) covers: 1 in the hard core, falling to 0 across the ``softness`` rim."""
        w = brush_falloff(np.hypot(self.pixels[:, 0] - x, self.pixels[:, 1] - y), radius_px, softness)
        keep = w > 0
        return self.index[keep], w[keep].astype(np.float32)

    def mask_image(self, mask: np.ndarray) -> np.ndarray:
        """Returns the painted ``mask`` (S,S) as this view shows it, (H,W) float32: each pixel the most paint of its texels."""
        import cv2

        h, w = self.image_size
        out = np.zeros(h * w, np.float32)
        col = np.clip(self.pixels[:, 0].astype(np.int64), 0, w - 1)
        row = np.clip(self.pixels[:, 1].astype(np.int64), 0, h - 1)
        np.maximum.at(out, row * w + col, np.asarray(mask, np.float32).reshape(-1)[self.index])
        # Where UVs stretch, texels land sparser than pixels: a closing fills the gaps without growing the paint.
        k = 2 * int(math.ceil(self.px_per_texel)) + 1
        return cv2.morphologyEx(out.reshape(h, w), cv2.MORPH_CLOSE, np.ones((k, k), np.uint8))


@torch.no_grad()
def view_paint_map(body: StudioBody, pose, camera, image_size, size: int, betas=None, transl=None) -> ViewPaintMap:
    """Returns the ViewPaintMap of ``body`` posed by pose (24,3), betas (K,), transl (3,) seen by ``camera``
    (batch 1) at image_size (H, W), for a mask of ``size`` pixels a side."""
    tm = texel_map(body, size)
    verts = posed(body, pose, betas, transl).vertices  # (1,V,3)
    h, w = int(image_size[0]), int(image_size[1])
    maps = render_body_maps(body, verts, camera, (h, w))
    faces = body.faces.to(verts.device)
    corners = verts[0][faces[torch.as_tensor(tm.face)]]  # (N,3,3)
    points = (torch.as_tensor(tm.bary)[..., None] * corners).sum(1)  # (N,3) texels on the posed surface
    pixels, depth = camera.project(points[None])
    pixels, depth = pixels[0], depth[0]
    # Nearest surface per pixel; off the body +inf, so texels on a silhouette that land just outside it are kept.
    zbuf = torch.where(maps.fragments.mask[0], maps.fragments.depth[0], torch.full_like(maps.fragments.depth[0], math.inf))
    col, row = pixels[:, 0].floor().long(), pixels[:, 1].floor().long()
    inside = (col >= 0) & (col < w) & (row >= 0) & (row < h) & (depth > 0)
    seen = torch.zeros_like(inside)
    seen[inside] = depth[inside] <= zbuf[row[inside], col[inside]] + DEPTH_TOLERANCE_M
    covered = int(maps.fragments.mask.sum())
    texels_seen = int(seen.sum())
    density = math.sqrt(covered / texels_seen) if texels_seen else 1.0
    keep = seen.numpy()
    return ViewPaintMap(tm.size, (h, w), tm.index[keep], pixels[seen].numpy().astype(np.float64), density)


def view_dab(state: PaintState, vmap: ViewPaintMap, x: float, y: float) -> Box | None:
    """Returns the dirty box (y0, y1, x0, x1) after one dab of ``state.brush`` at view pixel (x, y); None if it hits no texel."""
    if vmap.size != state.size:
        raise AnrError(f"view painting: the view map is for a {vmap.size}-pixel mask, expected {state.size} (the paint state's)")
    b = state.brush
    idx, w = vmap.texels_under(x, y, vmap.brush_radius_px(b.radius), b.softness)
    if not len(idx):
        return None
    flat = state.mask.reshape(-1)  # a view of the mask: writes land in it
    flat[idx] = painted(flat[idx], w, b)
    ys, xs = np.divmod(idx, state.size)
    return (int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1)


def handle_view_event(state: PaintState, vmap: ViewPaintMap, event: PaintEvent) -> Box | None:
    """Returns the dirty box after one pointer event at view pixel (event.x, event.y); press..release is one undo step."""
    spacing = max(vmap.brush_radius_px(state.brush.radius) * 0.25, 0.5)
    return stroke(state, event, lambda x, y: view_dab(state, vmap, x, y), spacing)


class ViewBrush:
    """Strokes on images of the body in the studio's shared view, at any image size; the ViewPaintMap is kept
    until the pose, the view or the size change."""

    def __init__(self, body: StudioBody, state: PaintState, pose_state, view_state) -> None:
        self.body, self.state, self.pose_state, self.view_state = body, state, pose_state, view_state
        self._map: ViewPaintMap | None = None
        self._key: tuple | None = None

    def view_map(self, size: tuple[int, int]) -> ViewPaintMap:
        """Returns the ViewPaintMap of the current pose and view for an image of ``size`` (H, W)."""
        s, view = self.pose_state, self.view_state.view
        size = (int(size[0]), int(size[1]))
        key = (s.pose.tobytes(), s.betas.tobytes(), s.transl.tobytes(), view, size, self.state.size)
        if key != self._key:
            self._map = view_paint_map(self.body, s.pose, view.camera(size), size, self.state.size, betas=s.betas, transl=s.transl)
            self._key = key
        return self._map

    def radius_px(self, size: tuple[int, int]) -> float:
        """Returns the brush radius in pixels of an image of ``size`` (H, W)."""
        return self.view_map(size).brush_radius_px(self.state.brush.radius)

    def over_body(self, x: float, y: float, size: tuple[int, int]) -> bool:
        """Returns True when a dab at image pixel (x, y) would reach a texel of the body."""
        vmap = self.view_map(size)
        return len(vmap.texels_under(x, y, vmap.brush_radius_px(self.state.brush.radius))[0]) > 0

    def handle(self, event: PaintEvent, size: tuple[int, int]) -> Box | None:
        """Returns the dirty box after ``event`` at image pixel (event.x, event.y) of an image of ``size`` (H, W)."""
        return handle_view_event(self.state, self.view_map(size), event)
