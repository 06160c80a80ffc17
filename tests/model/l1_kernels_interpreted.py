"""Runs the `l1_triton` kernels under Triton's interpreter (see norm_kernels_interpreted for why a fresh process).

``python -m tests.model.l1_kernels_interpreted OUT.pt`` saves, per case of `l1_inputs`, the value
of `_L1Mean` and the gradient of ``3 * value`` with respect to ``a``.
"""

from __future__ import annotations

import sys

import torch

CASES = ("float32", "bfloat16-channels-last", "ties")


def l1_inputs(case: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Returns (a, b) for ``case``: sizes off the kernels' 4096-element blocks, a layout, ties (a == b)."""
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(2, 6, 23, 31, generator=g), torch.randn(2, 6, 23, 31, generator=g)
    if case == "bfloat16-channels-last":
        a, b = (t.to(torch.bfloat16).contiguous(memory_format=torch.channels_last) for t in (a, b))
    if case == "ties":
        b = torch.where(a > 0, a, b)
    return a, b


def run_kernels() -> dict:
    """Returns {case: (value, grad of 3 * value w.r.t. a)} of the Triton kernels (interpreted on CPU tensors)."""
    from anr_studio.model import l1_triton
    from anr_studio.model.losses import _L1Mean

    results = {}
    for case in CASES:
        a, b = l1_inputs(case)
        assert l1_triton.flat_compatible(a, b)
        a.requires_grad_()
        value = _L1Mean.apply(a, b, l1_triton)
        (grad,) = torch.autograd.grad(3 * value, a)
        results[case] = (value.detach(), grad)
    return results


if __name__ == "__main__":
    torch.save(run_kernels(), sys.argv[1])
