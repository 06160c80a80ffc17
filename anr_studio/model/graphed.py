"""CUDA graphs: `GraphCache`, the one capture helper (also of `train.step_graph` and `avatar.frame`), and
`GraphedRenderer`, the renderer replayed per input shape."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable, TypeVar

import torch
from torch import nn

from anr_studio.model.renderer import RenderOutput

T = TypeVar("T")


@dataclass
class _Entry:
    """One key: its eager calls so far, the caller's static buffers, and once captured the graph and its outputs."""

    calls: int = 0
    captured: bool = False
    buffers: Any = None
    graph: torch.cuda.CUDAGraph | None = None
    graph_device: torch.device | None = None
    outputs: Any = field(default=None, repr=False)


class GraphCache:
    """Returns ``fn()``'s outputs per key: eager for the key's first ``warmup`` calls, then from a CUDA graph.

    The eager calls (on a side stream) let Triton compile, cuDNN choose and lazy state fill; then ``fn`` is
    captured (thread-local mode) and replayed. ``fn`` must read its inputs from buffers fixed per key
    (`buffers`), make no host syncs and allocate nothing kept but its outputs, which the next replay
    overwrites: callers copy what they keep. ``max_graphs`` (0: no bound) keeps the most recently used keys;
    ``shared_pool`` captures all graphs into one memory pool (replays must not overlap). Off CUDA ``fn`` runs eagerly."""

    def __init__(self, warmup: int = 3, max_graphs: int = 0, shared_pool: bool = False) -> None:
        self.warmup, self.max_graphs, self.shared_pool = int(warmup), int(max_graphs), bool(shared_pool)
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._sides: dict[torch.device, torch.cuda.Stream] = {}
        self._pool = None

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def captured(self) -> int:
        """Returns how many keys are past their warm-up (captured on CUDA, run uncaptured elsewhere)."""
        return sum(e.captured for e in self._entries.values())

    def clear(self) -> None:
        """Drops every key, its buffers and its graph once the device is idle (graphs holding NCCL collectives pin it)."""
        for device in {e.graph_device for e in self._entries.values() if e.graph is not None}:
            torch.cuda.synchronize(device)
        self._entries.clear()

    def buffers(self, key: Hashable, make: Callable[[], T]) -> T:
        """Returns the static buffers of ``key``, made by ``make()`` on its first use and kept as long as the key."""
        entry = self._entry(key)
        if entry.buffers is None:
            entry.buffers = make()
        return entry.buffers

    def run(self, key: Hashable, fn: Callable[[], T], device: torch.device) -> T:
        """Returns ``fn()``'s outputs for ``key`` on ``device``, eager or replayed; ``fn`` must do the same work every call."""
        entry, device = self._entry(key), torch.device(device)
        if not entry.captured:
            if entry.calls < self.warmup:
                entry.calls += 1
                return self._eager(fn, device)
            if device.type == "cuda":
                entry.graph, entry.outputs = self._capture(fn, device)
                entry.graph_device = device
            entry.captured = True
        if entry.graph is None:
            return fn()
        entry.graph.replay()
        return entry.outputs

    def _entry(self, key: Hashable) -> _Entry:
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = _Entry()
            while self.max_graphs and len(self._entries) > self.max_graphs:
                self._entries.popitem(last=False)
        else:
            self._entries.move_to_end(key)
        return entry

    def _eager(self, fn: Callable[[], T], device: torch.device) -> T:
        if device.type != "cuda":
            return fn()
        side = self._sides.get(device)
        if side is None:
            side = self._sides[device] = torch.cuda.Stream(device)
        main = torch.cuda.current_stream(device)
        side.wait_stream(main)
        with torch.cuda.stream(side):
            outputs = fn()
        main.wait_stream(side)
        return outputs

    def _capture(self, fn: Callable[[], T], device: torch.device) -> tuple[torch.cuda.CUDAGraph, T]:
        if self.shared_pool and self._pool is None:
            self._pool = torch.cuda.graph_pool_handle()
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.device(device), torch.cuda.graph(graph, pool=self._pool, capture_error_mode="thread_local"):
            outputs = fn()
        return graph, outputs


class GraphedRenderer(nn.Module):
    """Returns the wrapped renderer's RenderOutput (copies) for (neural (B,C,H,W), normals (B,3,H,W)): under
    ``torch.no_grad`` on CUDA replayed from a graph per (shape, dtype, layout, autocast), at most ``max_graphs``
    (weights read in place); otherwise eager."""

    def __init__(self, renderer: nn.Module, max_graphs: int = 4, warmup: int = 3) -> None:
        super().__init__()
        self.renderer = renderer
        self.graphs = GraphCache(warmup, max_graphs)

    def forward(self, neural: torch.Tensor, normals: torch.Tensor) -> RenderOutput:
        """Returns RenderOutput(rgb, mask_logits, coarse_rgb) like the wrapped renderer (copies of the graph's outputs)."""
        if not neural.is_cuda or torch.is_grad_enabled():
            return self.renderer(neural, normals)
        autocast = torch.is_autocast_enabled("cuda")
        amp_dtype = torch.get_autocast_dtype("cuda") if autocast else torch.bfloat16
        key = (tuple(neural.shape), neural.dtype, neural.stride(), tuple(normals.shape), normals.dtype, normals.stride(),
               autocast, amp_dtype, neural.device)
        # empty_like keeps each input's strides (the key holds them).
        static = self.graphs.buffers(key, lambda: (torch.empty_like(neural), torch.empty_like(normals)))
        static[0].copy_(neural)
        static[1].copy_(normals)

        def step() -> RenderOutput:
            # cache_enabled=False: cast weights must not outlive the capture in autocast's cache.
            with torch.autocast("cuda", dtype=amp_dtype, enabled=autocast, cache_enabled=False):
                return self.renderer(*static)

        out = self.graphs.run(key, step, neural.device)
        return RenderOutput(*(None if t is None else t.clone() for t in (out.rgb, out.mask_logits, out.coarse_rgb)))
