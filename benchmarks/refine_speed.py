"""Speed and accuracy of the pose fit run before training (`anr_studio.train.data.refined_poses`) on the CPU.

    OMP_WAIT_POLICY=PASSIVE python benchmarks/refine_speed.py --size 720 --frames 16 --steps 30 --threads 2
    OMP_WAIT_POLICY=PASSIVE python benchmarks/refine_speed.py --motion dance --seed 1 --tracking-noise 5 --json d.json

Writes a synthetic capture (tracked poses with tracking noise; the true ones kept under truth/) into
a temporary folder and fits its poses twice in the same run: at full frame (the baseline: the masks and cameras
as stored) and as `refine_poses` does (cropped around the person and shrunk to about WORK_HEIGHT pixels tall).
Reports wall and process CPU time (a shared machine's load inflates wall time) and the mean 3D joint error
against the true poses, in mm, of the tracked and of both fitted poses, and the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from unittest import mock

import numpy as np
import torch

from anr_studio.avatar import refine
from anr_studio.body.load import load_body
from anr_studio.capture import Capture
from anr_studio.capture.synth.generate import SynthConfig, generate_capture
from anr_studio.train.data import refined_poses


def joint_error_mm(body, cap: Capture, pose: np.ndarray, transl: np.ndarray) -> float:
    """Returns the mean distance (mm) of the body's joints posed by ``pose``, ``transl`` from the true ones."""
    betas = torch.from_numpy(cap.betas[None, : body.num_betas].astype(np.float32))
    with torch.no_grad():
        joints = [body(pose=torch.as_tensor(p).float(), betas=betas, transl=torch.as_tensor(t).float()).joints
                  for p, t in ((pose, transl), (cap.truth("pose"), cap.truth("transl")))]
    return float((joints[0] - joints[1]).norm(dim=-1).mean()) * 1000


def full_frame(vertices, camera, mask):
    """The baseline's working view: the frames as stored."""
    return mask, camera, mask.shape[-2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=720)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--motion", default="walk")
    parser.add_argument("--tracking-noise", type=float, default=3.0, metavar="DEG")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    body = load_body()
    result = {"size": args.size, "frames": args.frames, "steps": args.steps, "motion": args.motion,
              "tracking_noise": args.tracking_noise, "threads": args.threads, "load_before": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "capture.h5"
        generate_capture(path, SynthConfig(seed=args.seed, frames=args.frames, size=args.size, motion=args.motion,
                                               tracking_noise=args.tracking_noise))
        cap = Capture(path)
        tracked = np.stack([cap.pose(i) for i in range(len(cap))]), np.stack([cap.transl(i) for i in range(len(cap))])
        result["tracked_mm"] = round(joint_error_mm(body, cap, *tracked), 2)
        for name, view in (("full_frame", full_frame), ("working_view", refine._working_view)):
            with mock.patch.object(refine, "_working_view", view):
                wall, cpu = time.perf_counter(), time.process_time()
                pose, transl = refined_poses(body, cap, args.steps)
                result[f"{name}_s"] = round(time.perf_counter() - wall, 2)
                result[f"{name}_cpu_s"] = round(time.process_time() - cpu, 2)
            result[f"{name}_mm"] = round(joint_error_mm(body, cap, pose, transl), 2)
    result["speedup_wall"] = round(result["full_frame_s"] / result["working_view_s"], 2)
    result["speedup_cpu"] = round(result["full_frame_cpu_s"] / result["working_view_cpu_s"], 2)
    result["error_change_mm"] = round(result["working_view_mm"] - result["full_frame_mm"], 2)
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
