"""Triton kernels of the channels_last instance norm and conv bias + activation (CUDA only; imported lazily by `unet`).

Layout (B, H, W, C), i.e. channels_last (B, C, H, W); the first input ``u`` may be a channel slice of a
wider tensor (pixel stride > C).
- ``nhwc_stats``: per (image, channel) fp32 sums of ``u`` and ``u * v`` over H*W in one read (atomic_add).
- ``nhwc_affine``: ``out = a * u + b * v + c`` with per-(image, channel) fp32 coefficients, one read and write.
Both fuse an optional leaky ReLU (``slope``; 0 is ReLU); backward multiplies ``u`` by act'(scale * v + shift)
recomputed from ``v``. ``bias_act`` / ``bias_act_grad``: a conv's bias plus activation for layers without norm.
Torch ops would take the slow non-vectorised broadcast path and need a temporary for the product sums.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl


@triton.jit
def _stats_kernel(u_ptr, v_ptr, out1_ptr, out2_ptr, scale_ptr, shift_ptr, g_ptr, slope, HW, C, U_ROW, ROWS_PER_PROG,
                  HAS_V: tl.constexpr, ACT_GRAD: tl.constexpr, STORE_G: tl.constexpr, R: tl.constexpr,
                  BLOCK_C: tl.constexpr):
    b = tl.program_id(0).to(tl.int64)
    slab = tl.program_id(1)
    cs = tl.program_id(2) * BLOCK_C + tl.arange(0, BLOCK_C)
    cmask = cs < C
    acc1 = tl.zeros((BLOCK_C,), dtype=tl.float32)
    acc2 = tl.zeros((BLOCK_C,), dtype=tl.float32)
    if ACT_GRAD:
        scale = tl.load(scale_ptr + b * C + cs, mask=cmask, other=0.0)[None, :]
        shift = tl.load(shift_ptr + b * C + cs, mask=cmask, other=0.0)[None, :]
    row0 = slab * ROWS_PER_PROG
    base = b * HW * C
    for r in range(0, ROWS_PER_PROG, R):
        rows = row0 + r + tl.arange(0, R)
        m = (rows < HW)[:, None] & cmask[None, :]
        offs = base + rows.to(tl.int64)[:, None] * C + cs[None, :]
        u_offs = b * HW * U_ROW + rows.to(tl.int64)[:, None] * U_ROW + cs[None, :]
        u = tl.load(u_ptr + u_offs, mask=m, other=0.0).to(tl.float32)
        if HAS_V:
            v = tl.load(v_ptr + offs, mask=m, other=0.0).to(tl.float32)
            if ACT_GRAD:  # the gradient of act(y) is g * act'(y), y = the norm's output
                u = tl.where(v * scale + shift > 0, u, u * slope)
            if STORE_G:
                tl.store(g_ptr + offs, u.to(g_ptr.dtype.element_ty), mask=m)
        else:
            v = u
        acc1 += tl.sum(u, axis=0)
        acc2 += tl.sum(u * v, axis=0)
    tl.atomic_add(out1_ptr + b * C + cs, acc1, mask=cmask, sem="relaxed")
    tl.atomic_add(out2_ptr + b * C + cs, acc2, mask=cmask, sem="relaxed")


@triton.jit
def _affine_kernel(u_ptr, v_ptr, a_ptr, b_ptr, c_ptr, scale_ptr, shift_ptr, out_ptr, slope, n, C, HWC, U_ROW,
                   HAS_V: tl.constexpr, ACT_OUT: tl.constexpr, ACT_GRAD: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    channel = offs % C
    bc = (offs // HWC) * C + channel
    u = tl.load(u_ptr + (offs // C) * U_ROW + channel, mask=m, other=0.0).to(tl.float32)
    if HAS_V:
        v = tl.load(v_ptr + offs, mask=m, other=0.0).to(tl.float32)
        if ACT_GRAD:  # as in _stats_kernel
            y = v * tl.load(scale_ptr + bc, mask=m, other=0.0) + tl.load(shift_ptr + bc, mask=m, other=0.0)
            u = tl.where(y > 0, u, u * slope)
    y = u * tl.load(a_ptr + bc, mask=m, other=0.0) + tl.load(c_ptr + bc, mask=m, other=0.0)
    if HAS_V:
        y += v * tl.load(b_ptr + bc, mask=m, other=0.0)
    if ACT_OUT:
        y = tl.where(y > 0, y, y * slope)
    tl.store(out_ptr + offs, y.to(out_ptr.dtype.element_ty), mask=m)


def _nhwc(x: torch.Tensor) -> torch.Tensor:
    """Returns the (B, H, W, C) contiguous view of a channels_last (B, C, H, W) tensor."""
    return x.permute(0, 2, 3, 1)


def pixel_stride(u: torch.Tensor) -> int:
    """Returns the pixel stride of (B, C, H, W) ``u`` whose pixels are rows of C contiguous channels, else 0."""
    batch, channels, height, width = u.shape
    row = u.stride(3)
    if u.stride(1) == 1 and row >= channels and u.stride(2) == width * row and u.stride(0) == height * width * row:
        return row
    return 0


def nhwc_stats(u: torch.Tensor, v: torch.Tensor | None = None,
               act_grad: tuple[torch.Tensor, torch.Tensor, float] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Returns (sum g, sum g*v) (B, C, 1, 1) float32 over H, W of channels_last (B, C, H, W) tensors (v = u if None);
    ``g`` is ``u``, or with ``act_grad`` = (scale, shift, slope), ``u`` times leaky ReLU' at ``scale * v + shift``."""
    return _stats(u, v, act_grad, None)


