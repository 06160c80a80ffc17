"""Benchmark: training images/s of the full trainer step (data, posing, rasterization, R, D, Adam).

    python benchmarks/bench_train.py --device cuda --json $OUT/bench_train.json --markdown $OUT/bench_train.md
    python benchmarks/bench_train.py --device cuda --presets paper fast --variants eager-fp32 tuned-graph \
        --window 10 --warmup-windows 2 --windows 3 --frames 16       # the table in docs/benchmarks.md
    python benchmarks/bench_train.py --device cpu --presets tiny --window 2 --windows 2   # smoke test

It drives `anr_studio.train.Trainer` on a real capture file at the preset's resolution: DataLoader workers
read and crop frames, the body is posed and rasterized on the device, the renderer, losses and
discriminator train. Variants, measured in the same run on the same capture:

- ``eager-fp32``: plain eager float32 NCHW, unfused Adam, cudnn.benchmark off, no overlap (the baseline)
- ``tuned``: bf16 autocast, channels_last, fused Adam (sync-free NaN guard), cudnn.benchmark,
  next batch rasterized on a side stream
- ``tuned-2x``: ``tuned`` at twice the preset's batch size
- ``tuned-graph``: ``tuned`` + the step's compute replayed from CUDA graphs (``optim.cuda_graph``)
- ``tuned-graph-2x``, ``tuned-graph-4x``: ``tuned-graph`` at two and four times the preset's batch size

Any ``tuned`` or ``tuned-graph`` variant may add ``-triton`` (channels_last
instance norm as Triton kernels in every step) or ``-nhwc`` (the torch-op form in every step; by
default graphed steps use the Triton kernels, eager ones the torch ops) and then ``-Nx``
(N times the preset's batch size), e.g. ``tuned-graph-triton-8x``. ``tuned*`` variants without ``graph`` in
the name run with ``optim.cuda_graph=false``. Each record also counts the steps the NaN guard
skipped and keeps the last reported total loss (a graph that trains wrongly shows there).

Throughput is the median over the measured windows (the first windows, with cudnn autotuning and
compilation, are dropped). Targets on one H100: paper >= 100 images/s, fast >= 400 images/s.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import math
import platform
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from anr_studio.capture import CaptureWriter  # noqa: E402
from anr_studio.render import PerspectiveCamera, render_body_maps  # noqa: E402
from anr_studio.model.unet import graphed_norms  # noqa: E402
from anr_studio.train import trainer as trainer_module  # noqa: E402
from anr_studio.train.callbacks import Callback  # noqa: E402
from anr_studio.train.presets import preset  # noqa: E402
from anr_studio.train.trainer import Trainer  # noqa: E402

TARGETS = {"paper": 100.0, "fast": 400.0}
VARIANTS = ("eager-fp32", "tuned", "tuned-2x", "tuned-graph", "tuned-graph-2x", "tuned-graph-4x")
VARIANT_NAME = re.compile(r"eager-fp32|tuned(-graph)?(-triton|-nhwc)?(-[1-9][0-9]*x)?")


def variant_name(text: str) -> str:
    """Returns ``text`` if it names a variant (see the module docstring), else raises argparse's error."""
    if not VARIANT_NAME.fullmatch(text):
        raise argparse.ArgumentTypeError(f"variant {text!r}: expected eager-fp32 or tuned[-graph][-triton|-nhwc][-Nx]")
    return text


def load_body(device: torch.device):
    """Returns (the built-in body, "default") or, where it is not built, (an ellipsoid body, "ellipsoid")."""
    from anr_studio.body import BodyModel
    from anr_studio.errors import AnrError

    try:
        return BodyModel.default(device), "default"
    except AnrError:
        n_lat, n_lon = 40, 60  # ~4.8k faces, close to the coarse body's size
        th = torch.linspace(0, math.pi, n_lat + 1)[:, None]
        ph = torch.linspace(0, 2 * math.pi, n_lon + 1)[None]
        v = torch.stack([0.25 * th.sin() * ph.sin(), 0.9 + 0.8 * th.cos() + 0 * ph, 0.2 * th.sin() * ph.cos()], -1).reshape(-1, 3)
        uv = torch.stack([ph.expand(n_lat + 1, -1) / (2 * math.pi), 1 - th.expand(-1, n_lon + 1) / math.pi], -1).reshape(-1, 2)
        i, j = torch.meshgrid(torch.arange(n_lat), torch.arange(n_lon), indexing="ij")
        a = (i * (n_lon + 1) + j).reshape(-1)
        faces = torch.cat([torch.stack([a, a + n_lon + 1, a + 1], 1), torch.stack([a + 1, a + n_lon + 1, a + n_lon + 2], 1)])
        w = torch.zeros(len(v), 24)
        w[:, 0] = 1
        body = BodyModel(v, faces, w, torch.full((24, len(v)), 1 / len(v)), uv=uv, model_id="default", source="ellipsoid")
        return body.to(device), "ellipsoid"


