"""Autosave of the work a crash would lose (the edited pose and the painted try-on mask) to ``autosave.npz``,
removed on a clean close and offered back on the next launch."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from anr_studio.errors import AnrError
from anr_studio.fileio import atomic_path

FILE_NAME = "autosave.npz"


def data_dir() -> Path:
    """Returns the studio's folder for per-user data ($XDG_DATA_HOME/anr-studio, %LOCALAPPDATA% on Windows)."""
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "anr-studio"


@dataclass
class Recovered:
    """Work found in an autosave: pose (24,3), betas (K,), transl (3,), mask (S,S) float32 in [0,1]."""

    pose: np.ndarray
    betas: np.ndarray
    transl: np.ndarray
    mask: np.ndarray


class Autosave:
    """Writes, reads and removes the autosave file ``path`` (default: ``data_dir()/autosave.npz``)."""

    def __init__(self, path: str | os.PathLike | None = None) -> None:
        self.path = Path(path) if path is not None else data_dir() / FILE_NAME

    def save(self, pose_state, paint_state) -> None:
        """Writes the pose state's pose, betas, transl and the paint state's mask (as 8-bit) atomically."""
        with atomic_path(self.path, suffix=".npz") as tmp:
            np.savez_compressed(tmp, pose=pose_state.pose, betas=pose_state.betas, transl=pose_state.transl,
                                mask=np.round(paint_state.mask * 255).astype(np.uint8))

    def load(self) -> Recovered | None:
        """Returns the autosaved work, or None without a file; AnrError for a damaged one."""
        if not self.path.exists():
            return None
        try:
            with np.load(self.path, allow_pickle=False) as z:
                rec = Recovered(np.asarray(z["pose"], np.float32), np.asarray(z["betas"], np.float32),
                                np.asarray(z["transl"], np.float32), z["mask"].astype(np.float32) / 255.0)
        except Exception as exc:  # noqa: BLE001 - any damage means the same to the user
            raise AnrError(f"{self.path}: the autosave could not be read ({type(exc).__name__}), expected the studio's "
                           "pose and mask arrays; it was left in place") from exc
        if rec.pose.shape != (24, 3) or rec.transl.shape != (3,) or rec.mask.ndim != 2:
            raise AnrError(f"{self.path}: pose has shape {rec.pose.shape}, expected (24, 3) with a (3,) transl and a 2-D mask")
        return rec

    def restore(self, rec: Recovered, pose_state, paint_state) -> None:
        """Puts ``rec`` into the pose and paint states as one undoable edit each."""
        key = object()  # pose, betas and transl come back as one undo step
        pose_state.set_pose(rec.pose, merge_key=key)
        pose_state.set_betas(rec.betas[: pose_state.num_betas], merge_key=key)
        pose_state.set_transl(rec.transl, merge_key=key)
        pose_state.end_gesture()
        paint_state.set_mask(rec.mask)

    def clear(self) -> None:
        """Removes the autosave file (after a clean close or once the user declined it)."""
        self.path.unlink(missing_ok=True)
