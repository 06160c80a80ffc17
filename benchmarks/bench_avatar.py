"""Benchmark: end-to-end avatar frame time, pose -> skinning -> rasterization -> renderer -> uint8 image on the host.

    python benchmarks/bench_avatar.py --device cuda --json bench_avatar.json --markdown bench_avatar.md
    python benchmarks/bench_avatar.py --device cuda --presets paper fast --variants eager-fp32 bf16-cl bf16-cl-cudagraph \
        bf16-cl-framegraph --frames 100 --warmup 20                  # the GPU table in docs/benchmarks.md
    OMP_WAIT_POLICY=PASSIVE python benchmarks/bench_avatar.py --device cpu --threads 2 --avatar models/demo.anr \
        --sizes 256 --frames 20 --warmup 3 --variants eager-fp32 cpu-tuned   # the CPU table
    python benchmarks/bench_avatar.py --device cpu --presets tiny --sizes 64 --frames 3 --warmup 1  # smoke test

Each frame is `Avatar.render(identity, pose, camera, size=...)` exactly as the CLI and the GUI call
it: the pose changes every frame (the built-in walk), the body is skinned, rasterized, the neural
texture sampled, R1 + R2 run, the result composited over white, converted to uint8 and copied to
host memory. Weights are random (timing only); the body is the built-in one. Variants, measured
in the same run:

- ``eager-fp32``: plain eager, float32, NCHW (the baseline)
- ``bf16-cl``: bf16 autocast + channels_last
- ``fp32-cudagraph`` / ``bf16-cl-cudagraph``: the eager renderer captured as a plain CUDA graph
  per image size (`anr_studio.model.graphed.GraphedRenderer`, no compilation), fp32 or bf16-cl,
  the rest of the frame op by op: ``Avatar.tune(bf16=..., channels_last=..., whole_frame=False)``
- ``bf16-cl-framegraph``: the whole frame (inputs -> LBS -> rasterize -> interpolate -> texture ->
  renderer -> composite -> uint8) replayed as one CUDA graph (`anr_studio.avatar.frame.FrameGraphs`):
  ``Avatar.tune()``, what the CLI and the studio use on CUDA. Its row also reports how far its
  images are from the eager ``bf16-cl`` frames of the same weights (``max_diff`` / ``mean_diff``,
  uint8 levels over ``COMPARE_POSES`` walk poses)
- ``cpu-tuned``: ``Avatar.tune()`` on the CPU (fp32, channels_last; what the CLI and the studio's
  preview worker use on the CPU)

``--avatar PATH`` times a real avatar file (e.g. models/demo.anr, its first identity) instead of
random weights of ``--presets``.

``--batch B`` renders B frames per call (sequence export); FPS is frames per second either way.
The "network only" column times the renderer forward alone on the same inputs (no pose,
rasterization or copy), to show what the rest of the pipeline costs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from anr_studio.avatar.avatar import Avatar  # noqa: E402
from anr_studio.body import BodyModel  # noqa: E402
from anr_studio.model import build_renderer, build_textures  # noqa: E402
from anr_studio.motion import load_motion  # noqa: E402
from anr_studio.train.presets import preset as get_preset  # noqa: E402
from anr_studio.avatar.forward import _is_channels_last, body_maps  # noqa: E402

VARIANTS = ("eager-fp32", "bf16-cl", "fp32-cudagraph", "bf16-cl-cudagraph", "bf16-cl-framegraph",
            "cpu-tuned")
COMPARE_POSES = 8


def make_avatar(preset: str, device: torch.device, variant: str) -> Avatar:
    """Returns an Avatar with the preset's renderer (random weights), one random texture, the built-in body.

    ``preset`` ending in ".anr" loads that avatar file instead (its first identity renamed "A").
    """
    if preset.endswith(".anr"):
        avatar = Avatar.load(preset, device)
        first = avatar.identities[0]
        avatar.add_identity("A", avatar.texture(first), avatar.identity_betas(first), avatar.identity_camera(first))
        return avatar.tune() if variant == "cpu-tuned" else avatar
    config = get_preset(preset)
    torch.manual_seed(0)
    renderer = build_renderer(config.model, config.renderer)
    texture = build_textures(1, config.model.texture)[0].texture.detach()[0]
    body = BodyModel.default(device)
    meta = {"config": config.to_dict(), "renderer": config.renderer, "body_model": "default", "identities": ["A"]}
    avatar = Avatar(renderer.to(device), {"A": texture}, body, meta, source=f"random {preset}")
    if variant == "cpu-tuned":
        return avatar.tune()
    if variant != "eager-fp32":
        bf16 = variant.startswith("bf16")
        avatar.tune(bf16=bf16, channels_last=bf16, graphs=variant.endswith(("cudagraph", "framegraph")),
                    whole_frame=variant.endswith("framegraph"))
    return avatar


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_frames(avatar: Avatar, poses: np.ndarray, size: int, batch: int, warmup: int, frames: int,
                device: torch.device) -> tuple[float, float]:
    """Returns (wall seconds, process CPU seconds) per frame of avatar.render over ``frames`` frames.

    The process CPU time says how much work a frame is when other jobs share the cores (wall
    time then includes waiting for them); on idle cores wall ~ CPU time / threads at best.
    """
    camera = avatar.default_camera(size, "A")
    calls = max(1, frames // batch)

    def call(i: int) -> None:
        idx = [(i * batch + k) % len(poses) for k in range(batch)]
        p = poses[idx[0]] if batch == 1 else poses[idx]
        image, _ = avatar.render("A", p, camera, size=size, batch_size=batch)
        assert image.dtype == np.uint8

    for i in range(max(1, warmup // batch)):
        call(i)
    _sync(device)
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(calls):
        call(i)
    _sync(device)
    n = calls * batch
    return (time.perf_counter() - t0) / n, (time.process_time() - c0) / n


def compare_frames(avatar: Avatar, reference: Avatar, poses: np.ndarray, size: int) -> tuple[int, float]:
    """Returns (max, mean) absolute difference in uint8 levels between the two avatars' images of ``poses``."""
    camera = avatar.default_camera(size, "A")
    worst, total = 0, 0.0
    for pose in poses:
        got = avatar.render("A", pose, camera, size=size)[0].astype(np.int16)
        want = reference.render("A", pose, camera, size=size)[0].astype(np.int16)
        diff = np.abs(got - want)
        worst, total = max(worst, int(diff.max())), total + float(diff.mean())
    return worst, total / len(poses)


