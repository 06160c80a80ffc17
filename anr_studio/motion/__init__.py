"""Motion clips (`MotionClip`): SMPL axis-angle sequences from built-in clips, SMPL pose .npz and BVH files."""

from __future__ import annotations

import os
from pathlib import Path

from anr_studio.errors import AnrError, shown
from anr_studio.fileio import shipped_path
from anr_studio.motion.clip import MotionClip

MOTION_DIR = shipped_path("resources", "motions")

# Built-in clips: name -> (file in resources/motions, frame rate when the file stores none).
# aist_demo.npz stores no frame rate; its pelvis bobs every 20 frames, one bob per beat of
# a ~90 BPM dance at 30 fps (60 fps would mean 180 BPM), so it is read as 30 fps.
BUILTIN_MOTIONS: dict[str, tuple[str, float | None]] = {
    "walk": ("walk.npz", None),
    "turn": ("turn.npz", None),
    "arms": ("arms.npz", None),
    "dance": ("aist_demo.npz", 30.0),
}
ALIASES = {"aist_demo": "dance", "aist": "dance"}


def load_motion(name_or_path: str | os.PathLike) -> MotionClip:
    """Returns the motion called ``name_or_path`` in ANR's world: a built-in name (walk, turn, arms, dance) or a
    path to an SMPL pose ``.npz`` (turned by `MotionClip.upright`) or ``.bvh`` (retargeted)."""
    from anr_studio.motion.bvh import load_bvh
    from anr_studio.motion.smpl_npz import load_smpl_npz

    text = str(name_or_path)
    shown_text = shown(text, 80)
    key = ALIASES.get(text, text)
    if key in BUILTIN_MOTIONS:
        file, fps = BUILTIN_MOTIONS[key]
        path = MOTION_DIR / file
        if not path.is_file():
            raise AnrError(f"motion {key!r}: {path} is missing, expected the built-in clip (run python -m scripts.build_motions)")
        return load_smpl_npz(path, name=key, fps=fps).upright()
    path = Path(text)
    suffix = path.suffix.lower()
    if suffix not in (".npz", ".bvh"):
        raise AnrError(f"motion {shown_text!r}: not a built-in clip or a motion file, expected one of "
                       f"{', '.join(BUILTIN_MOTIONS)} or a path to an .npz (SMPL poses) or .bvh file")
    if not os.path.isfile(path):  # False also for a name the file system refuses (too long, ...)
        raise AnrError(f"{shown_text}: file does not exist, expected a motion file (.npz or .bvh)")
    if suffix == ".bvh":
        return load_bvh(path)
    return load_smpl_npz(path).upright()


__all__ = ["BUILTIN_MOTIONS", "MotionClip", "load_motion"]
