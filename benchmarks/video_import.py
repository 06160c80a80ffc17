"""From a rendered hand-held video to a checked capture with the real models: accuracy and time.

    python benchmarks/video_import.py --frames 300 --seeds 0 1 --work /tmp/video_import [--height]

Needs the ``video`` extra (MediaPipe). Per seed: the synthetic person (dressed, rendered) walks
in a room filmed at 720p by a hand-held camera (3 cm / 1.5 degree wobble, focal 1100 px, so no
clean plate and a moving background); then ``anr-studio import clip.mp4 --out cap.h5`` runs as a
user runs it (keypoints + person masks -> body fit -> capture file -> alignment check), timed
(wall and CPU of the command, the load average before and after); with ``--height`` the same clip
is imported a second time with ``--height`` set to the person's true standing height, as a user who
knows it. Reported against the truth: median 3D joint error after aligning the roots (target
<= 6 cm), the same after also aligning the scale (one video cannot tell a tall person far away from
a short one nearby: without the height the fitted body takes the priors' size), the fitted and true
height and leg length, and mean mask IoU (target >= 0.93); target time: 300 frames in <= 5 minutes
on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.capture.video_synthetic: the synthetic videos


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--work", default="video_import_work", help="folder for the clips and captures")
    parser.add_argument("--json", default=None)
    parser.add_argument("--height", action="store_true", help="also import each clip with the person's true height")
    args = parser.parse_args()

    import torch

    from anr_studio.body import load_body
    from anr_studio.capture import Capture
    from anr_studio.capture.video_fit.bodyfit import standing_height
    from anr_studio.metrics.image import mask_iou
    from tests.capture.video_synthetic import fitted_joints_camera, joint_error, leg_length, render_video

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    for seed in args.seeds:
        clip, cap_path = work / f"walk{seed}.mp4", work / f"walk{seed}.h5"
        t0 = time.perf_counter()
        truth = render_video(clip, args.frames, seed=seed)
        render_s = time.perf_counter() - t0
        for height in ([None, truth.height] if args.height else [None]):
            cap_path.unlink(missing_ok=True)
            extra = [] if height is None else ["--height", f"{height:.3f}"]
            load_before = os.getloadavg()
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            wall = time.perf_counter()
            run = subprocess.run([sys.executable, "-m", "anr_studio.cli", "import", str(clip), "--out", str(cap_path)]
                                 + extra, capture_output=True, text=True)
            wall = time.perf_counter() - wall
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            load_after = os.getloadavg()
            if run.returncode != 0:
                print(run.stdout + run.stderr, file=sys.stderr)
                return 1
            cap = Capture(cap_path)
            n = len(cap)
            pose = np.stack([cap.pose(i) for i in range(n)])
            transl = np.stack([cap.transl(i) for i in range(n)])
            betas = np.asarray(cap.betas, np.float32)
            err = joint_error(pose, transl, betas, truth.joints_camera[:n])
            scaled = joint_error(pose, transl, betas, truth.joints_camera[:n], align_scale=True)
            fitted = fitted_joints_camera(pose, transl, betas)
            fitted_height = float(standing_height(load_body(), len(betas))(torch.as_tensor(betas)))
            iou = np.array([mask_iou(cap.mask(i), truth.masks[i]) for i in range(n)])
            check = [line for line in run.stdout.splitlines() if line.startswith(("check", "warning"))]
            row = dict(seed=seed, frames=n, size=f"{truth.image_size[1]}x{truth.image_size[0]}",
                       height_given=height is not None,
                       median_3d_cm=round(float(np.median(err)) * 100, 2), mean_3d_cm=round(float(err.mean()) * 100, 2),
                       median_3d_scale_aligned_cm=round(float(np.median(scaled)) * 100, 2),
                       height_m=round(fitted_height, 3), true_height_m=round(truth.height, 3),
                       leg_m=round(leg_length(fitted), 3), true_leg_m=round(leg_length(truth.joints_camera), 3),
                       mask_iou_mean=round(float(iou.mean()), 4), mask_iou_min=round(float(iou.min()), 4),
                       focal_px=round(float(cap.camera(0)[0][0, 0]), 1), true_focal_px=truth.focal,
                       import_wall_s=round(wall, 1),
                       import_cpu_s=round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 1),
                       load_before=[round(x, 2) for x in load_before], load_after=[round(x, 2) for x in load_after],
                       render_s=round(render_s, 1), check=check[0] if check else "")
            cap.close()
            rows.append(row)
            print(json.dumps(row), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
