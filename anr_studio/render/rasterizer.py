"""Vectorised triangle rasterizer in torch: the same code on CPU and CUDA, no Python loop over faces or pixels.

1. Per face: screen barycentrics as affine functions about corner 0 and a visibility value (1/z);
   faces degenerate on screen or behind the near plane are dropped; both windings are kept.
2. Faces expand into (face, row) pairs and each row into the exact span of covered pixel centres
   (chunked to bound memory), so candidates need no inside test.
3. Visibility: one ``scatter_reduce(amin)`` of ``float_bits(distance) << 31 | face`` per pixel
   (nearest face wins, ties to the lower index, no races).
4. Perspective-correct barycentrics and depth for each winner.
On CUDA with Triton, steps 2-4 run as the kernels of ``raster_triton`` (same rule, no host sync).
Pixel centres sit at integer + 0.5; a centre on a shared edge belongs to both faces, so closed meshes
have no cracks. Not differentiable in geometry (as in the paper): gradients flow through the UV lookup.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from torch.utils.weak import WeakIdKeyDictionary

from anr_studio.errors import AnrError, device_checks_enabled, expect_shape
from anr_studio.lazy import optional_module
from anr_studio.render.cameras import Camera, PerspectiveCamera, WeakPerspectiveCamera

__all__ = ["Fragments", "rasterize", "capturable", "DEFAULT_ZNEAR"]

DEFAULT_ZNEAR = 1e-2  # metres; faces with a vertex nearer than this to a perspective camera are dropped
_INSIDE_EPS = 1e-5  # barycentric slack so a pixel centre on a shared edge is never lost to rounding
_INT64_MAX = torch.iinfo(torch.int64).max
_FACE_BITS = 31


@dataclass
class Fragments:
    """The nearest face per pixel.

    face_id: (B,H,W) long, index into ``faces``; -1 on background.
    bary:    (B,H,W,3) float32 perspective-correct barycentrics of the face's three corners; 0 on background.
    depth:   (B,H,W) float32 camera depth (perspective: camera z; weak perspective: -z); 0 on background."""

    face_id: torch.Tensor
    bary: torch.Tensor
    depth: torch.Tensor
    covered: torch.Tensor | None = None  # (N,) long flat indices (b*H*W + y*W + x) of covered pixels, ascending
    num_faces: int | None = None  # F of the rasterized mesh when known: face_id < num_faces, checked without a sync

    def covered_pixels(self) -> torch.Tensor:
        """Returns (N,) long flat indices into (B*H*W) of the covered pixels, ascending (cached)."""
        if self.covered is None:
            self.covered = torch.nonzero(self.face_id.reshape(-1) >= 0).squeeze(1)
        return self.covered

    def covered_corners(self, faces: torch.Tensor, num_vertices: int,
                        covered: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Returns (covered (N,), image (N,), corners (N,3)): the covered pixels ``covered`` (flat indices),
        their image in the batch and the flat indices into a (B*V) vertex list of the corners of the face seen there
        (``faces`` (F,3) as rasterized)."""
        image = covered // (self.face_id.shape[1] * self.face_id.shape[2])
        face = self.face_id.reshape(-1).index_select(0, covered)
        corners = faces.to(device=covered.device, dtype=torch.long).index_select(0, face) + (image * num_vertices).unsqueeze(1)
        return covered, image, corners

    @property
    def mask(self) -> torch.Tensor:
        """Returns (B,H,W) bool, True where a face covers the pixel."""
        return self.face_id >= 0


