"""CUDA rasterization kernels in Triton: the torch rasterizer's per-pixel rule in two launches, no host sync.

1. ``_raster_kernel``: one program per face walks its bounding box in tiles and ``atomic_min``s the
   packed key ``float_bits(distance) << 31 | face`` per covered pixel (same edge slack as torch).
2. ``_resolve_kernel``: decodes the winners into face id, barycentrics and depth (background -1 / 0 / 0).
The per-face setup stays in torch (``rasterizer._face_setup``). Imported lazily: Triton is CUDA-only.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

_INT64_MAX = torch.iinfo(torch.int64).max


@triton.jit
def _raster_kernel(coeffs_ptr, bbox_ptr, buf_ptr, n_faces, faces_per_image, height, width, eps,
                   PERSPECTIVE: tl.constexpr, TILE_H: tl.constexpr, TILE_W: tl.constexpr):
    f = tl.program_id(0).to(tl.int64)
    # Coefficient rows (see rasterizer._face_setup): ox, oy (corner 0), a0..a2, b0..b2, q0..q2, k0, kx, ky;
    # s_i = [i == 0] + a_i (x - ox) + b_i (y - oy).
    ox = tl.load(coeffs_ptr + 0 * n_faces + f)
    oy = tl.load(coeffs_ptr + 1 * n_faces + f)
    a0 = tl.load(coeffs_ptr + 2 * n_faces + f)
    a1 = tl.load(coeffs_ptr + 3 * n_faces + f)
    a2 = tl.load(coeffs_ptr + 4 * n_faces + f)
    b0 = tl.load(coeffs_ptr + 5 * n_faces + f)
    b1 = tl.load(coeffs_ptr + 6 * n_faces + f)
    b2 = tl.load(coeffs_ptr + 7 * n_faces + f)
    k0 = tl.load(coeffs_ptr + 11 * n_faces + f)
    kx = tl.load(coeffs_ptr + 12 * n_faces + f)
    ky = tl.load(coeffs_ptr + 13 * n_faces + f)
    x0 = tl.load(bbox_ptr + 0 * n_faces + f)
    y0 = tl.load(bbox_ptr + 1 * n_faces + f)
    bw = tl.load(bbox_ptr + 2 * n_faces + f)
    bh = tl.load(bbox_ptr + 3 * n_faces + f)
    base = (f // faces_per_image) * height * width
    ys = tl.arange(0, TILE_H)[:, None]
    xs = tl.arange(0, TILE_W)[None, :]
    for ty in range(0, bh, TILE_H):
        for tx in range(0, bw, TILE_W):
            px = x0 + tx + xs  # (1, TILE_W) int64
            py = y0 + ty + ys  # (TILE_H, 1) int64
            dx = px.to(tl.float32) + 0.5 - ox
            dy = py.to(tl.float32) + 0.5 - oy
            s0 = (b0 * dy + (1.0 + eps)) + a0 * dx
            s1 = (b1 * dy + eps) + a1 * dx
            s2 = (b2 * dy + eps) + a2 * dx
            inside = (tx + xs < bw) & (ty + ys < bh) & (s0 >= 0) & (s1 >= 0) & (s2 >= 0)
            k = k0 + kx * dx + ky * dy
            if PERSPECTIVE:
                distance = 1.0 / tl.maximum(k, 1e-30)
            else:
                distance = tl.maximum(k, 0.0)
            key = (distance.to(tl.int32, bitcast=True).to(tl.int64) << 31) | f
            tl.atomic_min(buf_ptr + base + py * width + px, key, mask=inside, sem="relaxed")


@triton.jit
def _resolve_kernel(buf_ptr, coeffs_ptr, face_id_ptr, bary_ptr, depth_ptr, n_pixels, n_faces, faces_per_image,
                    height, width, PERSPECTIVE: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    inb = offs < n_pixels
    key = tl.load(buf_ptr + offs, mask=inb, other=0x7FFFFFFFFFFFFFFF)
    hit = inb & (key != 0x7FFFFFFFFFFFFFFF)
    winner = tl.where(hit, key & 0x7FFFFFFF, 0)
    ox = tl.load(coeffs_ptr + 0 * n_faces + winner, mask=hit, other=0.0)
    oy = tl.load(coeffs_ptr + 1 * n_faces + winner, mask=hit, other=0.0)
    a0 = tl.load(coeffs_ptr + 2 * n_faces + winner, mask=hit, other=0.0)
    a1 = tl.load(coeffs_ptr + 3 * n_faces + winner, mask=hit, other=0.0)
    a2 = tl.load(coeffs_ptr + 4 * n_faces + winner, mask=hit, other=0.0)
    b0 = tl.load(coeffs_ptr + 5 * n_faces + winner, mask=hit, other=0.0)
    b1 = tl.load(coeffs_ptr + 6 * n_faces + winner, mask=hit, other=0.0)
    b2 = tl.load(coeffs_ptr + 7 * n_faces + winner, mask=hit, other=0.0)
    q0 = tl.load(coeffs_ptr + 8 * n_faces + winner, mask=hit, other=1.0)
    q1 = tl.load(coeffs_ptr + 9 * n_faces + winner, mask=hit, other=1.0)
    q2 = tl.load(coeffs_ptr + 10 * n_faces + winner, mask=hit, other=1.0)
    hw = height * width
    image = offs // hw
    within = offs - image * hw
    row = within // width
    x = (within - row * width).to(tl.float32) + 0.5
    y = row.to(tl.float32) + 0.5
    s0 = a0 * (x - ox) + b0 * (y - oy) + 1.0
    s1 = a1 * (x - ox) + b1 * (y - oy)
    s2 = a2 * (x - ox) + b2 * (y - oy)
    if PERSPECTIVE:
        w0, w1, w2 = s0 * q0, s1 * q1, s2 * q2
        depth = 1.0 / (w0 + w1 + w2)
        s0, s1, s2 = w0 * depth, w1 * depth, w2 * depth
    else:
        depth = s0 * q0 + s1 * q1 + s2 * q2
    tl.store(face_id_ptr + offs, tl.where(hit, winner - image * faces_per_image, -1), mask=inb)
    tl.store(depth_ptr + offs, tl.where(hit, depth, 0.0), mask=inb)
    tl.store(bary_ptr + offs * 3 + 0, tl.where(hit, s0, 0.0), mask=inb)
    tl.store(bary_ptr + offs * 3 + 1, tl.where(hit, s1, 0.0), mask=inb)
    tl.store(bary_ptr + offs * 3 + 2, tl.where(hit, s2, 0.0), mask=inb)


def raster_triton(coeffs: torch.Tensor, bbox: torch.Tensor, batch: int, num_faces: int, height: int, width: int,
                  perspective: bool, eps: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Returns (face_id (B*H*W,) long, bary (B*H*W,3) float32, depth (B*H*W,) float32) on the CUDA device from
    ``rasterizer._face_setup``'s contiguous coeffs (14, B*F) float32 and bbox (4, B*F) long."""
    device = coeffs.device
    n_faces = batch * num_faces
    n_pixels = batch * height * width
    buffer = torch.full((n_pixels,), _INT64_MAX, dtype=torch.long, device=device)
    face_id = torch.empty((n_pixels,), dtype=torch.long, device=device)
    bary = torch.empty((n_pixels, 3), dtype=torch.float32, device=device)
    depth = torch.empty((n_pixels,), dtype=torch.float32, device=device)
    if n_faces:
        _raster_kernel[(n_faces,)](coeffs, bbox, buffer, n_faces, num_faces, height, width, eps,
                                   PERSPECTIVE=perspective, TILE_H=8, TILE_W=16, num_warps=4)
    block = 1024
    _resolve_kernel[(triton.cdiv(n_pixels, block),)](buffer, coeffs, face_id, bary, depth, n_pixels, n_faces, num_faces,
                                                     height, width, PERSPECTIVE=perspective, BLOCK=block, num_warps=4)
    return face_id, bary, depth
