"""Benchmark: DDP scaling of the real trainer step on 1, 2, 4 and 8 GPUs.

    # scaling on a multi-GPU host (each N <= visible GPUs), one preset per command
    python benchmarks/bench_ddp.py --device cuda --gpus 1 2 4 8 --ddp-at-1 --presets paper --out $OUT/ddp-paper
    # N GPUs vs 1 GPU at the same number of images seen (held-out PSNR)
    python benchmarks/bench_ddp.py --device cuda --gpus 1 2 4 8 --presets fast --quality --skip-speed \
        --quality-steps 800 --captures a.h5 b.h5 --out $OUT/ddp-quality
    # CPU smoke run: 2 gloo processes, tiny preset (checks the plumbing, not a scaling figure)
    python benchmarks/bench_ddp.py --device cpu --backend gloo --gpus 1 2 --ddp-at-1 --presets tiny --window 2 \
        --warmup-windows 1 --windows 2 --frames 8 --quality --quality-steps 4 --out /tmp/ddp

docs/benchmarks.md (section "DDP scaling") has the exact commands and what was measured where.

For each preset and each N, ``torchrun --standalone --nproc_per_node N`` starts N copies of
benchmarks/ddp_worker.py; each drives `anr_studio.train.Trainer` (data, posing, rasterization, R1/R2,
discriminator, fused Adam, gradient all-reduces) with the preset's per-GPU batch on a capture at the preset's
resolution (a synthetic one written by benchmarks/bench_train.py's generator, or ``--captures``).
N = 1 is a plain single-process run: the trainer uses DDP only when WORLD_SIZE > 1, as a user's
one-GPU run does, so it is the baseline of scaling efficiency = img/s(N) / (N * img/s(1)).
``--ddp-at-1`` adds "1 (DDP)": one process trained as a rank of a world-size-1 group (NCCL on
CUDA; wrapped in DDP, or graphed with explicit all-reduces, as N > 1 would be), which measures
the distributed overhead and runs every multi-GPU code path on one GPU.
Every child gets NCCL_NVLS_ENABLE=0, TORCH_SYMM_MEM_DISABLE_MULTICAST=1, NVSHMEM_DISABLE_NVLS=1.

Communication is timed by a DDP communication hook that does what DDP's default all-reduce does
(pre-divide by N, all_reduce the bucket) and records CUDA events (wall clock on the CPU): one when
a bucket is handed over, one on the stream that consumes the reduced bucket. Per step it reports
``comm in flight`` (union of the bucket intervals: time some gradient all-reduce was running,
mostly overlapped with the backward pass) and ``comm exposed`` (from the last bucket's hand-over to
the last bucket's completion: the tail the optimizer step waits for). The neural texture's
all-reduce (`average_gradients`, keyframe steps) is timed the same way and reported apart. As a
cross-check, torch.profiler sums the NCCL kernel time of the last ``--profile-steps`` warm-up
steps (CUDA only; those steps' throughput is dropped anyway).

With CUDA graphs on (``optim.cuda_graph``, the default) a distributed CUDA run uses no DDP: the
captured step averages gradients with its own NCCL all-reduces, which no hook sees. Those rows
(grad sync "graph all-reduce") time the same all-reduces (renderer, discriminator) with CUDA events
outside the graphs after the run; nothing overlaps them in the step, so in flight = exposed, and
the eager calls' kernel launches make it an upper bound of the in-graph time. The profiler sees
no NCCL kernels inside graph replays, so those rows have no profiler figure.

``--quality``: for each N, train N GPUs for S/N steps (S = ``--quality-steps``; N = 1: S steps) (same images
seen, same per-GPU batch; ``--quality-lr-scale`` optionally scales the learning rates by N or
sqrt(N)) and compare held-out PSNR (`anr_studio.train.evaluate.evaluate`, the trainer's held-out
evaluation, on the test split).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parents[1]))
sys.path.insert(0, str(HERE.parent))

from anr_studio.train.presets import preset  # noqa: E402

# NVLink multicast (NVLS / symmetric memory) stays off in every rank: not every multi-GPU host supports it.
CHILD_ENV = {"NCCL_NVLS_ENABLE": "0", "TORCH_SYMM_MEM_DISABLE_MULTICAST": "1", "NVSHMEM_DISABLE_NVLS": "1"}
TARGET_EFFICIENCY = {"paper": 0.90}


def visible_gpus() -> int:
    """Returns the number of CUDA devices, asked in a child so this process holds no CUDA context."""
    out = subprocess.run([sys.executable, "-c", "import torch; print(torch.cuda.device_count())"],
                         capture_output=True, text=True, check=True)
    return int(out.stdout.strip().splitlines()[-1])


def make_capture(path: Path, size: int, frames: int, device: str) -> None:
    """Writes bench_train's synthetic capture (body turning, UV-coloured) in a child process."""
    code = ("import sys, torch; from pathlib import Path; sys.path[:0] = [%r, %r]; "
            "from bench_train import load_body, write_capture; d = torch.device(%r); "
            "write_capture(Path(%r), %d, %d, load_body(d)[0], d)") % (
        str(HERE.parents[1]), str(HERE.parent), device, str(path), size, frames)
    subprocess.run([sys.executable, "-c", code], check=True)


