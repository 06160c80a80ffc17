"""Returns a training step's outputs replayed from CUDA graphs: one graph per step key, one shared memory pool. The
step must make no host syncs, use capturable or fused optimisers whose state exists, keep learning rates constant,
and need nothing it allocates but its outputs, which are copied at once."""

from __future__ import annotations

from typing import Callable, Hashable

import torch

from anr_studio.model.graphed import GraphCache

Outputs = tuple[dict[str, torch.Tensor], torch.Tensor]
StepFn = Callable[[dict[str, torch.Tensor]], Outputs]


class StepGraphs:
    """Runs ``fn(inputs) -> (terms, flag)`` per key through a `GraphCache`, inputs copied into static buffers per
    signature, outputs copied; uncaptured on the CPU."""

    def __init__(self, device: torch.device, warmup: int = 3) -> None:
        self.device = torch.device(device)
        self.graphs = GraphCache(warmup, shared_pool=True)
        self._inputs: dict[tuple, dict[str, torch.Tensor]] = {}

    @property
    def captured(self) -> int:
        """Returns how many graphs have been captured (or, off CUDA, would have been)."""
        return self.graphs.captured

    def release(self) -> None:
        """Drops every graph and its outputs; later calls warm up and capture again (see `GraphCache.clear`)."""
        self.graphs.clear()

    def __call__(self, key: Hashable, fn: StepFn, inputs: dict[str, torch.Tensor]) -> Outputs:
        """Returns copies of ``fn``'s (terms, flag) for ``inputs``, eager or replayed; ``fn`` does the same work per ``key``."""
        signature = tuple((k, tuple(v.shape), v.stride(), v.dtype) for k, v in sorted(inputs.items()))
        static = self._inputs.get(signature)
        if static is None:
            # empty_like keeps each input's strides (channels_last frames stay channels_last).
            static = self._inputs[signature] = {k: torch.empty_like(v) for k, v in inputs.items()}
        for k, v in inputs.items():
            static[k].copy_(v)
        terms, flag = self.graphs.run((key, signature), lambda: fn(static), self.device)
        return {k: v.clone() for k, v in terms.items()}, flag.clone()