def write_capture(path: Path, size: int, frames: int, body, device: torch.device) -> None:
    """Writes a capture of the body turning (frames coloured by UV) with masks, split and keyframes."""
    f = 1.4 * size
    K = np.array([[f, 0, size / 2], [0, f, size / 2], [0, 0, 1]], np.float32)
    R = np.diag([1.0, -1.0, -1.0]).astype(np.float32)
    t = np.array([0.0, 0.9, 3.2], np.float32)
    pose = np.zeros((frames, 24, 3), np.float32)
    pose[:, 0, 1] = np.linspace(-1.2, 1.2, frames)
    transl = np.zeros((frames, 3), np.float32)
    cam = PerspectiveCamera(*(torch.tensor(x)[None].to(device) for x in (K, R, t)))
    plate = np.full((size, size, 3), 100, np.uint8)
    plate[:, : size // 2] = 150
    with CaptureWriter(path, "bench", size, size, fps=30, betas=np.zeros(2, np.float32), camera=(K, R, t),
                       background=plate) as w:
        for i in range(frames):
            with torch.no_grad():
                verts = body(pose=torch.tensor(pose[i:i + 1]).to(device), transl=torch.tensor(transl[i:i + 1]).to(device)).vertices
                maps = render_body_maps(body, verts, cam, (size, size))
            uv = maps.uv[0].cpu().numpy()
            m = maps.mask[0, 0].cpu().numpy()[..., None]
            color = np.concatenate([(uv + 1) * 100, np.full(uv.shape[:2] + (1,), 128)], -1)
            frame = (plate * (1 - m) + color * m).clip(0, 255).astype(np.uint8)
            w.append(frame, mask=(m[..., 0] * 255).astype(np.uint8), pose=pose[i], transl=transl[i])
        w.set_split(np.arange(frames - 2), np.arange(frames - 2, frames))
        w.set_keyframes(np.arange(0, frames - 2, 3))


class Windows(Callback):
    """Records the wall time at each report of a ``log_every`` step (the trainer also reports its first step and after
    slow steps: those are no window's end)."""

    def __init__(self) -> None:
        self.marks: list[tuple[int, float]] = []
        self.last_total: float | None = None

    def on_start(self, trainer) -> None:
        self.marks.append((trainer.step, time.perf_counter()))

    def on_step(self, trainer, info) -> None:
        if info.step % trainer.config.optim.log_every == 0:
            self.marks.append((info.step, time.perf_counter()))
        self.last_total = info.losses.get("total")


def variant_overrides(variant: str, batch: int) -> list[str]:
    """Returns the config overrides of ``variant`` for a preset whose batch size is ``batch``."""
    tuned = variant != "eager-fp32"
    scale = int(variant.rsplit("-", 1)[1][:-1]) if variant.endswith("x") else 1
    return [f"optim.bf16={str(tuned).lower()}", f"optim.channels_last={str(tuned).lower()}",
            f"optim.fused_adam={str(tuned).lower()}", f"optim.overlap_data={str(tuned).lower()}",
            f"optim.cuda_graph={str('graph' in variant).lower()}",
            f"data.batch_size={batch * scale}"]


def measure(name: str, variant: str, capture: Path, body, device: torch.device, args, work: Path) -> dict:
    config = preset(name)
    batch = args.batch_size or config.data.batch_size
    steps = args.window * (args.warmup_windows + args.windows)
    overrides = variant_overrides(variant, batch) + [
        f"optim.steps={steps}", f"optim.log_every={args.window}", f"optim.checkpoint_every={steps + 1}",
        "optim.preview_every=0", f"data.workers={args.workers}", "data.cache_in_memory=true"] + args.set
    config = config.with_overrides(overrides)
    record = {"preset": name, "variant": variant, "batch_size": config.data.batch_size,
              "resolution": config.data.resolution}
    clock = Windows()
    warnings: list[str] = []
    trainer = None
    graph_norms = trainer_module.graphed_norms
    try:
        if "-nhwc" in variant:  # the torch-op norm inside the graphs too
            trainer_module.graphed_norms = contextlib.nullcontext
        trainer = Trainer(config, [str(capture)], work / f"{name}-{variant}", device=str(device), body=body,
                          callbacks=[clock], warn=warnings.append)
        trainer.save_checkpoint = lambda: None  # a benchmark writes no 1-2 GB checkpoints
        trainer.export_avatar = lambda: None
        if device.type == "cuda":
            if variant == "eager-fp32":  # PyTorch's defaults: no autotuning, no TF32 matmuls
                torch.backends.cudnn.benchmark = False
                torch.backends.cuda.matmul.allow_tf32 = False
            torch.cuda.reset_peak_memory_stats(device)
        t0 = time.perf_counter()
        with graphed_norms() if "-triton" in variant else contextlib.nullcontext():  # Triton norms in eager steps too
            trainer.run()
        record["wall_s"] = round(time.perf_counter() - t0, 2)
        rates = []
        for (s0, t0_), (s1, t1) in zip(clock.marks, clock.marks[1:]):
            rates.append((s1 - s0) * config.data.batch_size / (t1 - t0_))
        measured = rates[args.warmup_windows:]
        record["images_per_s"] = round(statistics.median(measured), 2) if measured else None
        record["window_images_per_s"] = [round(r, 2) for r in rates]
        if device.type == "cuda":
            record["peak_memory_gb"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 2)
        record["graphs_captured"] = trainer._graphs.captured if trainer._graphs is not None else 0
        record["skipped_steps"] = sum("step skipped" in w for w in warnings)
        record["last_total_loss"] = None if clock.last_total is None else round(clock.last_total, 4)
        record["prepare_ms_per_batch"] = prepare_time(trainer, device)
    except torch.cuda.OutOfMemoryError:
        record["error"] = "out of memory"
    except Exception as exc:  # one failing variant must not lose the others
        record["error"] = f"{type(exc).__name__}: {exc}"[:300]
    finally:
        trainer_module.graphed_norms = graph_norms
        del trainer
        gc.collect()  # frees a previous variant's graphs and their memory pool before the next one
        if device.type == "cuda":
            torch.cuda.empty_cache()
    print(json.dumps(record), flush=True)
    return record


def prepare_time(trainer: Trainer, device: torch.device, repeats: int = 10) -> float:
    """Returns ms per batch spent moving a batch to the device, posing and rasterizing it."""
    batch = next(iter(trainer.loader))
    trainer._prepare(batch, 0)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    t0 = time.perf_counter()
    for i in range(repeats):
        trainer._prepare(batch, i)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return round((time.perf_counter() - t0) / repeats * 1000, 2)


def markdown(results: list[dict], meta: dict) -> str:
    lines = [f"Training throughput (full trainer step), {meta['device_name']}, torch {meta['torch']}, body: {meta['body']}.", "",
             "| preset | variant | batch | images/s | vs eager | vs no graph | graphs | skipped | last loss | peak GB | rasterize ms/batch | target |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]

    def ratio(r: dict, variant: str) -> str:
        base = next((b for b in results if b["preset"] == r["preset"] and b["variant"] == variant), {})
        ips, bips = r.get("images_per_s"), base.get("images_per_s")
        return f"{ips / bips:.2f}x" if ips and bips else "-"

    for r in results:
        ips = r.get("images_per_s")
        no_graph = ratio(r, r["variant"].replace("-graph", "")) if "-graph" in r["variant"] else "-"
        target = TARGETS.get(r["preset"])
        met = "-" if not target or not ips else (f">= {target:g}: {'met' if ips >= target else 'not met'}")
        lines.append(f"| {r['preset']} {r['resolution']}² | {r['variant']} | {r['batch_size']} | "
                     f"{ips if ips else r.get('error', '-')} | {ratio(r, 'eager-fp32')} | {no_graph} | "
                     f"{r.get('graphs_captured', '-')} | {r.get('skipped_steps', '-')} | {r.get('last_total_loss', '-')} | "
                     f"{r.get('peak_memory_gb', '-')} | "
                     f"{r.get('prepare_ms_per_batch', '-')} | {met} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--presets", nargs="+", default=["fast", "paper"])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), type=variant_name)
    parser.add_argument("--batch-size", type=int, default=0, help="override the preset's batch size")
    parser.add_argument("--window", type=int, default=20, help="steps per timing window")
    parser.add_argument("--warmup-windows", type=int, default=2, help="windows dropped (autotuning, compilation)")
    parser.add_argument("--windows", type=int, default=3, help="windows measured")
    parser.add_argument("--workers", type=int, default=8, help="DataLoader workers")
    parser.add_argument("--frames", type=int, default=24, help="frames in the benchmark capture")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="extra config overrides")
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--markdown", help="write a markdown table here")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    body, body_kind = load_body(device)
    meta = {"device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
            "torch": torch.__version__, "body": body_kind}
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name in args.presets:
            capture = work / f"{name}.h5"
            write_capture(capture, preset(name).data.resolution, args.frames, body, device)
            for variant in args.variants:
                results.append(measure(name, variant, capture, body, device, args, work))
    out = {"meta": meta, "results": results}
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    table = markdown(results, meta)
    if args.markdown:
        Path(args.markdown).write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
