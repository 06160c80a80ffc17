"""Runs the `norm_triton` kernels, with and without the fused activation, under Triton's interpreter.

``python -m tests.model.norm_kernels_interpreted OUT.pt`` (with ``TRITON_INTERPRET=1`` set before
Triton is first imported, which is why tests run it in a fresh process) saves, per slope, the
output of `_InstanceNormNHWC` with the kernels and the gradients of ``(y * grad).sum()``.
"""

from __future__ import annotations

import sys

import torch

SLOPES = (None, 0.0, 0.2)


def norm_inputs(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Returns float32 (x channels_last (2, 5, 6, 7), weight, bias, grad): C and H*W off the kernels' blocks."""
    g = torch.Generator().manual_seed(seed)
    x = (torch.randn(2, 5, 6, 7, generator=g) * 2 + 1).contiguous(memory_format=torch.channels_last)
    return x, torch.randn(5, generator=g), torch.randn(5, generator=g), torch.randn(2, 5, 6, 7, generator=g)


def run_kernels() -> dict:
    """Returns {slope: (y, dx, dweight, dbias)} of the Triton kernels (interpreted on CPU tensors)."""
    from anr_studio.model import norm_triton
    from anr_studio.model.unet import _InstanceNormNHWC

    results = {}
    for slope in SLOPES:
        x, w, b, grad = (t.requires_grad_() if i < 3 else t for i, t in enumerate(norm_inputs()))
        y = _InstanceNormNHWC.apply(x, w, b, 1e-5, norm_triton, slope)
        grads = torch.autograd.grad(y, (x, w, b), grad.contiguous(memory_format=torch.channels_last))
        results[slope] = (y.detach(), *grads)
    return results


if __name__ == "__main__":
    torch.save(run_kernels(), sys.argv[1])