def _check_inputs(vertices, faces, camera, image_size) -> tuple[int, int]:
    source = "rasterize"
    if not isinstance(vertices, torch.Tensor) or not vertices.is_floating_point():
        raise AnrError(f"{source}: vertices is {type(vertices).__name__}, expected a float tensor of shape (B, V, 3)")
    expect_shape(vertices, ("B", "V", 3), "vertices", source)
    if not isinstance(faces, torch.Tensor) or faces.dtype not in (torch.int32, torch.int64):
        raise AnrError(f"{source}: faces is {getattr(faces, 'dtype', type(faces).__name__)}, expected an integer tensor of shape (F, 3)")
    expect_shape(faces, ("F", 3), "faces", source)
    if vertices.shape[0] * faces.shape[0] >= 2**_FACE_BITS:
        raise AnrError(f"{source}: batch x faces is {vertices.shape[0] * faces.shape[0]}, expected fewer than 2**31")
    _check_values(vertices, faces, source)
    if not isinstance(camera, (PerspectiveCamera, WeakPerspectiveCamera)):
        raise AnrError(f"{source}: camera is {type(camera).__name__}, expected a PerspectiveCamera or WeakPerspectiveCamera")
    if camera.batch_size not in (1, vertices.shape[0]):
        raise AnrError(f"{source}: camera has batch {camera.batch_size}, expected 1 or the vertices' batch {vertices.shape[0]}")
    try:
        height, width = (int(s) for s in image_size)
    except (TypeError, ValueError):
        raise AnrError(f"{source}: image_size is {image_size!r}, expected (H, W)") from None
    if height <= 0 or width <= 0:
        raise AnrError(f"{source}: image_size is {(height, width)}, expected positive (H, W)")
    if vertices.shape[0] * height * width >= 2**62:
        raise AnrError(f"{source}: batch x image_size is too large to index")
    return height, width


# Checked faces tensors -> (version, lowest index, highest index): a body's constant faces are read back once.
_FACE_RANGES = WeakIdKeyDictionary()


def _version(tensor: torch.Tensor) -> int | None:
    """Returns the tensor's in-place version counter (None for inference tensors, which keep none)."""
    try:
        return tensor._version
    except RuntimeError:
        return None


def _check_values(vertices: torch.Tensor, faces: torch.Tensor, source: str) -> None:
    """Raises AnrError for non-finite vertices or faces outside 0..V-1, with at most one device round trip (a faces
    tensor's range is cached per version; device vertices are not read back inside `inputs_checked_on_host`)."""
    pending = []
    check_vertices = vertices.device.type == "cpu" or device_checks_enabled()
    if check_vertices:
        pending.append(torch.isfinite(vertices).all().long().reshape(1))
    cached = _FACE_RANGES.get(faces)
    version = _version(faces)
    face_range = cached[1:] if cached is not None and version is not None and cached[0] == version else None
    if face_range is None and faces.numel():
        pending.append(torch.stack([faces.min(), faces.max()]).long().to(vertices.device))
    values = torch.cat(pending).tolist() if pending else []
    if check_vertices and not values.pop(0):
        raise AnrError(f"{source}: vertices contains NaN or Inf values, expected finite numbers")
    if face_range is None and faces.numel():
        face_range = (values[0], values[1])
        if version is not None:
            _FACE_RANGES[faces] = (version, *face_range)
    if faces.numel() and (face_range[0] < 0 or face_range[1] >= vertices.shape[1]):
        raise AnrError(f"{source}: faces index vertices {face_range[0]}..{face_range[1]}, expected 0..{vertices.shape[1] - 1}")


# Rows of the per-face coefficient table built by _face_setup (one column per face).
_OX, _OY = 0, 1  # screen position of corner 0, the origin of the affine functions below
_A, _B = slice(2, 5), slice(5, 8)  # d s_i / dx and d s_i / dy of the three screen barycentrics
_Q = slice(8, 11)  # per-corner depth term: 1/z (perspective, affine on screen) or depth
_K0, _KX, _KY = 11, 12, 13  # visibility plane k = k0 + kx (x - ox) + ky (y - oy), k > 0


