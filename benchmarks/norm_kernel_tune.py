"""Tiles of the Triton instance-norm statistics kernel: effective bandwidth per configuration (CUDA only).

    python benchmarks/norm_kernel_tune.py [--json OUT.json]

For the paper preset's norm shapes at batch 8 (U-Net levels and discriminator layers), times
`norm_triton._stats_kernel` in its three uses (forward sums of x; backward sums of g and g*x with
the fused activation's derivative; the conv bias + activation backward, which also stores g)
over a grid of tile configurations with ``triton.testing.do_bench`` and prints GB/s (bytes read
and written / time) for each, the best per shape, and the affine kernel's GB/s for reference.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import torch
import triton

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from anr_studio.model import norm_triton as nt  # noqa: E402

SHAPES = [(8, 64, 512, 512), (8, 128, 256, 256), (8, 256, 128, 128), (8, 512, 64, 64), (8, 128, 257, 257),
          (8, 512, 130, 130), (8, 512, 16, 16)]
MODES = ("forward", "backward", "store_g")
CONFIGS = [dict(R=r, BLOCK_C=c, num_warps=w, rows=rows)
           for r, c, w, rows in itertools.product((16, 32, 64, 128), (32, 64, 128), (4, 8), (256, 1024, 4096))]


def launch(mode: str, u, v, g, scale, shift, cfg) -> callable:
    """Returns a no-argument function that runs the stats kernel once in ``mode`` with tile ``cfg``."""
    batch, channels, height, width = u.shape
    hw = height * width
    out1 = torch.zeros((batch, channels), dtype=torch.float32, device=u.device)
    out2 = torch.zeros_like(out1)
    block_c = min(cfg["BLOCK_C"], triton.next_power_of_2(channels))
    rows = min(cfg["rows"], triton.next_power_of_2(hw))
    rows = max(rows, cfg["R"])
    grid = (batch, triton.cdiv(hw, rows), triton.cdiv(channels, block_c))
    has_v = mode != "forward"

    def run():
        out1.zero_()
        out2.zero_()
        nt._stats_kernel[grid](nt._nhwc(u), nt._nhwc(v) if has_v else u, out1, out2, scale, shift,
                               nt._nhwc(g) if mode == "store_g" else out1, 0.2, hw, channels, channels, rows,
                               HAS_V=has_v, ACT_GRAD=has_v, STORE_G=mode == "store_g", R=cfg["R"],
                               BLOCK_C=block_c, num_warps=cfg["num_warps"])
    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json")
    args = parser.parse_args()
    from triton.testing import do_bench

    dev = torch.device("cuda")
    results = []
    for shape in SHAPES:
        u = torch.randn(shape, device=dev, dtype=torch.bfloat16).contiguous(memory_format=torch.channels_last)
        v = torch.randn_like(u)
        g = torch.empty_like(u)
        scale = torch.rand(shape[0], shape[1], device=dev) + 0.5
        shift = torch.randn(shape[0], shape[1], device=dev)
        a = scale.view(shape[0], shape[1], 1, 1)
        affine_ms = do_bench(lambda: nt.nhwc_affine(u, a, a), warmup=5, rep=40)
        nbytes = u.numel() * u.element_size()
        line = {"shape": shape, "affine_gbs": round(2 * nbytes / affine_ms / 1e6, 1)}
        for mode in MODES:
            passes = {"forward": 1, "backward": 2, "store_g": 3}[mode]
            timings = []
            for cfg in CONFIGS:
                try:
                    ms = do_bench(launch(mode, u, v, g, scale, shift, cfg), warmup=5, rep=30)
                except Exception as exc:  # a tile too large for the shape or the shared memory
                    print(f"{shape} {mode} {cfg}: {type(exc).__name__}", flush=True)
                    continue
                timings.append((ms, cfg))
            current = dict(R=64 if mode == "store_g" and shape[1] <= 64 else 128, BLOCK_C=128, num_warps=4, rows=256)
            cur_ms = do_bench(launch(mode, u, v, g, scale, shift, current), warmup=5, rep=30)
            best_ms, best = min(timings, key=lambda t: t[0])
            line[mode] = {"current_ms": round(cur_ms, 4), "current_gbs": round(passes * nbytes / cur_ms / 1e6, 1),
                          "best_ms": round(best_ms, 4), "best_gbs": round(passes * nbytes / best_ms / 1e6, 1),
                          "best": best, "top5": [(round(t, 4), c) for t, c in sorted(timings, key=lambda t: t[0])[:5]]}
        print(json.dumps(line), flush=True)
        results.append(line)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
