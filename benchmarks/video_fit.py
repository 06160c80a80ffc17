"""Accuracy and speed of the body fit to keypoints on synthetic clips with known truth.

    python benchmarks/video_fit.py --frames 300 --seeds 0 1 2 --json video_fit.json

A built-in motion (walk, 209 frames at 30 fps, resampled to more frames when more are asked) is seen by a hand-held camera (3 cm / 1.5 degree wobble, 720p, focal 1100 px); keypoints get
2 px noise, confidences 0.6-1 and 10 % dropped. Reports, per seed, the median 3D joint error after
aligning the roots, the 2D reprojection error and the fitted focal length, from 2D keypoints alone
and with root-relative 3D keypoints (2 cm noise), plus wall and CPU time. Target: median 3D joint
error <= 6 cm; the fit within the 5-minute budget of 300 frames from video to capture on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.capture.video_synthetic: the synthetic clips

from anr_studio.capture.video_fit.bodyfit import fit_body  # noqa: E402
from tests.capture.video_synthetic import joint_error, synthetic_clip  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--motion", default="walk")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    rows = []
    for seed in args.seeds:
        clip = synthetic_clip(args.frames, motion=args.motion, seed=seed)
        for use3d in (False, True):
            wall, cpu = time.perf_counter(), time.process_time()
            fit = fit_body(clip.keypoints, clip.confidence, clip.image_size, clip.layout,
                           keypoints3d=clip.keypoints3d if use3d else None)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            err = joint_error(fit.pose, fit.transl, fit.betas, clip.joints_camera)
            row = dict(seed=seed, frames=len(clip.keypoints), keypoints3d=use3d,
                       median_3d_cm=round(float(np.median(err)) * 100, 2),
                       mean_3d_cm=round(float(err.mean()) * 100, 2),
                       median_2d_px=round(float(np.nanmedian(fit.reprojection_px)), 2),
                       focal_px=round(float(fit.K[0, 0]), 1), true_focal_px=clip.focal,
                       wall_s=round(wall, 1), cpu_s=round(cpu, 1))
            rows.append(row)
            print(json.dumps(row), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
