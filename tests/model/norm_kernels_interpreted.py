"""Runs the `norm_triton` kernels (instance norm with and without the fused activation, conv bias + activation) under Triton's interpreter.

``python -m tests.model.norm_kernels_interpreted OUT.pt`` (with ``TRITON_INTERPRET=1`` set before
Triton is first imported, which is why tests run it in a fresh process) saves, per case, the
output and the input gradients of ``(y * grad).sum()``. The gradient is passed as it comes from
the U-Net's skip concatenation too: a channel slice of a wider channels_last tensor.
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


def sliced(grad: torch.Tensor) -> torch.Tensor:
    """Returns ``grad``'s values as the first half of the channels of a (B, 2C, H, W) channels_last tensor."""
    wide = torch.cat([grad, torch.randn_like(grad)], dim=1).contiguous(memory_format=torch.channels_last)
    return wide[:, : grad.shape[1]]


def run_kernels() -> dict:
    """Returns {("norm" | "norm-sliced" | "bias_act", slope): (y, input gradients...)} of the Triton kernels (interpreted, CPU tensors)."""
    from anr_studio.model.unet import _BiasActNHWC, _InstanceNormNHWC

    results = {}
    for slope in SLOPES:
        for case, layout in (("norm", lambda g: g.contiguous(memory_format=torch.channels_last)), ("norm-sliced", sliced)):
            x, w, b, grad = (t.requires_grad_() if i < 3 else t for i, t in enumerate(norm_inputs()))
            y = _InstanceNormNHWC.apply(x, w, b, 1e-5, True, slope)
            results[case, slope] = (y.detach(), *torch.autograd.grad(y, (x, w, b), layout(grad)))
        if slope is not None:
            x, _, b, grad = (t.requires_grad_() if i < 3 else t for i, t in enumerate(norm_inputs()))
            y = _BiasActNHWC.apply(x, b, slope)
            results["bias_act", slope] = (y.detach(), *torch.autograd.grad(y, (x, b), sliced(grad)))
    return results


if __name__ == "__main__":
    torch.save(run_kernels(), sys.argv[1])
