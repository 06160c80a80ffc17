"""One rank of benchmarks/bench_ddp.py: runs the real trainer under torchrun and times its all-reduces.

    torchrun --standalone --nproc_per_node N benchmarks/ddp_worker.py SPEC.json

SPEC (written by bench_ddp.py): preset, config overrides, captures, device, backend, mode
("speed" or "quality"), run folder, result prefix. Each rank writes RESULT-rank{R}.json:
rank 0's (step, time) marks every timing window, peak memory (CUDA), comm timings, and in
"quality" mode rank 0's held-out PSNR. Under the graphed step (CUDA graphs, explicit all-reduces
instead of DDP) the comm timings come from `explicit_allreduce_times`, outside the graphs.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parents[1]))
sys.path.insert(0, str(HERE.parent))


class CommTimer:
    """Collects (start, end) timestamps of collectives per step; CUDA events or wall clock."""

    def __init__(self, cuda: bool, first_step: int) -> None:
        import torch

        self.torch, self.cuda, self.first_step = torch, cuda, first_step
        self.step = 0  # set by the worker before each step (the trainer's step counter)
        # (step, module) -> [[start, end], ...] of its DDP buckets; step -> texture all-reduces
        self.buckets: dict[tuple[int, str], list[list]] = {}
        self.texture: dict[int, list[list]] = {}

    def mark(self):
        if self.cuda:
            ev = self.torch.cuda.Event(enable_timing=True)
            ev.record()
            return ev
        return time.perf_counter()

    def hook(self, world: int, module: str):
        """Returns a DDP comm hook for ``module``: DDP's default all-reduce (pre-divided by ``world``), timed."""
        import torch.distributed as dist

        def allreduce(state, bucket):
            record = None
            if self.step >= self.first_step:
                record = [self.mark(), None]
                self.buckets.setdefault((self.step, module), []).append(record)
            tensor = bucket.buffer().div_(world)
            fut = dist.all_reduce(tensor, async_op=True).get_future()

            def done(f):
                if record is not None:
                    record[1] = self.mark()  # on the stream that waits for the all-reduce
                return f.value()[0]

            return fut.then(done)

        return allreduce

    def _ms(self, a, b) -> float:
        return a.elapsed_time(b) if self.cuda else (b - a) * 1000.0

    def summary(self) -> dict:
        """Returns per-step means (ms): DDP comm in flight, DDP comm exposed, explicit all-reduces (texture and discriminator)."""
        if self.cuda:
            self.torch.cuda.synchronize()
        flight: dict[int, float] = {}
        exposed: dict[int, float] = {}
        for (step, _), records in self.buckets.items():
            done = [r for r in records if r[1] is not None]
            if not done:
                continue
            ref = done[0][0]
            spans = sorted((self._ms(ref, s), self._ms(ref, e)) for s, e in done)
            union, cur_s, cur_e = 0.0, *spans[0]
            for s, e in spans[1:]:
                if s > cur_e:
                    union, cur_s, cur_e = union + cur_e - cur_s, s, e
                else:
                    cur_e = max(cur_e, e)
            # Renderer and discriminator backward passes each end in their own exposed tail.
            flight[step] = flight.get(step, 0.0) + union + cur_e - cur_s
            exposed[step] = exposed.get(step, 0.0) + max(e for _, e in spans) - max(s for s, _ in spans)
        tex = [sum(self._ms(s, e) for s, e in recs) for recs in self.texture.values()]
        steps = max(len(flight), 1)
        mean = (lambda xs: round(sum(xs.values()) / len(xs), 3) if xs else None)
        return {"comm_steps": len(flight), "comm_in_flight_ms": mean(flight), "comm_exposed_ms": mean(exposed),
                "buckets_per_step": round(sum(len(v) for v in self.buckets.values()) / steps, 1),
                "texture_allreduce_ms": round(sum(tex) / steps, 3) if tex else 0.0}


