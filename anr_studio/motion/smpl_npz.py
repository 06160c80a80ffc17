"""SMPL-family pose files (.npz, read with `safe_npz`) as motion clips.

Layouts: ``poses (N,72)`` / ``(N,24,3)`` (SMPL), ``(N,156)`` (SMPL-H, AMASS) or ``(N,165)`` (SMPL-X);
or ``global_orient (N,3)`` + ``body_pose (N,69)`` (SMPL) / ``(N,63)`` (SMPL-H/X); plus
``trans``/``transl (N,3)`` (zero when missing) and ``mocap_framerate`` / ``mocap_frame_rate`` / ``fps``.
SMPL-H/X put 15 finger joints where SMPL has one hand joint: only root + 21 body joints (66 values)
are taken, SMPL's hand joints 22/23 stay zero.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from anr_studio.errors import AnrError
from anr_studio.motion.clip import MAX_FPS, MAX_FRAMES, MIN_FPS, NUM_JOINTS, MotionClip, validate_motion
from anr_studio.safe_npz import NpzArchive

DEFAULT_FPS = 30.0
BODY_JOINTS_SMPLH = 22  # root + 21 body joints shared by SMPL, SMPL-H and SMPL-X
_EXPECTED = "SMPL pose arrays ('poses' (N,72) or 'global_orient' + 'body_pose')"


def _rows(value: np.ndarray, name: str, field: str, n: int | None = None) -> np.ndarray:
    """Returns ``value`` as float32 rows (N, D): one row per frame, finite numbers."""
    value = np.asarray(value)
    if value.ndim == 3:
        value = value.reshape(value.shape[0], value.shape[1] * value.shape[2])
    if value.ndim != 2 or (n is not None and value.shape[0] != n) or value.shape[0] == 0:
        want = f"({n}, ...)" if n is not None else "(N, ...) with N >= 1"
        raise AnrError(f"{name}: {field} has shape {tuple(value.shape)}, expected {want}: one row per frame")
    if value.shape[0] > MAX_FRAMES:
        raise AnrError(f"{name}: {field} has {value.shape[0]:,} frames, expected at most {MAX_FRAMES:,}")
    if not np.issubdtype(value.dtype, np.number) or np.issubdtype(value.dtype, np.complexfloating):
        raise AnrError(f"{name}: {field} has dtype {value.dtype}, expected numbers")
    with np.errstate(over="ignore"):
        out = value.astype(np.float32)
    if not np.all(np.isfinite(out)):
        raise AnrError(f"{name}: {field} contains NaN or Inf values (or numbers beyond float32), expected finite numbers")
    return out


def body_pose_from_rows(flat: np.ndarray, name: str, field: str) -> np.ndarray:
    """Returns ``(N,24,3)`` from rows of SMPL (72), SMPL-H (156) or SMPL-X (165) pose values."""
    n, d = flat.shape
    poses = np.zeros((n, NUM_JOINTS, 3), np.float32)
    if d == 72:
        poses[:] = flat.reshape(n, NUM_JOINTS, 3)
    elif d in (156, 165, 66):
        poses[:, :BODY_JOINTS_SMPLH] = flat[:, : BODY_JOINTS_SMPLH * 3].reshape(n, BODY_JOINTS_SMPLH, 3)
    else:
        raise AnrError(f"{name}: {field} has {d} values per frame, expected 72 (SMPL), 156 (SMPL-H) or 165 (SMPL-X)")
    return poses


def _frame_rate(npz: NpzArchive, key: str) -> float:
    value = npz.array(key)
    if value.size != 1:
        raise AnrError(f"{npz.label}: {key} holds {value.size} values, expected one number (frames per second)")
    fps = float(value.reshape(-1)[0])
    if not (np.isfinite(fps) and MIN_FPS <= fps <= MAX_FPS):
        raise AnrError(f"{npz.label}: {key} is {fps:g}, expected {MIN_FPS:g} to {MAX_FPS:g} frames per second")
    return fps


def load_smpl_npz(path: str | os.PathLike, name: str | None = None, fps: float | None = None) -> MotionClip:
    """Returns the motion in an SMPL-family pose .npz; ``fps`` overrides the file's frame rate (default 30)."""
    path = Path(path)
    with NpzArchive(path, _EXPECTED) as npz:
        label = npz.label
        if "poses" in npz:
            poses = body_pose_from_rows(_rows(npz.array("poses"), label, "poses"), label, "poses")
        elif "global_orient" in npz and "body_pose" in npz:
            root = _rows(npz.array("global_orient"), label, "global_orient")
            body = _rows(npz.array("body_pose"), label, "body_pose", root.shape[0])
            if root.shape[1] != 3 or body.shape[1] not in (69, 63):
                raise AnrError(f"{label}: global_orient/body_pose have {root.shape[1]}/{body.shape[1]} values per "
                               "frame, expected 3 and 69 (SMPL) or 63 (SMPL-H/X body)")
            poses = body_pose_from_rows(np.concatenate([root, body], 1), label, "global_orient+body_pose")
        else:
            keys = ", ".join(repr(k)[1:-1][:40] for k in npz.keys[:12]) or "none"
            raise AnrError(f"{label}: no poses found (keys: {keys}), expected 'poses' (N,72) or 'global_orient' + 'body_pose'")
        n = poses.shape[0]
        tkey = next((k for k in ("trans", "transl") if k in npz), None)
        transl = np.zeros((n, 3), np.float32) if tkey is None else _rows(npz.array(tkey), label, tkey, n)
        if transl.shape[1] != 3:
            raise AnrError(f"{label}: {tkey} has {transl.shape[1]} values per frame, expected 3")
        if fps is None:
            fkey = next((k for k in ("mocap_framerate", "mocap_frame_rate", "fps") if k in npz), None)
            fps = _frame_rate(npz, fkey) if fkey else DEFAULT_FPS
    validate_motion(poses, transl, fps, label)
    return MotionClip(poses, transl, fps, name or path.stem, {"source": str(path)})
