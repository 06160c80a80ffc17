"""benchmarks/bench_ddp.py and ddp_worker.py: the comm-hook timer's arithmetic and that the timed hook averages like DDP."""

import importlib.util
import os
import socket
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

ROOT = Path(__file__).resolve().parents[2]


def _bench():
    spec = importlib.util.spec_from_file_location("ddp_worker", ROOT / "benchmarks" / "ddp_worker.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_summary_unions_overlapping_buckets_and_measures_the_exposed_tail():
    timer = _bench().CommTimer(cuda=False, first_step=0)
    # Seconds (wall clock on the CPU). Step 3, renderer: buckets [0,10] and [5,20] overlap, [30,40]
    # apart; step 3, discriminator: [50,52]; step 4, renderer: [1000,1004] and [1001,1006].
    timer.buckets = {(3, "renderer"): [[0.000, 0.010], [0.005, 0.020], [0.030, 0.040]],
                     (3, "discriminator"): [[0.050, 0.052]], (4, "renderer"): [[1.000, 1.004], [1.001, 1.006]]}
    timer.texture = {3: [[2.0, 2.002]]}
    s = timer.summary()
    # In flight: step 3 = 20 + 10 + 2 ms, step 4 = 6 ms -> mean 19.
    # Exposed (per backward pass, summed per step): step 3 = (40-30) + 2, step 4 = 6-1 -> mean 8.5.
    assert s["comm_in_flight_ms"] == pytest.approx(19.0)
    assert s["comm_exposed_ms"] == pytest.approx(8.5)
    assert s["buckets_per_step"] == 3
    assert s["texture_allreduce_ms"] == pytest.approx(1.0)  # 2 ms over 2 steps
    assert s["comm_steps"] == 2


def test_child_environment_keeps_nvlink_multicast_off():
    spec = importlib.util.spec_from_file_location("bench_ddp", ROOT / "benchmarks" / "bench_ddp.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.CHILD_ENV == {"NCCL_NVLS_ENABLE": "0", "TORCH_SYMM_MEM_DISABLE_MULTICAST": "1",
                                  "NVSHMEM_DISABLE_NVLS": "1"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, out: str) -> None:
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP

    from tests.train.helpers import leave_worker

    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(6, 32), torch.nn.Tanh(), torch.nn.Linear(32, 3))
    timer = _bench().CommTimer(cuda=False, first_step=1)
    # Small buckets: several all-reduces per step, so the union/exposed bookkeeping is exercised.
    ddp = DDP(net, bucket_cap_mb=0.0005)
    ddp.register_comm_hook(None, timer.hook(world, "net"))
    grads = []
    for step in range(3):
        timer.step = step
        net.zero_grad()
        x = torch.randn(4, 6, generator=torch.Generator().manual_seed(100 * step + rank))
        ddp(x).square().sum().backward()
        grads.append(torch.cat([p.grad.reshape(-1) for p in net.parameters()]))
    torch.save({"grads": torch.stack(grads), "summary": timer.summary(),
                "buckets": {k[0]: len(v) for k, v in timer.buckets.items()}}, out)
    dist.destroy_process_group()
    leave_worker()


@pytest.mark.slow
def test_timed_hook_averages_gradients_like_ddp(tmp_path):
    world, port = 2, _free_port()
    outs = [str(tmp_path / f"r{r}.pt") for r in range(world)]
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_worker, args=(r, world, port, outs[r])) for r in range(world)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    a, b = (torch.load(o, weights_only=True) for o in outs)
    assert torch.equal(a["grads"], b["grads"])
    # Expected: the mean of each rank's local gradient, computed here without DDP.
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(6, 32), torch.nn.Tanh(), torch.nn.Linear(32, 3))
    for step in range(3):
        local = []
        for rank in range(world):
            net.zero_grad()
            x = torch.randn(4, 6, generator=torch.Generator().manual_seed(100 * step + rank))
            net(x).square().sum().backward()
            local.append(torch.cat([p.grad.reshape(-1) for p in net.parameters()]))
        torch.testing.assert_close(a["grads"][step], torch.stack(local).mean(0), rtol=1e-5, atol=1e-6)
    assert sorted(a["buckets"]) == [1, 2]  # the warm-up step (0) is not timed
    assert min(a["buckets"].values()) >= 2
    s = a["summary"]
    assert s["comm_steps"] == 2 and 0 <= s["comm_exposed_ms"] <= s["comm_in_flight_ms"] < 5000
