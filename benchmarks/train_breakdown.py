"""Where a training step's GPU time goes: kernels by category, and the step's parts timed alone.

    python benchmarks/train_breakdown.py --preset paper --batch 8 --out $OUT

Runs the real `Trainer` step eagerly (graphs off, so the profiler sees each kernel; the kernels
are the ones the graphs replay: the Triton norm is forced with ``ANR_INSTANCE_NORM=triton``)
and prints the device time per kernel category (convolutions by pass, norm, elementwise, copies,
Adam, ...). Then it times, with CUDA events, the parts of a step on their own: the renderer
forward + backward, and the discriminator passes the step makes (forward without gradients,
forward + input gradients, forward + weight gradients). Writes ``breakdown_<preset>.txt`` and
a gzipped Chrome trace to ``--out``. CUDA only.
"""

from __future__ import annotations

import argparse
import collections
import gzip
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("ANR_INSTANCE_NORM", "triton")

import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_train import load_body, write_capture  # noqa: E402
from anr_studio.train.presets import preset  # noqa: E402
from anr_studio.train.trainer import Trainer  # noqa: E402

CATEGORIES = (  # first match wins; matched against the lower-cased kernel name
    ("norm (Triton)", ("_stats_kernel", "_affine_kernel")),
    ("layout copy", ("nchwtonhwc", "nhwctonchw", "transpose")),
    ("conv wgrad", ("wgrad",)),
    ("conv dgrad", ("dgrad",)),
    ("conv fprop", ("fprop", "conv", "xmma", "implicit", "cutlass", "gemm", "sm90", "sm80", "cudnn")),
    ("cat", ("catarray",)),
    ("adam", ("adam",)),
    ("reduce", ("reduce",)),
    ("elementwise", ("elementwise", "vectorized")),
    ("grid_sample", ("grid_sampler",)),
)


def category(name: str) -> str:
    """Returns the category of kernel ``name`` (see CATEGORIES), or "other"."""
    low = name.lower()
    for label, keys in CATEGORIES:
        if any(k in low for k in keys):
            return label
    return "other"


def kernel_table(prof, steps: int) -> str:
    """Returns per-category and top-kernel device time per step (ms) from a torch profile."""
    by_cat: dict[str, float] = collections.defaultdict(float)
    by_name: dict[str, float] = collections.defaultdict(float)
    for evt in prof.events():
        if evt.device_type != torch.autograd.DeviceType.CUDA:
            continue
        us = evt.time_range.elapsed_us()
        by_cat[category(evt.name)] += us
        by_name[evt.name] += us
    total = sum(by_cat.values())
    lines = [f"device time per step: {total / steps / 1e3:.2f} ms", "", "| category | ms/step | share |", "|---|---|---|"]
    for label, us in sorted(by_cat.items(), key=lambda kv: -kv[1]):
        lines.append(f"| {label} | {us / steps / 1e3:.2f} | {100 * us / total:.1f}% |")
    lines += ["", "top kernels (ms/step, category, name):"]
    for name, us in sorted(by_name.items(), key=lambda kv: -kv[1])[:40]:
        lines.append(f"{us / steps / 1e3:8.3f}  {category(name):14s} {name[:140]}")
    return "\n".join(lines)


def cuda_ms(fn, repeats: int = 10, warmup: int = 3) -> float:
    """Returns the median device-synchronised time of ``fn()`` in ms."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def part_timings(tr: Trainer, batch: int, size: int) -> str:
    """Returns the timings of the step's parts on their own (bf16 autocast, channels_last)."""
    dev = tr.device
    cl = torch.channels_last
    renderer, disc = tr.renderer, tr.disc
    channels = tr.config.model.texture.channels
    neural = torch.randn(batch, channels, size, size, device=dev).to(memory_format=cl).requires_grad_(True)
    normals = torch.randn(batch, 3, size, size, device=dev).to(memory_format=cl)
    d_in = disc.in_channels

    def ac():
        return torch.autocast("cuda", dtype=torch.bfloat16)

    def renderer_fb():
        with ac():
            out = renderer(neural, normals)
            loss = out.rgb.float().square().mean() + out.mask_logits.float().mean() + out.coarse_rgb.float().mean()
        loss.backward()

    def disc_loss(x):
        return sum(scale[-1].float().square().mean() + sum(f.float().mean() for f in scale[:-1]) for scale in disc(x))

    x1 = torch.randn(batch, d_in, size, size, device=dev).to(memory_format=cl)
    x2 = torch.randn(2 * batch, d_in, size, size, device=dev).to(memory_format=cl)
    x1g = x1.clone().requires_grad_(True)

    def disc_nograd():
        with torch.no_grad(), ac():
            disc(x1)

    def disc_input_grad():
        disc.requires_grad_(False)
        with ac():
            loss = disc_loss(x1g)
        loss.backward()
        disc.requires_grad_(True)

    def disc_weight_grad(x):
        def fn():
            with ac():
                loss = disc_loss(x)
            loss.backward()
        return fn

    def disc_both_grads():
        with ac():
            loss = disc_loss(x1g)
        loss.backward()

    rows = [
        ("renderer fwd+bwd (batch B)", renderer_fb),
        ("disc fwd, no grad (B)", disc_nograd),
        ("disc fwd+bwd, input grads only (B)", disc_input_grad),
        ("disc fwd+bwd, weight grads (B)", disc_weight_grad(x1)),
        ("disc fwd+bwd, weight grads (2B)", disc_weight_grad(x2)),
        ("disc fwd+bwd, input+weight grads (B)", disc_both_grads),
    ]
    lines = ["", f"parts alone (batch B={batch}, {size}², median of 10, ms):"]
    for label, fn in rows:
        ms = cuda_ms(fn)
        lines.append(f"  {label:40s} {ms:8.2f}")
        renderer.zero_grad(set_to_none=True)
        disc.zero_grad(set_to_none=True)
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="paper")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=3, help="profiled steps")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    from torch.profiler import ProfilerActivity, profile

    dev = torch.device("cuda")
    body, _ = load_body(dev)
    with tempfile.TemporaryDirectory() as tmp:
        config = preset(args.preset)
        size = config.data.resolution
        cap = Path(tmp) / "c.h5"
        write_capture(cap, size, 12, body, dev)
        config = config.with_overrides([
            "optim.steps=1000", "data.workers=4", "data.cache_in_memory=true", "optim.preview_every=0",
            "optim.cuda_graph=false", f"data.batch_size={args.batch}", *args.set])
        tr = Trainer(config, [str(cap)], Path(tmp) / "run", device="cuda", body=body, warn=lambda m: None)
        it = iter(tr.loader)
        batches = [next(it) for _ in range(4)]

        def step(i: int) -> None:
            tr.train_step(batches[i % len(batches)])
            tr.step += 1

        for i in range(6):
            step(i)
        torch.cuda.synchronize()
        wall = cuda_ms(lambda: step(0), repeats=5, warmup=1)
        with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
            for i in range(args.steps):
                step(i)
            torch.cuda.synchronize()
        text = f"{args.preset} batch {args.batch} {size}², eager step {wall:.1f} ms ({1e3 * args.batch / wall:.1f} images/s)\n"
        text += kernel_table(prof, args.steps) + part_timings(tr, args.batch, size)
        trace = args.out / f"trace_{args.preset}.json"
        prof.export_chrome_trace(str(trace))
        with open(trace, "rb") as src, gzip.open(str(trace) + ".gz", "wb") as dst:
            shutil.copyfileobj(src, dst)
        trace.unlink()
        (args.out / f"breakdown_{args.preset}.txt").write_text(text)
        print(text, flush=True)
        tr.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
