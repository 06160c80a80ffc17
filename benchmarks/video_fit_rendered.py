"""The body fit alone on MediaPipe's keypoints of rendered hand-held clips, against the truth.

    python benchmarks/video_fit_rendered.py --frames 300 --seeds 0 1 2 3 4 --work /tmp/video_fit_rendered

Needs the ``video`` extra (MediaPipe). Per seed, the clip that ``benchmarks/video_import.py``
renders (the dressed synthetic person walking, 720p, hand-held camera) goes once through MediaPipe's
estimator as the import runs it; its keypoints are kept in ``--work`` (``keypoints{seed}_{frames}.npz``,
reused by later runs, so that two versions of the fit see the same keypoints). The fit then runs
without and with the person's true height. Reported: median and mean 3D joint error after aligning
the roots, the median after also aligning the scale, the median of trunk, leg and arm joints, the
fitted and true height, the focal length and the fit's CPU time.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.capture.video_synthetic: the synthetic videos

_GROUPS = {
    "trunk": ("pelvis", "spine1", "spine2", "spine3", "neck", "head", "left_collar", "right_collar",
              "left_hip", "right_hip", "left_shoulder", "right_shoulder"),
    "legs": ("left_knee", "right_knee", "left_ankle", "right_ankle", "left_foot", "right_foot"),
    "arms": ("left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hand", "right_hand"),
}


def clip_keypoints(work: Path, seed: int, frames: int) -> dict:
    """Returns the rendered clip's MediaPipe keypoints and truth, computing them unless ``work`` has them."""
    cached = work / f"keypoints{seed}_{frames}.npz"
    if not cached.is_file():
        from anr_studio.capture.video_fit.models import default_estimator
        from anr_studio.capture.formats.sources import open_frames
        from anr_studio.capture.video_fit.pipeline import check_person, frame_batches
        from tests.capture.video_synthetic import render_video

        clip = work / f"walk{seed}_{frames}.mp4"
        truth = render_video(clip, frames, seed=seed)
        estimator = default_estimator()
        found = [estimator(np.stack(batch)) for batch in frame_batches(open_frames(clip).frames, truth.image_size, clip)]
        points, conf = np.concatenate([k.points for k in found]), np.concatenate([k.confidence for k in found])
        people = np.concatenate([k.people for k in found])
        conf[check_person(points, conf, people, estimator.layout, truth.image_size, clip.name)] = 0.0
        np.savez(cached, points=points, confidence=conf, points3d=np.concatenate([k.points3d for k in found]),
                 joints_camera=truth.joints_camera, height=truth.height, image_size=np.asarray(truth.image_size))
    return dict(np.load(cached))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--work", default="video_fit_rendered_work", help="folder for the clips and keypoints")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()

    import torch

    from anr_studio.body import joint_index, load_body
    from anr_studio.capture.video_fit.bodyfit import fit_body, standing_height
    from tests.capture.video_synthetic import joint_error

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    body = load_body()
    rows = []
    for seed in args.seeds:
        d = clip_keypoints(work, seed, args.frames)
        truth = d["joints_camera"]
        for height in (None, float(d["height"])):
            cpu = time.process_time()
            fit = fit_body(d["points"], d["confidence"], tuple(int(x) for x in d["image_size"]), "mediapipe33",
                           body=body, keypoints3d=d["points3d"], height=height)
            cpu = time.process_time() - cpu
            err = joint_error(fit.pose, fit.transl, fit.betas, truth, body=body)
            scaled = joint_error(fit.pose, fit.transl, fit.betas, truth, body=body, align_scale=True)
            groups = {f"{name}_cm": round(float(np.median(err[:, [joint_index(j) for j in joints]])) * 100, 1)
                      for name, joints in _GROUPS.items()}
            row = dict(seed=seed, frames=len(truth), height_given=height is not None,
                       median_3d_cm=round(float(np.median(err)) * 100, 2), mean_3d_cm=round(float(err.mean()) * 100, 2),
                       median_3d_scale_aligned_cm=round(float(np.median(scaled)) * 100, 2), **groups,
                       height_m=round(float(standing_height(body, len(fit.betas))(torch.as_tensor(fit.betas))), 3),
                       true_height_m=round(float(d["height"]), 3), focal_px=round(float(fit.K[0, 0]), 1),
                       cpu_s=round(cpu, 1))
            print(json.dumps(row), flush=True)
            rows.append(row)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
