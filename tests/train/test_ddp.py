"""Distributed training on the CPU (gloo): two ranks see different frames and end with identical weights.

DDP (graphs off) and the graphed step's explicit gradient all-reduces (run uncaptured on the CPU)
train alike.
"""

import os
import socket
import sys
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from safetensors.torch import load_file, save_file

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, captures: list[str], out: str, result: str) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    torch.set_num_threads(1)
    from anr_studio.train import distributed
    from anr_studio.train.trainer import Trainer
    from tests.train.helpers import leave_worker, tiny_body
    from tests.train.test_trainer import small

    trainer = Trainer(small("tiny", "optim.steps=3", "optim.split_optimization=true", "optim.checkpoint_every=1"), captures, out, device="cpu",
                      body=tiny_body())
    frames = []
    original = trainer.train_step

    def spy(batch, prepared=None):
        frames.append(batch["index"].clone())
        return original(batch, prepared)

    trainer.train_step = spy
    initial = {f"init.{k}": v.clone().contiguous() for k, v in trainer.renderer.state_dict().items()}
    trainer.run()
    state = {f"r.{k}": v.contiguous() for k, v in trainer.renderer.state_dict().items()}
    state.update({f"t.{i}": t.texture.detach().contiguous() for i, t in enumerate(trainer.textures)})
    state.update({f"d.{k}": v.contiguous() for k, v in trainer.disc.state_dict().items()})
    state["frames"] = torch.cat(frames)
    state.update(initial)
    save_file(state, result)
    distributed.shutdown(trainer.dist)
    leave_worker()


def _spawn(target, tmp_path, captures) -> list[dict[str, torch.Tensor]]:
    """Returns each rank's saved tensors after running ``target`` on 2 gloo ranks."""
    world, port = 2, _free_port()
    results = [str(tmp_path / f"rank{r}.safetensors") for r in range(world)]
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=target, args=(r, world, port, captures, str(tmp_path / "run"), results[r]))
             for r in range(world)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=240)
        assert p.exitcode == 0
    return [load_file(r) for r in results]


def _graph_worker(rank: int, world: int, port: int, captures: list[str], out: str, result: str) -> None:
    """Trains the same run twice, with DDP (graphs off) and with the graph path on the CPU; saves both."""
    sys.path.insert(0, str(ROOT))
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    torch.set_num_threads(1)
    from torch.nn.parallel import DistributedDataParallel

    from anr_studio.train import trainer as trainer_module
    from anr_studio.train.trainer import Trainer
    from tests.train.helpers import leave_worker, tiny_body
    from tests.train.test_trainer import small

    trainer_module.GRAPH_DEVICES, trainer_module.GRAPH_WARMUP = ("cuda", "cpu"), 1  # as the graphs_on_cpu fixture
    build = trainer_module.build_renderer
    state = {}
    for graph in (False, True):
        if graph and rank == 1:  # other start weights here: setup must copy rank 0's, as DDP does
            trainer_module.build_renderer = lambda *args: build(*args).apply(
                lambda m: [p.data.add_(0.1) for p in m.parameters(recurse=False)])
        config = small("tiny", "optim.steps=6", "optim.split_optimization=true", "optim.checkpoint_every=100",
                       f"optim.cuda_graph={str(graph).lower()}")
        trainer = Trainer(config, captures, f"{out}-{graph}", device="cpu", body=tiny_body())
        assert isinstance(trainer._renderer_fwd, DistributedDataParallel) != graph
        assert (trainer._graphs is not None) == graph
        trainer.run()
        tag = "g" if graph else "e"
        state.update({f"{tag}.r.{k}": v.contiguous() for k, v in trainer.renderer.state_dict().items()})
        state.update({f"{tag}.t.{i}": t.texture.detach().contiguous() for i, t in enumerate(trainer.textures)})
        state.update({f"{tag}.d.{k}": v.contiguous() for k, v in trainer.disc.state_dict().items()})
        if graph:
            state["captured"] = torch.tensor(trainer._graphs.captured)
    save_file(state, result)
    trainer.close()
    leave_worker()


@pytest.mark.slow
def test_two_gloo_ranks_end_with_identical_weights(tmp_path, captures):
    a, b = _spawn(_worker, tmp_path, captures)
    assert not torch.equal(a.pop("frames"), b.pop("frames"))  # each rank trained on its own shard
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    # Training moved the weights, and only rank 0 wrote the run folder (checkpoint_every=1, keep 2).
    assert any(not torch.equal(a[k], a[f"init.{k[2:]}"]) for k in a if k.startswith("r."))
    assert (tmp_path / "run" / "avatar.anr").exists()
    assert sorted(p.name for p in (tmp_path / "run" / "checkpoints").glob("*.json")) == [
        "step-00000002.json", "step-00000003.json"]


@pytest.mark.slow
def test_graph_path_averages_gradients_like_ddp(tmp_path, captures):
    a, b = _spawn(_graph_worker, tmp_path, captures)
    assert int(a.pop("captured")) >= 2 and int(b.pop("captured")) >= 2  # both step kinds took the graph path
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k  # the ranks agree, under DDP and under explicit all-reduces
    for k in (k for k in a if k.startswith("e.")):
        eager, graphed = a[k], a["g." + k[2:]]
        # Same training up to the order of float sums (DDP's buckets vs one flat all-reduce).
        assert torch.allclose(graphed, eager, rtol=1e-4, atol=1e-5), (k, float((graphed - eager).abs().max()))
