"""Time and accuracy of a whole video import (MediaPipe keypoints and masks, body fit, capture writing).

    pip install 'anr-studio[video]'
    python benchmarks/video_import.py --frames 300 --size 720 --threads 2

Renders a synthetic capture (a person walking, known body and camera), encodes its frames as an
mp4, imports the mp4 with `anr-studio import`'s pipeline and reports the wall time, the median 3D
joint error after aligning the roots (in the camera's axes), the fitted focal length against the
truth and the masks' IoU against the true masks. Target: 300 frames at 720p in at most 5 minutes
on 2 CPU cores, median 3D joint error <= 6 cm.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from anr_studio.capture import Capture
from anr_studio.capture.synth.generate import SynthConfig, generate_capture
from anr_studio.capture.video_fit.pipeline import video_to_capture
from anr_studio.capture.video_fit.synthetic import joint_error
from anr_studio.metrics.image import mask_iou


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--size", type=int, default=720)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        generate_capture(d / "truth.h5", SynthConfig(frames=args.frames, size=args.size, tracking_noise=0.0))
        truth = Capture(d / "truth.h5")
        video = d / "walker.mp4"
        writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), truth.fps, (args.size, args.size))
        for i in range(len(truth)):
            writer.write(np.ascontiguousarray(truth.frame(i)[..., ::-1]))
        writer.release()
        start = time.perf_counter()
        out = video_to_capture(video, d / "out.h5")
        seconds = time.perf_counter() - start
        from anr_studio.body import load_body
        from anr_studio.capture.video_fit.bodyfit import body_keypoints
        from anr_studio.capture.video_fit.landmarks import landmark_map

        body = load_body()
        with torch.no_grad():
            _, joints = body_keypoints(body, landmark_map("coco17", body), torch.as_tensor(truth.truth("pose")),
                                       torch.as_tensor(truth.truth("betas")), torch.as_tensor(truth.truth("transl")))
        K, R, t = truth.cameras()
        n = len(truth)
        cam = np.einsum("nij,nkj->nki", np.broadcast_to(R, (n, 3, 3)), joints.numpy()) + np.broadcast_to(t, (n, 3))[:, None]
        pose = np.stack([out.pose(i) for i in range(n)])
        transl = np.stack([out.transl(i) for i in range(n)])
        err = joint_error(pose, transl, out.betas, cam)
        ious = [mask_iou(out.mask(i), truth.mask(i)) for i in range(n)]
        row = dict(frames=n, size=args.size, threads=args.threads, seconds=round(seconds, 1),
                   median_3d_cm=round(float(np.median(err)) * 100, 2), mean_iou=round(float(np.mean(ious)), 4),
                   focal_px=round(float(out.camera(0)[0][0, 0]), 1),
                   true_focal_px=round(float(np.asarray(K).reshape(-1, 3, 3)[0, 0, 0]), 1))
    print(json.dumps(row))
    if args.json:
        Path(args.json).write_text(json.dumps(row, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