class NcclProfile:
    """Cross-check of the comm hook: NCCL kernel time per step from torch.profiler (CUDA only).

    Profiles the last ``steps`` steps of the warm-up (their throughput is dropped anyway, so the
    profiler's overhead does not touch the figures) and sums the device time of kernels whose
    name contains "nccl": every collective (DDP buckets, texture, NaN flag, stop vote), including
    time a kernel waits for slower ranks.
    """

    def __init__(self, steps: int, warmup_steps: int, device) -> None:
        self.on = steps > 0 and device.type == "cuda" and warmup_steps >= steps
        self.first, self.last = warmup_steps - steps, warmup_steps - 1
        self.prof, self.result = None, {}

    def before(self, step: int) -> None:
        if self.on and step == self.first:
            import torch

            try:
                acts = torch.profiler.ProfilerActivity
                self.prof = torch.profiler.profile(activities=[acts.CPU, acts.CUDA])
                self.prof.start()
            except Exception as exc:  # a cross-check must never cost the measurement
                self.on, self.result = False, {"nccl_profile_error": f"{type(exc).__name__}: {exc}"[:200]}

    def after(self, step: int) -> None:
        if not (self.on and step == self.last and self.prof is not None):
            return
        import torch

        try:
            torch.cuda.synchronize()
            self.prof.stop()
            # Device-side kernel events only (CPU ops such as "nccl:all_reduce" would double count).
            cuda = torch.autograd.DeviceType.CUDA
            us = sum(e.time_range.elapsed_us() for e in self.prof.events()
                     if e.device_type == cuda and "nccl" in e.name.lower())
            self.result = {"nccl_kernel_ms": round(us / 1000 / (self.last - self.first + 1), 3)}
        except Exception as exc:
            self.result = {"nccl_profile_error": f"{type(exc).__name__}: {exc}"[:200]}
        self.on, self.prof = False, None

    def summary(self) -> dict:
        """Returns {"nccl_kernel_ms": per-step NCCL kernel time} or {"nccl_profile_error": why}."""
        return self.result


def explicit_allreduce_times(trainer, reps: int = 20) -> dict:
    """Returns the graphed step's gradient all-reduces timed eagerly after the run (CUDA events; ms per step).

    Inside a captured step nothing can be timed, so the same calls (`average_gradients` on the
    renderer's and on the discriminator's gradients, zeros here) run ``reps`` times outside the
    graphs. Nothing overlaps them in the graphed step, so in flight = exposed. Eager, each call
    also pays the launches of its per-tensor flatten and copy-back kernels, which the graph does
    not: an upper bound of the in-graph time. On keyframe steps the texture joins the renderer's
    buffer; that part is not included.
    """
    import torch

    from anr_studio.train.distributed import average_gradients

    groups = [list(trainer.renderer.parameters())] + ([list(trainer.disc.parameters())] if trainer.disc is not None else [])
    for p in (p for g in groups for p in g):
        p.grad = torch.zeros_like(p)
    for _ in range(3):  # warm-up
        for g in groups:
            average_gradients(g, trainer.dist)
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(reps):
        for g in groups:
            average_gradients(g, trainer.dist)
    end.record()
    torch.cuda.synchronize()
    for p in (p for g in groups for p in g):
        p.grad = None
    ms = round(start.elapsed_time(end) / reps, 3)
    return {"comm_in_flight_ms": ms, "comm_exposed_ms": ms, "texture_allreduce_ms": None, "buckets_per_step": len(groups)}