def launch(spec: dict, n: int, work: Path, timeout: float, logs: Path) -> list[dict] | str:
    """Returns the per-rank results of ``spec`` run on ``n`` processes, or an error line."""
    spec_path = work / f"{Path(spec['result']).name}.spec.json"
    spec_path.write_text(json.dumps(spec))
    env = dict(os.environ, **CHILD_ENV)
    if spec["device"] == "cpu":
        env["OMP_NUM_THREADS"] = str(spec.get("threads", 1))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={n}",
           str(HERE.parent / "ddp_worker.py"), str(spec_path)]
    logs.mkdir(exist_ok=True)
    log = logs / f"{Path(spec['result']).name}.log"  # kept in --out/logs: the ranks' output
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            rc = f"timeout after {timeout:g} s"
            stop_launch(proc, spec, n)
    files = [Path(f"{spec['result']}-rank{r}.json") for r in range(n)]
    if isinstance(rc, str):
        return f"{rc} (log: logs/{log.name})"
    if rc != 0 or not all(f.exists() for f in files):
        lines = log.read_text(errors="replace").strip().splitlines()
        # The worker's own error line, not torchrun's summary banner that follows it.
        errors = [ln.strip() for ln in lines if "Error" in ln or "error:" in ln or "Killed" in ln]
        return f"exit {rc}: " + (errors[-1] if errors else " | ".join(lines[-6:]))[-400:] + f" (log: logs/{log.name})"
    return [json.loads(f.read_text()) for f in files]


def stop_launch(proc: subprocess.Popen, spec: dict, n: int) -> None:
    """Ends a timed-out launch: SIGTERM to torchrun (it stops its ranks), then SIGKILL to what is left.

    torchrun starts each rank in a session of its own, so the ranks' pid files (written by
    ddp_worker.py) are how a hung NCCL rank is found and kept from holding a GPU.
    """
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    for r in range(n):
        pid_file = Path(f"{spec['result']}-rank{r}.pid")
        try:
            os.kill(int(pid_file.read_text()), signal.SIGKILL)
        except (OSError, ValueError):
            pass  # never started, or already gone


def rates(marks: list, batch: int, world: int, skip: int) -> list[float]:
    """Returns images/s of each timing window (all ranks) from rank 0's (step, time) marks."""
    out = [(s1 - s0) * batch * world / (t1 - t0) for (s0, t0), (s1, t1) in zip(marks, marks[1:])]
    return out[skip:]


def speed_record(name: str, n: int, ranks: list[dict] | str, args, forced: bool) -> dict:
    rec: dict = {"preset": name, "gpus": n, "ddp_at_1": forced}
    if isinstance(ranks, str):
        rec["error"] = ranks
        return rec
    r0 = ranks[0]
    measured = rates(r0["marks"], r0["batch_per_rank"], n, args.warmup_windows)
    ips = statistics.median(measured) if measured else None
    rec.update(batch_per_gpu=r0["batch_per_rank"], resolution=r0["resolution"], images_per_s=round(ips, 2) if ips else None,
               window_images_per_s=[round(x, 2) for x in measured], step_ms=round(1000 * r0["batch_per_rank"] * n / ips, 2) if ips else None,
               device_name=r0.get("device_name", "cpu"), grad_sync=r0.get("grad_sync", "-"),
               graphs_captured=r0.get("graphs_captured"))
    if "peak_memory_gb" in r0:
        rec["peak_memory_gb_per_rank"] = [r["peak_memory_gb"] for r in ranks]
    errors = [r["nccl_profile_error"] for r in ranks if "nccl_profile_error" in r]
    if errors:
        rec["nccl_profile_error"] = errors[0]
    for key in ("comm_in_flight_ms", "comm_exposed_ms", "texture_allreduce_ms", "buckets_per_step", "nccl_kernel_ms"):
        vals = [r[key] for r in ranks if r.get(key) is not None]
        rec[key] = round(max(vals), 3) if vals and (n > 1 or forced) else None  # the slowest rank gates the step
    return rec