def _face_setup(pixels, depth, faces, perspective, height, width):
    """Returns per-face coefficients (14, B*F) float32 and bounding boxes (4, B*F) long [x0, y0, w, h].

    Faces run along the last dimension (long contiguous vectors for the CPU kernels). The screen barycentrics
    are ``s_i = [i == 0] + a_i (x - ox) + b_i (y - oy)`` about corner 0, which is exact there (a centroid
    would carry float32 rounding). k is 1/z (perspective) or depth shifted to >= 1 (weak perspective): its
    order gives the nearest face. Invalid faces get zero coefficients and an empty box."""
    batch, num_vertices = depth.shape
    # Corner i of face f in image b sits at column b*F + f: (3, B*F) vectors, built by gathers.
    corner = (faces.t().unsqueeze(1) + (torch.arange(batch, device=faces.device) * num_vertices).view(1, -1, 1)).reshape(-1)
    x = pixels[..., 0].reshape(-1).index_select(0, corner).view(3, -1)
    y = pixels[..., 1].reshape(-1).index_select(0, corner).view(3, -1)
    d = depth.reshape(-1).index_select(0, corner).view(3, -1)
    # The edge opposite corner i, rotated a quarter turn, is the gradient of s_i times 2*area.
    edge_x = x.roll(-2, 0) - x.roll(-1, 0)
    edge_y = y.roll(-2, 0) - y.roll(-1, 0)
    area2 = edge_x[0] * (y[0] - y[1]) - edge_y[0] * (x[0] - x[1])
    valid = torch.isfinite(area2) & (area2.abs() > 1e-9)
    if perspective:
        valid &= (d > DEFAULT_ZNEAR).all(dim=0)
    inv = 1.0 / torch.where(valid, area2, torch.ones_like(area2))
    a, b = -edge_y * inv, edge_x * inv
    q = 1.0 / d.clamp_min(DEFAULT_ZNEAR) if perspective else d
    k = q if perspective else d - depth.amin() + 1.0
    rows = [x[:1], y[:1], a, b, q, k[:1], (k * a).sum(0, keepdim=True), (k * b).sum(0, keepdim=True)]
    coeffs = torch.cat(rows, dim=0) * valid

    # Pixel j is covered when its centre j + 0.5 lies in [min, max]; clamp in float first so
    # faces projecting far off screen cannot overflow the integer conversion.
    x, y = x * valid, y * valid
    lo_x = torch.ceil(x.amin(0) - 0.5).clamp(0, width)
    lo_y = torch.ceil(y.amin(0) - 0.5).clamp(0, height)
    size_x = (torch.floor(x.amax(0) - 0.5).clamp(-1, width - 1) - lo_x + 1).clamp_min(0) * valid
    size_y = (torch.floor(y.amax(0) - 0.5).clamp(-1, height - 1) - lo_y + 1).clamp_min(0) * valid
    return coeffs, torch.stack([lo_x, lo_y, size_x, size_y]).long()


def _row_table(coeffs: torch.Tensor, bbox: torch.Tensor) -> torch.Tensor:
    """Returns (19, B*F) float32 per-face constants for ``_row_spans`` (torch path only).

    On a row, s_i >= 0 bounds x at ``x = P_i + Q_i (y - oy)`` (inside slack folded into P). Rows 0-2 / 3-5:
    P, Q of the left bounds (a_i > 0, else -big, 0); 6-8 / 9-11: of the right bounds (a_i < 0, else +big, 0);
    12 oy; 13 ox; 14-16 k0, kx, ky; 17, 18 the box's first pixel column and one past its last."""
    a, b = coeffs[_A], coeffs[_B]
    safe_a = torch.where(a == 0, torch.ones_like(a), a)
    p = coeffs[_OX] - _INSIDE_EPS / safe_a
    p[0] -= 1.0 / safe_a[0]  # s_0 is 1 at the origin, s_1 and s_2 are 0
    q = -b / safe_a
    big = 1e9
    x0, w = bbox[0].to(coeffs.dtype), bbox[2].to(coeffs.dtype)
    return torch.cat([
        torch.where(a > 0, p, -big), torch.where(a > 0, q, 0.0), torch.where(a < 0, p, big), torch.where(a < 0, q, 0.0),
        coeffs[_OY : _OY + 1], coeffs[_OX : _OX + 1], coeffs[_K0 : _KY + 1], x0.unsqueeze(0), (x0 + w).unsqueeze(0),
    ])