def _stats(u, v, act_grad, g_out):
    """Returns `nhwc_stats`; with ``g_out`` (v's layout), also stores g there."""
    batch, channels, height, width = u.shape
    hw = height * width
    out1 = torch.zeros((batch, channels), dtype=torch.float32, device=u.device)
    out2 = torch.zeros_like(out1)
    scale, shift, slope = _act_arguments(batch, channels, act_grad, None, out1)
    # Tiles of 128 pixels x 128 channels, 256 pixels per program (the fastest for the paper preset's shapes);
    # 64 pixels when the kernel also stores g into a narrow tensor (the larger tile spills there).
    rows_per_prog, tile_rows = 256, 64 if g_out is not None and channels <= 64 else 128
    block_c = min(128, triton.next_power_of_2(channels))
    grid = (batch, triton.cdiv(hw, rows_per_prog), triton.cdiv(channels, block_c))
    _stats_kernel[grid](_nhwc(u), _nhwc(v) if v is not None else u, out1, out2, scale, shift,
                        _nhwc(g_out) if g_out is not None else out1, slope, hw, channels, _row_stride(u),
                        rows_per_prog, HAS_V=v is not None, ACT_GRAD=act_grad is not None and v is not None,
                        STORE_G=g_out is not None, R=tile_rows, BLOCK_C=block_c, num_warps=4)
    return out1.view(batch, channels, 1, 1), out2.view(batch, channels, 1, 1)


def nhwc_affine(u: torch.Tensor, a: torch.Tensor, c: torch.Tensor, v: torch.Tensor | None = None,
                b: torch.Tensor | None = None, slope: float | None = None,
                act_grad: tuple[torch.Tensor, torch.Tensor, float] | None = None) -> torch.Tensor:
    """Returns a*g + b*v + c (channels_last, u's dtype) for per-(image, channel) fp32 a, b, c (B, C, 1, 1); ``g`` as in
    `nhwc_stats`; with ``slope`` the result goes through that leaky ReLU; ``v`` and the result are contiguous."""
    batch, channels, height, width = u.shape
    out = torch.empty_like(u, memory_format=torch.channels_last)
    n = u.numel()
    block = 2048
    coeff = _coefficients(batch, channels, a, b if b is not None else a, c)
    scale, shift, slope_value = _act_arguments(batch, channels, act_grad, slope, coeff[0])
    _affine_kernel[(triton.cdiv(n, block),)](
        _nhwc(u), _nhwc(v) if v is not None else u, *coeff, scale, shift, _nhwc(out), slope_value, n, channels,
        height * width * channels, _row_stride(u), HAS_V=v is not None, ACT_OUT=slope is not None,
        ACT_GRAD=act_grad is not None and v is not None, BLOCK=block, num_warps=8)
    return out


def bias_act(y: torch.Tensor, bias: torch.Tensor, slope: float) -> torch.Tensor:
    """Returns leaky_relu(y + bias, slope) (channels_last, y's dtype) for channels_last (B, C, H, W) ``y`` and (C,) ``bias``."""
    batch, channels = y.shape[:2]
    ones = torch.ones((batch, channels, 1, 1), dtype=torch.float32, device=y.device)
    return nhwc_affine(y, ones, bias.float().view(1, channels, 1, 1).expand(batch, channels, 1, 1), slope=slope)


def bias_act_grad(grad: torch.Tensor, out: torch.Tensor, slope: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Returns (d y, d bias (C,) float32) of `bias_act` from its output ``out`` and the gradient ``grad`` of it, in one pass."""
    batch, channels = out.shape[:2]
    ones = torch.ones((batch, channels, 1, 1), dtype=torch.float32, device=out.device)
    dy = torch.empty_like(out, memory_format=torch.channels_last)
    # act'(y) from the output's sign: leaky ReLU keeps it for slopes >= 0.
    s_g, _ = _stats(grad, out, (ones, torch.zeros_like(ones), slope), dy)
    return dy, s_g.sum(dim=0).flatten()


def _row_stride(u: torch.Tensor) -> int:
    """Returns the pixel stride of ``u`` for the kernels (raises where u's pixels are not rows of channels)."""
    row = pixel_stride(u)
    if not row:
        raise ValueError(f"norm_triton: strides {u.stride()} of shape {tuple(u.shape)} are not channels_last rows")
    return row


def _coefficients(batch: int, channels: int, *tensors: torch.Tensor) -> list[torch.Tensor]:
    """Returns each (B, C, 1, 1) coefficient as a contiguous (B, C) float32 tensor."""
    return [t.float().reshape(batch, channels).contiguous() for t in tensors]


def _act_arguments(batch: int, channels: int, act_grad: tuple[torch.Tensor, torch.Tensor, float] | None,
                   slope: float | None, placeholder: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Returns the kernels' (scale, shift, slope) arguments; ``placeholder`` stands in for unused tensors."""
    if act_grad is not None:
        return (*_coefficients(batch, channels, *act_grad[:2]), float(act_grad[2]))
    return placeholder, placeholder, float(slope) if slope is not None else 0.0