def fmt(x, unit: str = "") -> str:
    return "-" if x is None else f"{x:g}{unit}"


def markdown(speed: list[dict], quality: list[dict], meta: dict) -> str:
    where = (f"{meta['device_name']} x {meta['visible_gpus']} visible" if meta["device"] == "cuda" else
             "CPU SMOKE RUN (processes share the host's cores; not a scaling figure)")
    lines = [f"DDP scaling, {where}, backend {meta['backend']}, torch "
             f"{meta['torch']}; capture: {meta['captures']}. Scaling efficiency = img/s(N) / (N x img/s(1)); "
             "comm = DDP gradient all-reduce timed by a comm hook with CUDA events, wall clock on the CPU (max over ranks); "
             "grad sync 'graph all-reduce' (CUDA graphs, no DDP): the step's explicit all-reduces timed with CUDA events "
             "eagerly outside the graphs after the run (renderer + discriminator, nothing overlaps them; eager launches make it "
             "an upper bound), no profiler column.", "",
             "| preset | GPUs | grad sync | batch/GPU | images/s | efficiency | step ms | peak GB per GPU | comm in flight ms/step "
             "| comm exposed ms/step | texture all-reduce ms/step | NCCL kernels ms/step (profiler) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in speed:
        if "error" in r:
            lines.append(f"| {r['preset']} | {r['gpus']}{' (DDP)' * bool(r.get('ddp_at_1'))} | - | - | failed: {r['error'][:200]} | | | | | | | |")
            continue
        eff = r.get("efficiency")
        target = target_note(r)
        mem = r.get("peak_memory_gb_per_rank")
        gpus = f"{r['gpus']} (DDP)" if r.get("ddp_at_1") else r["gpus"]
        lines.append(f"| {r['preset']} {r['resolution']}² | {gpus} | {r.get('grad_sync', '-')} | {r['batch_per_gpu']} | {fmt(r['images_per_s'])} | "
                     f"{'-' if eff is None else f'{100 * eff:.1f} %'}{target} | {fmt(r['step_ms'])} | "
                     f"{'-' if not mem else f'{max(mem):.2f} (min {min(mem):.2f})'} | {fmt(r['comm_in_flight_ms'])} | "
                     f"{fmt(r['comm_exposed_ms'])} | {fmt(r['texture_allreduce_ms'])} | {fmt(r.get('nccl_kernel_ms'))} |")
    if quality:
        lines += ["", "Held-out quality at the same number of images seen (test split, PSNR dB):", "",
                  "| preset | GPUs | steps | images seen | lr scale | held-out PSNR | 1-GPU PSNR | difference |",
                  "|---|---|---|---|---|---|---|---|"]
        for q in quality:
            if "error" in q:
                lines.append(f"| {q['preset']} | {q['gpus']} | failed: {q['error'][:200]} | | | | | |")
                continue
            base = next((b for b in quality if b["preset"] == q["preset"] and b["gpus"] == 1 and "error" not in b), None)
            ref = base["heldout_psnr"] if base else None
            diff = q["heldout_psnr"] - ref if ref is not None and q["heldout_psnr"] is not None else None
            lines.append(f"| {q['preset']} | {q['gpus']} | {q['steps']} | {q['images_seen']} | {q['lr_scale']:g} | "
                         f"{fmt(round(q['heldout_psnr'], 2))} | {fmt(None if ref is None else round(ref, 2))} | "
                         f"{'-' if diff is None else f'{diff:+.2f}'} |")
    return "\n".join(lines) + "\n"


def target_note(r: dict) -> str:
    target = TARGET_EFFICIENCY.get(r["preset"])
    if target is None or r["gpus"] != 8 or r.get("efficiency") is None:
        return ""
    return f" (target >= {100 * target:.0f} %: {'met' if r['efficiency'] >= target else 'not met'})"


def base_spec(name: str, n: int, captures: list[str], backend: str, work: Path, args, tag: str) -> dict:
    """Returns the worker spec shared by speed and quality runs of ``name`` on ``n`` processes."""
    config = preset(name)
    workers = args.workers if args.workers >= 0 else max(0, min(8, (os.cpu_count() or 2) // n - 1))
    overrides = [f"data.batch_size={args.batch_size or config.data.batch_size}", f"data.workers={workers}",
                 "data.cache_in_memory=true", "optim.preview_every=0", "optim.time_budget_s=0"] + args.set
    return {"preset": name, "device": args.device, "backend": backend, "captures": captures, "threads": args.threads,
            "lr_scale": 1.0, "eval_frames": args.eval_frames, "force_ddp": False, "overrides": overrides,
            "given_captures": bool(args.captures), "body_model": args.body_model,
            "run_dir": str(work / f"run-{tag}"), "result": str(work / tag)}


def run_speed(name: str, n: int, force: bool, captures: list[str], backend: str, speed: list[dict], work: Path,
              args) -> dict:
    """Returns the speed record of ``name`` on ``n`` processes (efficiency against the plain 1-GPU run)."""
    steps = args.window * (args.warmup_windows + args.windows)
    spec = base_spec(name, n, captures, backend, work, args, f"speed-{name}-{n}{'-ddp' * force}")
    spec.update(mode="speed", force_ddp=force, warmup_steps=args.window * args.warmup_windows,
                profile_steps=min(args.profile_steps, args.window))
    spec["overrides"] += [f"optim.steps={steps}", f"optim.log_every={args.window}", f"optim.checkpoint_every={steps + 1}"]
    t0 = time.perf_counter()
    rec = speed_record(name, n, launch(spec, n, work, args.timeout, Path(args.out) / "logs"), args, force)
    rec["launch_s"] = round(time.perf_counter() - t0, 1)
    one = next((r for r in speed if r["preset"] == name and r["gpus"] == 1 and not r["ddp_at_1"]
                and r.get("images_per_s")), None)
    if one and rec.get("images_per_s"):
        rec["efficiency"] = round(rec["images_per_s"] / (n * one["images_per_s"]), 4)
    elif n == 1 and not force and rec.get("images_per_s"):
        rec["efficiency"] = 1.0
    print(json.dumps(rec), flush=True)
    return rec


def run_quality(name: str, n: int, captures: list[str], backend: str, work: Path, args) -> dict:
    """Returns held-out PSNR after --quality-steps / n steps on ``n`` processes (same images seen for every n)."""
    if args.quality_steps % n:
        return {"preset": name, "gpus": n, "error": f"--quality-steps {args.quality_steps} is not a multiple of {n}"}
    scale = {"none": 1.0, "sqrt": math.sqrt(n), "linear": float(n)}[args.quality_lr_scale]
    q_steps = args.quality_steps // n
    spec = base_spec(name, n, captures, backend, work, args, f"quality-{name}-{n}")
    spec.update(mode="quality", lr_scale=scale, warmup_steps=q_steps + 1)  # no comm timing
    spec["overrides"] += [f"optim.steps={q_steps}", f"optim.log_every={max(1, min(50, q_steps))}",
                          f"optim.checkpoint_every={q_steps + 1}"]
    ranks = launch(spec, n, work, args.timeout, Path(args.out) / "logs")
    batch = args.batch_size or preset(name).data.batch_size
    q = {"preset": name, "gpus": n, "steps": q_steps, "images_seen": q_steps * batch * n, "lr_scale": scale}
    if isinstance(ranks, str):
        q["error"] = ranks
    else:
        q.update(heldout_psnr=ranks[0]["heldout_psnr"], heldout_frames=ranks[0]["heldout_frames"], wall_s=ranks[0]["wall_s"],
                 device_name=ranks[0].get("device_name", "cpu"))
    print(json.dumps(q), flush=True)
    return q


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    p.add_argument("--backend", choices=["nccl", "gloo"], help="default: nccl on cuda, gloo on cpu")
    p.add_argument("--gpus", type=int, nargs="+", default=[1, 2, 4, 8], help="process counts (each <= visible GPUs)")
    p.add_argument("--presets", nargs="+", default=["paper", "fast"])
    p.add_argument("--captures", nargs="+", metavar="H5", help="captures to train on (default: a synthetic one per preset)")
    p.add_argument("--body-model", metavar="PATH", help="the SMPL file --captures refer to (if not the built-in body)")
    p.add_argument("--frames", type=int, default=24, help="frames of the synthetic capture")
    p.add_argument("--batch-size", type=int, default=0, help="per-GPU batch (default: the preset's)")
    p.add_argument("--window", type=int, default=20, help="steps per timing window")
    p.add_argument("--warmup-windows", type=int, default=2, help="windows dropped (cudnn autotuning, NCCL setup)")
    p.add_argument("--windows", type=int, default=3, help="windows measured")
    p.add_argument("--workers", type=int, default=-1, help="DataLoader workers per rank (default: fit the cores)")
    p.add_argument("--threads", type=int, default=1, help="torch threads per rank on the CPU")
    p.add_argument("--ddp-at-1", action="store_true",
                   help="also run 1 process wrapped in DDP (world size 1): DDP/NCCL overhead, checks the path on one GPU")
    p.add_argument("--profile-steps", type=int, default=10,
                   help="CUDA: NCCL kernel time from torch.profiler over the last K warm-up steps (0: off)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="extra config overrides")
    p.add_argument("--quality", action="store_true", help="also compare held-out PSNR of N GPUs vs 1 GPU")
    p.add_argument("--skip-speed", action="store_true", help="only the quality check")
    p.add_argument("--quality-steps", type=int, default=2000, help="1-GPU steps of the quality check (N GPUs: this / N)")
    p.add_argument("--quality-lr-scale", choices=["none", "sqrt", "linear"], default="none")
    p.add_argument("--eval-frames", type=int, default=0, help="held-out frames per capture (0: all)")
    p.add_argument("--timeout", type=float, default=540, help="seconds per torchrun launch")
    p.add_argument("--out", required=True, help="folder for ddp.json and ddp.md")
    args = p.parse_args()
    import torch

    if args.skip_speed and not args.quality:
        p.error("--skip-speed needs --quality")
    backend = args.backend or ("nccl" if args.device == "cuda" else "gloo")
    available = visible_gpus() if args.device == "cuda" else max(args.gpus)
    counts = sorted({n for n in args.gpus if n <= available})
    skipped = sorted({n for n in args.gpus if n > available})
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = {"device": args.device, "backend": backend, "visible_gpus": available, "gpus": counts, "skipped_gpus": skipped,
            "torch": torch.__version__, "device_name": "cpu", "child_env": CHILD_ENV, "command": " ".join(sys.argv),
            "captures": "given: " + " ".join(args.captures) if args.captures else f"synthetic ({args.frames} frames)",
            "comm_timing": "DDP comm hook (pre-divide + all_reduce, as DDP's default) with CUDA events; CPU: wall clock. "
                           "Cross-check: torch.profiler NCCL kernel time over the last --profile-steps warm-up steps. "
                           "Graphed steps (no DDP): the explicit all-reduces timed with CUDA events outside the graphs"}
    if skipped:
        print(f"bench_ddp: {available} GPU(s) visible; skipping N = {skipped}", file=sys.stderr)
    speed, quality = [], []

    def save() -> str:
        # After every launch: a command cut off by its time limit still leaves what it measured.
        (out / "ddp.json").write_text(json.dumps({"meta": meta, "speed": speed, "quality": quality}, indent=1))
        table = markdown(speed, quality, meta)
        (out / "ddp.md").write_text(table)
        return table

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name in args.presets:
            captures = args.captures
            if not captures:
                path = work / f"{name}.h5"
                make_capture(path, preset(name).data.resolution, args.frames, "cuda" if args.device == "cuda" else "cpu")
                captures = [str(path)]
            runs = [] if args.skip_speed else [(n, False) for n in counts]
            if args.ddp_at_1 and 1 in counts and not args.skip_speed:
                runs.insert(1, (1, True))
            for n, force in runs:
                rec = run_speed(name, n, force, captures, backend, speed, work, args)
                meta["device_name"] = rec.get("device_name", meta["device_name"])
                speed.append(rec)
                save()
            if args.quality and 1 in counts:
                for n in counts:
                    quality.append(run_quality(name, n, captures, backend, work, args))
                    meta["device_name"] = quality[-1].get("device_name", meta["device_name"])
                    save()
    print(save())
    return 0


if __name__ == "__main__":
    sys.exit(main())
