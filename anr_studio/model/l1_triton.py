"""Triton kernels of mean|a - b| and its gradient (CUDA only; imported lazily by `losses`).

For feature matching: ~10 bytes per bf16 element moved instead of ~60 in torch ops; the fp32 partial sums
per block are summed by torch (deterministic). ``a`` and ``b`` must be dense with the same strides
(`l1_mean` checks; callers fall back to torch ops).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

BLOCK = 4096


@triton.jit
def _l1_sum_kernel(a_ptr, b_ptr, partial_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    a = tl.load(a_ptr + offs, mask=m, other=0.0).to(tl.float32)
    b = tl.load(b_ptr + offs, mask=m, other=0.0).to(tl.float32)
    tl.store(partial_ptr + tl.program_id(0), tl.sum(tl.abs(a - b), axis=0))


@triton.jit
def _l1_grad_kernel(a_ptr, b_ptr, scale_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    a = tl.load(a_ptr + offs, mask=m, other=0.0).to(tl.float32)
    b = tl.load(b_ptr + offs, mask=m, other=0.0).to(tl.float32)
    scale = tl.load(scale_ptr)
    sign = tl.where(a > b, 1.0, tl.where(a < b, -1.0, 0.0))
    tl.store(out_ptr + offs, (sign * scale).to(out_ptr.dtype.element_ty), mask=m)


def flat_compatible(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Returns True where the kernels may run on ``a`` and ``b`` as flat memory (same shape, dtype, strides, dense)."""
    dense = a.is_contiguous() or (a.dim() == 4 and a.is_contiguous(memory_format=torch.channels_last))
    return a.shape == b.shape and a.dtype == b.dtype and a.stride() == b.stride() and dense and a.numel() > 0


def l1_sum(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Returns sum|a - b| (0-dim float32) of two `flat_compatible` tensors."""
    n = a.numel()
    partial = torch.empty(triton.cdiv(n, BLOCK), dtype=torch.float32, device=a.device)
    _l1_sum_kernel[(partial.numel(),)](a, b, partial, n, BLOCK=BLOCK, num_warps=8)
    return partial.sum()


def l1_grad(a: torch.Tensor, b: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Returns sign(a - b) * scale in ``a``'s dtype and layout; ``scale`` a 0-dim float32 device tensor."""
    out = torch.empty_like(a)
    n = a.numel()
    _l1_grad_kernel[(triton.cdiv(n, BLOCK),)](a, b, scale.float().reshape(1), out, n, BLOCK=BLOCK, num_warps=8)
    return out