def _row_spans(table: torch.Tensor, rows_face: torch.Tensor, rows_y: torch.Tensor):
    """Returns per (face, row) pair (x_start, count): the exact span of pixel centres inside the triangle on that row
    (with edge slack), and (k_start, k_step): the visibility value at its first centre and its change per pixel."""
    t = table.index_select(1, rows_face)  # (19, R)
    dy = rows_y.to(t.dtype) + 0.5 - t[12]
    left = (t[0:3] + t[3:6] * dy).amax(dim=0)
    right = (t[6:9] + t[9:12] * dy).amin(dim=0)
    # Pixel j is inside when its centre j + 0.5 lies in [left, right]; clamping to the box (in
    # float) also keeps far-off bounds from overflowing the integer conversion.
    x_lo = torch.ceil(left - 0.5).clamp(t[17], t[18])
    x_end = (torch.floor(right - 0.5) + 1.0).clamp(t[17], t[18])
    count = (x_end - x_lo).clamp_min(0).long()
    k_start = t[14] + t[15] * (x_lo + 0.5 - t[13]) + t[16] * dy
    return x_lo.long(), count, k_start, t[15]


def _triton_raster():
    """Returns the Triton kernel wrapper, or None where Triton is missing (CPU-only torch builds ship none)."""
    module = optional_module("anr_studio.render.raster_triton")
    return module.raster_triton if module is not None else None


def capturable(device: torch.device) -> bool:
    """Returns True where `rasterize` (no ``max_pairs``) can be captured in a CUDA graph: CUDA with the Triton kernels."""
    return torch.device(device).type == "cuda" and _triton_raster() is not None


def _chunks(counts: torch.Tensor, max_items: int) -> list[tuple[int, int, int]]:
    """Returns [(start, stop, n_items)] ranges of ``counts`` whose sums stay near ``max_items``."""
    cum = torch.cumsum(counts, 0)
    total = int(cum[-1]) if cum.numel() else 0
    if total <= max_items:
        return [(0, counts.shape[0], total)] if total else []
    cum_cpu = cum.cpu()
    cuts = torch.searchsorted(cum_cpu, torch.arange(max_items, total, max_items), right=True).tolist()
    bounds = sorted({0, *cuts, counts.shape[0]})
    out = []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        n = int(cum_cpu[hi - 1]) - (int(cum_cpu[lo - 1]) if lo else 0)
        if n:
            out.append((lo, hi, n))
    return out