@torch.no_grad()
def time_network(avatar: Avatar, size: int, batch: int, warmup: int, frames: int, device: torch.device) -> float:
    """Returns seconds per frame of the renderer forward alone (same inputs as a real frame)."""
    camera = avatar.default_camera(size, "A")
    maps = body_maps(avatar.body, torch.zeros(batch, 24, 3, device=device), None, None, camera, (size, size))
    texture = avatar._textures["A"]
    neural = texture.sample(maps.uv)
    normals = maps.normals
    if avatar.autocast or _is_channels_last(avatar.renderer):
        neural = neural.contiguous(memory_format=torch.channels_last)
        normals = normals.contiguous(memory_format=torch.channels_last)
    calls = max(1, frames // batch)
    for _ in range(max(1, warmup // batch)):
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=avatar.autocast):
            avatar._network(neural, normals)
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(calls):
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=avatar.autocast):
            avatar._network(neural, normals)
    _sync(device)
    return (time.perf_counter() - t0) / (calls * batch)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    parser.add_argument("--presets", nargs="+", default=None, help="default: fast paper (CUDA), fast (CPU)")
    parser.add_argument("--avatar", type=Path, default=None, help="time this .anr file instead of --presets")
    parser.add_argument("--sizes", type=int, nargs="+", default=None, help="square sizes (default 512 1024 CUDA, 256 CPU)")
    parser.add_argument("--variants", nargs="+", default=None, choices=VARIANTS, help="default: all on CUDA, eager on CPU")
    parser.add_argument("--batch", type=int, default=1, help="frames per render call (default 1: interactive latency)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--warmup", type=int, default=None, help="untimed frames first (default 3 CPU, 30 CUDA)")
    parser.add_argument("--frames", type=int, default=None, help="timed frames (default 10 CPU, 200 CUDA)")
    parser.add_argument("--no-network", action="store_true", help="skip the network-only timing")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    parser.add_argument("--markdown", type=Path, default=None, help="write the table here")
    args = parser.parse_args(argv)

    device = torch.device(args.device)
    cuda = device.type == "cuda"
    if args.threads:
        torch.set_num_threads(args.threads)
    if cuda:
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    presets = [str(args.avatar)] if args.avatar else (args.presets or (["fast", "paper"] if cuda else ["fast"]))
    sizes = args.sizes or ([512, 1024] if cuda else [256])
    variants = args.variants or (list(VARIANTS) if cuda else ["eager-fp32"])
    warmup = args.warmup if args.warmup is not None else (30 if cuda else 3)
    frames = args.frames if args.frames is not None else (200 if cuda else 10)
    poses = load_motion("walk").poses
    name = torch.cuda.get_device_name(device) if cuda else f"{platform.processor() or platform.machine()} ({torch.get_num_threads()} threads)"
    rows = []
    for preset in presets:
        for size in sizes:
            for variant in variants:
                avatar = make_avatar(preset, device, variant)
                t_compile = time.perf_counter()
                spf, cpu = time_frames(avatar, poses, size, args.batch, warmup, frames, device)
                net = None if args.no_network else time_network(avatar, size, args.batch, warmup, frames, device)
                row = {"preset": preset, "size": size, "variant": variant, "batch": args.batch,
                       "fps": 1.0 / spf, "frame_ms": spf * 1e3, "process_cpu_ms": cpu * 1e3, "network_fps": None if net is None else 1.0 / net,
                       "network_ms": None if net is None else net * 1e3,
                       "renderer_params": sum(p.numel() for p in avatar.renderer.parameters()), "wall_s": time.perf_counter() - t_compile}
                if variant == "bf16-cl-framegraph":
                    picks = poses[np.linspace(0, len(poses) - 1, COMPARE_POSES).astype(int)]
                    row["max_diff"], row["mean_diff"] = compare_frames(avatar, make_avatar(preset, device, "bf16-cl"), picks, size)
                if cuda:
                    row["peak_mem_gb"] = torch.cuda.max_memory_allocated(device) / 2**30
                    torch.cuda.reset_peak_memory_stats(device)
                rows.append(row)
                print(json.dumps(row), flush=True)
                del avatar
                if cuda:
                    torch.cuda.empty_cache()
    load = f"; load average {os.getloadavg()[0]:.1f}" if not cuda else ""
    lines = [f"Device: {name}; torch {torch.__version__}; batch {args.batch}; {frames} timed frames after {warmup} warm-up{load}.", "",
             "| preset | size | variant | end-to-end FPS | ms/frame | process CPU ms/frame | network-only FPS |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        net = f"{r['network_fps']:.1f}" if r["network_fps"] is not None else "-"
        lines.append(f"| {r['preset']} | {r['size']}² | {r['variant']} | {r['fps']:.1f} | {r['frame_ms']:.2f} | {r['process_cpu_ms']:.1f} | {net} |")
    for r in rows:
        if "max_diff" in r:
            lines.append(f"\n{r['preset']} {r['size']}² {r['variant']} vs bf16-cl (eager, same weights), {COMPARE_POSES} poses: "
                         f"max {r['max_diff']} uint8 levels, mean {r['mean_diff']:.3f}.")
    table = "\n".join(lines)
    print(table)
    if args.json:
        args.json.write_text(json.dumps({"device": name, "torch": torch.__version__, "rows": rows}, indent=1))
    if args.markdown:
        args.markdown.write_text(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
