"""Returns a training step's outputs replayed from CUDA graphs: one graph per step key, one shared memory pool.

Why: the step is host-bound (~6500 kernel launches per paper step, ~4500 per fast step, each
costing Python dispatch, autograd and autocast time); a captured graph launches them all with one
call. What the captured function must do: no host syncs, optimisers with ``capturable=True`` (or
fused) whose state already exists (the eager warm-up calls create it), learning rates constant
(they are baked into the graph), and nothing it allocates may be needed after the step except the
returned outputs, which are copied at once: the graphs share one pool, so each graph's scratch
memory (gradients included) is another graph's scratch memory too, and the replay order is free.
"""

from __future__ import annotations

from typing import Callable, Hashable

import torch

from anr_studio.model.graphed import GraphCache

Outputs = tuple[dict[str, torch.Tensor], torch.Tensor]
StepFn = Callable[[dict[str, torch.Tensor]], Outputs]


def _copies(outputs: Outputs) -> Outputs:
    terms, flag = outputs
    return {k: v.clone() for k, v in terms.items()}, flag.clone()


class StepGraphs:
    """Runs ``fn(inputs) -> (terms, flag)`` per key through a `GraphCache`: eager warm-up calls, then a graph.

    Inputs are copied into static buffers (one set per input signature, shared by all keys);
    outputs are always fresh copies. On the CPU (tests) the same path runs uncaptured.
    """

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
        """Returns copies of ``fn``'s (terms, flag) for ``inputs``, computed eagerly or by replaying ``key``'s graph.

        ``fn`` must compute the same work for the same ``key`` (it is captured once per key and
        input signature).
        """
        signature = tuple((k, tuple(v.shape), v.stride(), v.dtype) for k, v in sorted(inputs.items()))
        static = self._inputs.get(signature)
        if static is None:
            # empty_like keeps each input's strides (channels_last frames stay channels_last).
            static = self._inputs[signature] = {k: torch.empty_like(v) for k, v in inputs.items()}
        for k, v in inputs.items():
            static[k].copy_(v)
        return _copies(self.graphs.run((key, signature), lambda: fn(static), self.device))
