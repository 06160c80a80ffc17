"""Speed of synthetic captures and keyframe selection on the CPU.

    python benchmarks/synth_speed.py --frames 300 --size 256 --threads 2 --json synth_speed.json

Writes a capture into a temporary folder, times it (wall clock and process CPU time, since
a shared machine's load inflates wall time), then times keyframe selection on it and reports
the coverage curve. Target: 300 frames at 256x256 in under 2 minutes on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from anr_studio.capture import Capture
from anr_studio.capture.check import coarse_masks
from anr_studio.capture.keyframes import select_keyframes
from anr_studio.capture.synth.generate import SynthConfig, generate_capture


class _Truth:
    """A synthetic capture whose body parameters are the noise-free ones stored under truth/."""

    def __init__(self, capture) -> None:
        self.capture = capture

    def __getattr__(self, name):
        return getattr(self.capture, name)

    def pose(self, i: int) -> np.ndarray:
        return self.capture.truth("pose")[i]

    def transl(self, i: int) -> np.ndarray:
        return self.capture.truth("transl")[i]


def outside_share(capture, indices=None, truth: bool = False, body=None) -> float:
    """Returns the share of the soft masks' mass (frames ``indices``, default all) outside the coarse ``body``
    (default the capture's own), posed with the tracked parameters or, with ``truth``, exactly (what remains is
    clothes and hair)."""
    idx = list(range(len(capture))) if indices is None else [int(i) for i in indices]
    posed = _Truth(capture) if truth else capture
    inside = outside = 0.0
    for start in range(0, len(idx), 16):
        chunk = idx[start:start + 16]
        coarse = coarse_masks(posed, chunk, body)
        true = np.stack([capture.mask(i) for i in chunk]).astype(np.float64) / 255.0
        outside += float((true * ~coarse).sum())
        inside += float((true * coarse).sum())
    return outside / max(inside + outside, 1e-12)


def angle_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Returns the rotation angle in degrees (...) between axis-angle rotations ``a`` and ``b`` (..., 3)."""
    rel = Rotation.from_rotvec(a.reshape(-1, 3)).inv() * Rotation.from_rotvec(b.reshape(-1, 3))
    return np.rad2deg(rel.magnitude()).reshape(a.shape[:-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--motion", default="walk")
    parser.add_argument("--views", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--fraction", type=float, default=0.1)
    parser.add_argument("--tracking-noise", type=float, default=3.0)
    parser.add_argument("--json", default=None, help="write the result here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    result: dict = {"frames": args.frames, "size": args.size, "motion": args.motion, "views": args.views,
                    "threads": args.threads, "load_before": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.h5"
        wall, cpu = time.perf_counter(), time.process_time()
        report = generate_capture(path, SynthConfig(seed=args.seed, frames=args.frames, size=args.size,
                                                    motion=args.motion, views=args.views,
                                                    tracking_noise=args.tracking_noise))
        result["synth_wall_s"] = round(time.perf_counter() - wall, 2)
        result["synth_cpu_s"] = round(time.process_time() - cpu, 2)
        result["synth_per_frame_ms"] = report["per_frame_ms"]
        result["file_mib"] = round(path.stat().st_size / 2**20, 2)
        cap = Capture(path)
        sample = list(range(0, len(cap), max(1, len(cap) // 32)))
        # How much of the person lies outside the coarse body: the part ANR must learn to paint.
        result["mask_outside_coarse_truth"] = round(outside_share(cap, sample, truth=True), 4)
        result["mask_outside_coarse_tracked"] = round(outside_share(cap, sample), 4)
        ang = angle_between(cap.poses, cap.truth("pose"))
        result["tracking_rms_deg"] = round(float(np.sqrt(np.mean(ang**2))), 3)
        result["tracking_transl_rms_m"] = round(float(np.sqrt(np.mean(np.sum((cap.transls - cap.truth("transl")) ** 2, 1)))), 4)
        cap.close()
        wall, cpu = time.perf_counter(), time.process_time()
        sel = select_keyframes(path, fraction=args.fraction)
        result["keyframes_wall_s"] = round(time.perf_counter() - wall, 2)
        result["keyframes_cpu_s"] = round(time.process_time() - cpu, 2)
        result["keyframes"] = sel.indices.tolist()
        result["texel_coverage"] = [round(float(c), 4) for c in sel.coverage]
        result["silhouette_coverage"] = [round(float(c), 4) for c in sel.silhouette_coverage]
        for target in (0.9, 0.95, 0.99):
            hit = [i + 1 for i, c in enumerate(sel.coverage) if c >= target]
            result[f"keyframes_for_{int(target * 100)}pct"] = hit[0] if hit else None
    result["load_after"] = os.getloadavg()[0]
    text = json.dumps(result, indent=1)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
