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

from collections import Counter
from typing import Callable, Hashable

import torch

Outputs = tuple[dict[str, torch.Tensor], torch.Tensor]
StepFn = Callable[[dict[str, torch.Tensor]], Outputs]


class _Graph:
    def __init__(self, graph: torch.cuda.CUDAGraph | None, outputs: Outputs | None) -> None:
        self.graph, self.outputs = graph, outputs


def _copies(outputs: Outputs) -> Outputs:
    terms, flag = outputs
    return {k: v.clone() for k, v in terms.items()}, flag.clone()


class StepGraphs:
    """Runs ``fn(inputs) -> (terms, flag)`` per key: eagerly for the key's first ``warmup`` calls, then as a graph.

    Inputs are copied into static buffers (one set per input signature, shared by all keys);
    the first ``warmup`` calls of a key run ``fn`` on them eagerly on a side stream (cudnn
    autotuning, lazy optimiser state), the next one captures ``fn`` into a graph of the shared
    pool, and every call from then on replays it. Outputs are always fresh copies.
    ``capture=False`` (the CPU, tests) takes the same path but calls ``fn`` where it would replay.
    """

    def __init__(self, device: torch.device, warmup: int = 3, capture: bool = True) -> None:
        self.device, self.warmup, self.capture = device, int(warmup), bool(capture)
        self.pool = torch.cuda.graph_pool_handle() if self.capture else None
        self._side = torch.cuda.Stream(device) if self.capture else None
        self._inputs: dict[tuple, dict[str, torch.Tensor]] = {}
        self._graphs: dict[Hashable, _Graph] = {}
        self._calls: Counter = Counter()

    @property
    def captured(self) -> int:
        """Returns how many graphs have been captured (or, with ``capture=False``, would have been)."""
        return len(self._graphs)

    def release(self) -> None:
        """Drops every captured graph and its outputs; later calls warm up and capture again.

        A graph that captured NCCL collectives pins the communicator: destroying the process
        group waits until such graphs are gone.
        """
        if self.capture:
            torch.cuda.synchronize(self.device)  # no replay may still run
        self._graphs.clear()
        self._calls.clear()

    def __call__(self, key: Hashable, fn: StepFn, inputs: dict[str, torch.Tensor]) -> Outputs:
        """Returns copies of ``fn``'s (terms, flag) for ``inputs``, computed eagerly or by replaying ``key``'s graph.

        ``fn`` must compute the same work for the same ``key`` (it is captured once per key and
        input signature).
        """
        signature = tuple((k, tuple(v.shape), v.stride(), v.dtype) for k, v in sorted(inputs.items()))
        static = self._static(signature, inputs)
        full_key = (key, signature)
        entry = self._graphs.get(full_key)
        if entry is None:
            self._calls[full_key] += 1
            if self._calls[full_key] <= self.warmup:
                return self._eager(fn, static)
            entry = self._graphs[full_key] = self._capture(fn, static)
        if entry.graph is None:
            return _copies(fn(static))
        entry.graph.replay()
        return _copies(entry.outputs)

    def _static(self, signature: tuple, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        static = self._inputs.get(signature)
        if static is None:
            # empty_like keeps each input's strides (channels_last frames stay channels_last).
            static = self._inputs[signature] = {k: torch.empty_like(v) for k, v in inputs.items()}
        for k, v in inputs.items():
            static[k].copy_(v)
        return static

    def _eager(self, fn: StepFn, static: dict[str, torch.Tensor]) -> Outputs:
        if not self.capture:
            return _copies(fn(static))
        # The side stream, as in PyTorch's whole-network capture example: lazy per-stream state
        # (cudnn handles, autograd's stream bookkeeping) is set up away from the capture stream.
        main = torch.cuda.current_stream(self.device)
        self._side.wait_stream(main)
        with torch.cuda.stream(self._side):
            outputs = fn(static)
        main.wait_stream(self._side)
        return _copies(outputs)

    def _capture(self, fn: StepFn, static: dict[str, torch.Tensor]) -> _Graph:
        if not self.capture:
            return _Graph(None, None)
        graph = torch.cuda.CUDAGraph()
        # thread_local: the DataLoader's pin-memory thread may allocate pinned memory meanwhile.
        with torch.cuda.graph(graph, pool=self.pool, capture_error_mode="thread_local"):
            outputs = fn(static)
        return _Graph(graph, outputs)