def _expand(counts: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Returns (owner, rank): for each of the ``n`` items, its row in ``counts`` and its index within that row."""
    owner = torch.repeat_interleave(counts, output_size=n)
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.arange(n, device=counts.device) - starts.index_select(0, owner)
    return owner, rank


def _depth_and_bary(c: torch.Tensor, x: torch.Tensor, y: torch.Tensor, perspective: bool):
    """Returns (depth (N,), bary (N,3)) at pixel centres (x, y) (N,) for coefficient columns ``c`` (14,N)."""
    s = c[_A] * (x - c[_OX]) + c[_B] * (y - c[_OY])  # (3, N)
    s[0] += 1.0
    if perspective:
        w = s * c[_Q]
        depth = 1.0 / w.sum(dim=0)
        return depth, (w * depth).t()
    return (s * c[_Q]).sum(dim=0), s.t()


def rasterize(vertices: torch.Tensor, faces: torch.Tensor, camera: Camera, image_size: Sequence[int] = (512, 512), *,
              max_pairs: int | None = None) -> Fragments:
    """Returns Fragments(face_id (B,H,W), bary (B,H,W,3), depth (B,H,W)) of the nearest face per pixel.

    vertices: (B,V,3) world positions (rasterized in float32); faces: (F,3) integer, shared by the batch;
    camera: Perspective or WeakPerspectiveCamera of batch B or 1; image_size: (H, W); max_pairs: cap on
    (face, pixel) candidates at once (set: the torch path even on CUDA). Faces nearer than DEFAULT_ZNEAR to a
    perspective camera are dropped. Raises AnrError on wrong shapes, non-finite vertices or out-of-range faces."""
    height, width = _check_inputs(vertices, faces, camera, image_size)
    device = vertices.device
    batch, num_faces = vertices.shape[0], faces.shape[0]
    hw = height * width
    perspective = bool(camera.is_perspective)
    kernels = _triton_raster() if device.type == "cuda" and not max_pairs else None
    # The default bounds peak memory: about 100 bytes per (face, pixel) candidate.
    max_pairs = int(max_pairs) if max_pairs else 2**24 if device.type == "cuda" else 2**21
    if kernels is not None and num_faces:
        with torch.no_grad():
            cam = camera.to(device=device, dtype=torch.float32)
            pixels, depth = cam.project(vertices.detach().float())
            coeffs, bbox = _face_setup(pixels, depth, faces.to(device=device, dtype=torch.long), perspective, height, width)
            fid, bar, dep = kernels(coeffs, bbox, batch, num_faces, height, width, perspective, _INSIDE_EPS)
        return Fragments(fid.view(batch, height, width), bar.view(batch, height, width, 3), dep.view(batch, height, width),
                         num_faces=num_faces)

    face_id = torch.full((batch * hw,), -1, dtype=torch.long, device=device)
    bary = torch.zeros((batch * hw, 3), dtype=torch.float32, device=device)
    depth_img = torch.zeros((batch * hw,), dtype=torch.float32, device=device)
    if num_faces == 0:
        return Fragments(face_id.view(batch, height, width), bary.view(batch, height, width, 3), depth_img.view(batch, height, width),
                         num_faces=0)

    with torch.no_grad():
        verts = vertices.detach().float()
        cam = camera.to(device=device, dtype=torch.float32)
        pixels, depth = cam.project(verts)
        faces = faces.to(device=device, dtype=torch.long)
        coeffs, bbox = _face_setup(pixels, depth, faces, perspective, height, width)

        # Per face of the flattened (B*F) list: its local index and the flat index of its image's pixel 0.
        face_local = torch.arange(num_faces, device=device).repeat(batch)
        face_base = torch.arange(batch, device=device).repeat_interleave(num_faces) * hw

        table = _row_table(coeffs, bbox)

        # Level 1: (face, row) pairs; level 2: (face, pixel) candidates along each row's exact span.
        buffer = torch.full((batch * hw,), _INT64_MAX, dtype=torch.long, device=device)
        for lo, hi, n_rows in _chunks(bbox[3], max_pairs):
            row_face, row_rank = _expand(bbox[3, lo:hi], n_rows)
            row_face += lo
            rows_y = bbox[1].index_select(0, row_face) + row_rank
            x_start, x_count, k_start, k_step = _row_spans(table, row_face, rows_y)
            row_pixel = face_base.index_select(0, row_face) + rows_y * width + x_start
            for r_lo, r_hi, n_pix in _chunks(x_count, max_pairs):
                owner, rank = _expand(x_count[r_lo:r_hi], n_pix)
                owner += r_lo
                k = k_start.index_select(0, owner) + k_step.index_select(0, owner) * rank.to(torch.float32)
                # Positive float32 values order like their bit patterns read as int32, so the key
                # (distance bits << 31 | face of the flattened batch) takes the nearest face, then
                # the lowest index (a pixel only ever sees faces of its own batch element).
                distance = 1.0 / k.clamp_min(1e-30) if perspective else k.clamp_min(0.0)
                key = (distance.view(torch.int32).long() << _FACE_BITS) | row_face.index_select(0, owner)
                buffer.scatter_reduce_(0, row_pixel.index_select(0, owner) + rank, key, reduce="amin", include_self=True)

        # Barycentrics and depth of the winning face, once per covered pixel.
        covered = torch.nonzero(buffer != _INT64_MAX).squeeze(1)
        winner = buffer.index_select(0, covered) & (2**_FACE_BITS - 1)
        c = coeffs.index_select(1, winner)
        within = covered - face_base.index_select(0, winner)
        rows = within // width
        xs = (within - rows * width).to(torch.float32) + 0.5
        z, w = _depth_and_bary(c, xs, rows.to(torch.float32) + 0.5, perspective)
        face_id.index_copy_(0, covered, face_local.index_select(0, winner))
        bary.index_copy_(0, covered, w)
        depth_img.index_copy_(0, covered, z)
    return Fragments(face_id.view(batch, height, width), bary.view(batch, height, width, 3), depth_img.view(batch, height, width), covered,
                     num_faces)
