"""Builds the real-footage test clip (`shared/data/real/glamr_running`) from aitviewer's GLAMR example.

    python scripts/build_real_clip.py AITVIEWER_CHECKOUT OUT_DIR

AITVIEWER_CHECKOUT is a clone of https://github.com/eth-ait/aitviewer (MIT; its
`examples/resources/glamr/` holds the 203 frames at 1280x720 and the SMPL fits of GLAMR's dynamic-camera
demo, research or evaluation use only). Writes every 6th frame (34) to OUT_DIR/images, person masks to
OUT_DIR/masks (MediaPipe: run it in an environment with the `video` extra), the fits in the importer's
generic layout to OUT_DIR/smpl.npz, the fitter's 2D keypoints (N,26,3: x, y, score at 1280x720) to
OUT_DIR/keypoints_2d.npy, and a README with the source, credit and licence.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from anr_studio.capture.formats.safe_pickle import read
from anr_studio.capture.masks import learned_mask
from anr_studio.capture.video_fit.models import MediaPipeSegmenter

STEP = 6
# SMPL's rest pelvis joint at its mean neutral shape: GLAMR stores the pelvis's position, SMPL's `trans` is wanted.
SMPL_PELVIS = np.array([-0.0018, -0.2233, 0.0282])

README = """# Real clip: a runner, filmed hand-held, with GLAMR's SMPL fits

34 frames (every 6th of 203) at 1280x720 of the dynamic-camera demo of **GLAMR** (Ye Yuan, Umar Iqbal,
Pavlo Molchanov, Kris Kitani, Jan Kautz: "GLAMR: Global Occlusion-Aware Human Mesh Recovery with Dynamic
Cameras", CVPR 2022, https://github.com/NVlabs/GLAMR), whose per-frame camera-frame fits and 2D keypoints
come from **HybrIK**, as distributed in the examples of **aitviewer** (ETH Zurich, MIT licence,
https://github.com/eth-ait/aitviewer, `examples/resources/glamr/`).

Licence: GLAMR's demo data is for research or evaluation use only (NVIDIA Source Code License-NC).
It is test data of ANR Studio, not part of the package.

- `images/`: the frames; `masks/`: person masks (MediaPipe's pose landmarker segmentation, refined);
- `smpl.npz`: `poses` (34,72) = `smpl_orient_cam` + `smpl_pose`, `trans` = `root_trans_cam` minus SMPL's rest
  pelvis, per-frame `betas`, `K` scaled from the 3840x2160 original, `E` identity (camera-frame fits);
- `keypoints_2d.npy`: HybrIK's keypoints `kp_2d` and `kp_2d_score` (34,26,3) at 1280x720.

Built with `python scripts/build_real_clip.py AITVIEWER_CHECKOUT OUT_DIR` from the ANR Studio repository.
"""


def main(checkout: Path, out: Path) -> None:
    source = checkout / "examples" / "resources" / "glamr"
    person = read(source / "running_seed1.pkl", "GLAMR output")["person_data"][0]
    frames = sorted((source / "frames").glob("*.jpg"))[::STEP]
    index = np.arange(len(person["smpl_pose"]))[::STEP]
    width, height = Image.open(frames[0]).size
    scale = width / (2 * float(person["cam_K"][0, 0, 2]))  # cam_K is for the 3840x2160 original
    K = person["cam_K"][0].astype(np.float64) * np.array([[scale, 1, scale], [1, scale, scale], [1, 1, 1]])
    K[0, 1] = K[1, 0] = 0.0
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "masks").mkdir(exist_ok=True)
    segmenter = MediaPipeSegmenter()
    for i, frame in enumerate(frames):
        shutil.copy(frame, out / "images" / f"{i:06d}.jpg")
        rgb = np.asarray(Image.open(frame).convert("RGB"))
        prob = segmenter(rgb[None])[0]
        Image.fromarray(learned_mask(rgb, prob)).save(out / "masks" / f"{i:06d}.png")
    np.savez(out / "smpl.npz",
             poses=np.concatenate([person["smpl_orient_cam"][index], person["smpl_pose"][index]], axis=1).astype(np.float32),
             trans=(person["root_trans_cam"][index] - SMPL_PELVIS).astype(np.float32),
             betas=person["smpl_beta"][index].astype(np.float32), K=K.astype(np.float32), E=np.eye(4, dtype=np.float32))
    keypoints = np.concatenate([person["kp_2d"][index] * scale, person["kp_2d_score"][index, :, None]], axis=2)
    np.save(out / "keypoints_2d.npy", keypoints.astype(np.float32))
    (out / "README.md").write_text(README)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(Path(sys.argv[1]), Path(sys.argv[2]))
