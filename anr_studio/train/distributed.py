"""The process's place in a torchrun job (``env://``: NCCL on CUDA, gloo on the CPU; a plain run is rank 0 of
1) and the few collective operations we need."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass
class DistInfo:
    """Rank, number of processes and local rank (the GPU index on this node)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Returns True on rank 0, the only rank that writes files."""
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        """Returns True when more than one process trains together."""
        return self.world > 1


def init_distributed(device_type: str) -> DistInfo:
    """Returns this process's DistInfo, initialising the process group when WORLD_SIZE > 1."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        backend = "nccl" if device_type == "cuda" else "gloo"
        if device_type == "cuda":
            torch.cuda.set_device(local)
        dist.init_process_group(backend=backend, init_method="env://", rank=rank, world_size=world)
    return DistInfo(rank=rank, world=world, local_rank=local)


def average_gradients(params: list[torch.nn.Parameter], info: DistInfo) -> None:
    """Averages the gradients of ``params`` over all ranks in place with one all-reduce of a flat copy (no host sync)."""
    if not info.enabled:
        return
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= info.world
    offset = 0
    for g in grads:
        g.copy_(flat[offset:offset + g.numel()].view_as(g))
        offset += g.numel()


def broadcast_from_main(modules: list[torch.nn.Module | None], info: DistInfo) -> None:
    """Copies rank 0's parameters and buffers of ``modules`` (None entries skipped) to every rank, as DDP does at setup."""
    if not info.enabled:
        return
    for module in modules:
        if module is None:
            continue
        with torch.no_grad():
            for t in [*module.parameters(), *module.buffers()]:
                flat = t.detach().contiguous()  # channels_last weights travel as a contiguous copy
                dist.broadcast(flat, src=0)
                if flat.data_ptr() != t.data_ptr():
                    t.copy_(flat)


def shutdown(info: DistInfo) -> None:
    """Destroys the process group if this process created one."""
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()


def all_reduce_max(flag: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Returns the element-wise maximum of ``flag`` over all ranks (on the device, no host sync)."""
    if info.enabled:
        flag = flag.clone()
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    return flag
