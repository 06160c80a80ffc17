"""DistributedDataParallel on the CPU (gloo): two ranks see different frames and end with identical weights."""

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
    from tests.train.helpers import tiny_body
    from tests.train.test_trainer import small

    trainer = Trainer(small("tiny", "optim.steps=3", "optim.split_optimization=true"), captures, out, device="cpu",
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


@pytest.mark.slow
def test_two_gloo_ranks_end_with_identical_weights(tmp_path, captures):
    world, port = 2, _free_port()
    results = [str(tmp_path / f"rank{r}.safetensors") for r in range(world)]
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_worker, args=(r, world, port, captures, str(tmp_path / "run"), results[r]))
             for r in range(world)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=240)
        assert p.exitcode == 0
    a, b = (load_file(r) for r in results)
    assert not torch.equal(a.pop("frames"), b.pop("frames"))  # each rank trained on its own shard
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    # Training moved the weights, and only rank 0 wrote the run folder (checkpoint_every=1, keep 2).
    assert any(not torch.equal(a[k], a[f"init.{k[2:]}"]) for k in a if k.startswith("r."))
    assert (tmp_path / "run" / "avatar.anr").exists()
    assert sorted(p.name for p in (tmp_path / "run" / "checkpoints").glob("*.json")) == [
        "step-00000002.json", "step-00000003.json"]