def worker(spec: dict) -> None:
    """Runs one rank of one measurement (under torchrun) and writes ``spec['result']``-rank{R}.json."""
    import torch
    import torch.distributed as dist

    from anr_studio.errors import AnrError
    from anr_studio.train import distributed, trainer as trainer_mod
    from anr_studio.train.presets import preset
    from bench_train import Windows, load_body

    rank, world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    Path(f"{spec['result']}-rank{rank}.pid").write_text(str(os.getpid()))  # for bench_ddp's timeout
    local = int(os.environ.get("LOCAL_RANK", 0))
    device = torch.device(f"cuda:{local}" if spec["device"] == "cuda" else "cpu")
    if device.type == "cpu":
        torch.set_num_threads(max(1, spec.get("threads", 1)))
    forced = spec.get("force_ddp") and world == 1
    if forced:
        # The trainer uses DDP only for WORLD_SIZE > 1; "1 (DDP)" wraps it anyway so one GPU
        # runs the NCCL group, the DDP reducer, the comm hook and the texture all-reduce.
        class ForcedDDP(distributed.DistInfo):
            @property
            def enabled(self) -> bool:
                return True

        trainer_mod.init_distributed = lambda device_type: ForcedDDP()
    if (world > 1 or forced) and not dist.is_initialized():
        if spec["backend"] == "nccl" and device.type != "cuda":
            raise AnrError("--backend nccl: needs --device cuda, expected gloo for CPU runs")
        if device.type == "cuda":
            torch.cuda.set_device(device)
        # Initialised here so --backend is honoured; the trainer reuses the group.
        dist.init_process_group(backend=spec["backend"], rank=rank, world_size=world,
                                **({"device_id": device} if spec["backend"] == "nccl" else {}))
    config = preset(spec["preset"])
    o = config.optim
    lr = [f"optim.lr_renderer={o.lr_renderer * spec['lr_scale']}", f"optim.lr_texture={o.lr_texture * spec['lr_scale']}",
          f"optim.lr_discriminator={o.lr_discriminator * spec['lr_scale']}"] if spec["lr_scale"] != 1 else []
    config = config.with_overrides(spec["overrides"] + lr)
    # bench_train's synthetic capture was drawn with bench_train's body; given captures name their own.
    body = None if spec.get("given_captures") else load_body(device)[0]
    timer = CommTimer(device.type == "cuda", spec["warmup_steps"])
    clock = Windows()
    trainer = trainer_mod.Trainer(config, spec["captures"], spec["run_dir"], device=device.type, body=body,
                                  body_path=spec.get("body_model"),
                                  callbacks=[clock], warn=lambda m: None)
    if spec["mode"] == "speed":
        trainer.save_checkpoint = lambda: None  # no 1-2 GB checkpoints in a speed benchmark
        trainer.export_avatar = lambda: None
    else:
        trainer.save_checkpoint = lambda: None  # the avatar written at the end is what is evaluated
    graphed_sync = trainer._sync_grads  # the graphed step's explicit all-reduces: no DDP, no hooks
    if trainer.dist.enabled:
        assert dist.get_backend() == spec["backend"], dist.get_backend()
    if trainer.dist.enabled and not graphed_sync:
        # DDP wraps the renderer only; the discriminator's and textures' gradients go through average_gradients.
        trainer._renderer_fwd.register_comm_hook(None, timer.hook(world, "renderer"))
        average = trainer_mod.average_gradients

        def timed_average(params, info):
            start = timer.mark() if trainer.step >= timer.first_step else None
            average(params, info)
            if start is not None:
                timer.texture.setdefault(trainer.step, []).append([start, timer.mark()])

        trainer_mod.average_gradients = timed_average  # the trainer looks it up at call time
    step_fn = trainer.train_step
    # The profiler sees no NCCL kernels inside graph replays (it reported 0): off for the graphed step.
    profiler = NcclProfile(0 if graphed_sync else spec.get("profile_steps", 0), spec["warmup_steps"], device)

    def counted(batch, prepared=None):
        timer.step = trainer.step
        profiler.before(trainer.step)
        out = step_fn(batch, prepared)
        profiler.after(trainer.step)
        return out

    trainer.train_step = counted
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    t0 = time.perf_counter()
    trainer.run()
    wall = round(time.perf_counter() - t0, 2)
    if device.type == "cuda":  # before the all-reduce timing below allocates its own gradients
        peak = (torch.cuda.max_memory_allocated(device), torch.cuda.max_memory_reserved(device))
    comm = explicit_allreduce_times(trainer) if graphed_sync and device.type == "cuda" else timer.summary()
    result = {"rank": rank, "world": world, "wall_s": wall, "steps": trainer.step,
              "batch_per_rank": config.data.batch_size, "resolution": config.data.resolution,
              "grad_sync": "graph all-reduce" if graphed_sync else "DDP" if trainer.dist.enabled else "-",
              "graphs_captured": trainer._graphs.captured if trainer._graphs is not None else 0,
              "marks": clock.marks, **comm, **profiler.summary()}
    if device.type == "cuda":
        result["peak_memory_gb"] = round(peak[0] / 2**30, 3)
        result["peak_reserved_gb"] = round(peak[1] / 2**30, 3)
        result["device_name"] = torch.cuda.get_device_name(device)
    if spec["mode"] == "quality" and rank == 0:
        from anr_studio.train.evaluate import evaluate

        metrics = evaluate(spec["run_dir"], spec["captures"], "test", device=str(device), body=trainer.body,
                           max_frames=spec["eval_frames"], psnr_only=True)
        result["heldout_psnr"] = metrics["overall"]["psnr"]
        result["heldout_frames"] = metrics["overall"]["frames"]
    Path(f"{spec['result']}-rank{rank}.json").write_text(json.dumps(result))
    if trainer.dist.enabled:
        dist.barrier()
    trainer.close()


if __name__ == "__main__":
    worker(json.loads(Path(sys.argv[1]).read_text()))
