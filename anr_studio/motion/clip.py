"""`MotionClip`: a sequence of SMPL poses and root translations at a frame rate."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation, Slerp

from anr_studio.body.skeleton import NUM_JOINTS
from anr_studio.errors import AnrError, expect_finite, expect_shape

MAX_FPS = 1000.0
MIN_FPS = 0.1
MAX_FRAMES = 1_000_000
MAX_ANGLE = 4 * np.pi  # no tool writes axis-angle rotations longer than this
MAX_TRANSLATION_M = 10_000.0


def validate_motion(poses: np.ndarray, transl: np.ndarray, fps: float, source: str) -> None:
    """Raises AnrError (naming ``source``) unless ``poses (N,24,3)`` and ``transl (N,3)`` are finite and
    plausible (1 <= N <= MAX_FRAMES, rotations of at most MAX_ANGLE, translations within
    MAX_TRANSLATION_M) and ``fps`` is within MIN_FPS..MAX_FPS."""
    bound = expect_shape(poses, ("N", NUM_JOINTS, 3), "poses", source)
    expect_shape(transl, (bound["N"], 3), "transl", source)
    expect_finite(poses, "poses", source)
    expect_finite(transl, "transl", source)
    if not 1 <= bound["N"] <= MAX_FRAMES:
        raise AnrError(f"{source}: poses holds {bound['N']} frames, expected 1 to {MAX_FRAMES:,}")
    if not (np.isfinite(fps) and MIN_FPS <= fps <= MAX_FPS):
        raise AnrError(f"{source}: fps is {fps}, expected {MIN_FPS:g} to {MAX_FPS:g} frames per second")
    with np.errstate(over="ignore"):  # a norm beyond float32 is inf, and refused as such
        angle = float(np.linalg.norm(poses.astype(np.float64), axis=-1).max())
    if angle > MAX_ANGLE:
        raise AnrError(f"{source}: poses has a rotation of {angle:.3g} radians, expected axis-angle rotations of at "
                       f"most {MAX_ANGLE:.3g}")
    reach = float(np.abs(transl).max())
    if reach > MAX_TRANSLATION_M:
        raise AnrError(f"{source}: transl reaches {reach:.3g} m, expected at most {MAX_TRANSLATION_M:g} m from the start")


@dataclass
class MotionClip:
    """A motion: ``poses (N,24,3)`` SMPL-order axis-angle (radians), ``transl (N,3)`` metres, ``fps``;
    ``meta`` notes where it came from (source file, units, mapping)."""

    poses: np.ndarray
    transl: np.ndarray
    fps: float
    name: str
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        with np.errstate(over="ignore"):  # values beyond float32 become inf, which the check refuses
            self.poses = np.asarray(self.poses, dtype=np.float32)
            self.transl = np.asarray(self.transl, dtype=np.float32)
        validate_motion(self.poses, self.transl, self.fps, f"motion {self.name!r}")
        self.fps = float(self.fps)

    def __len__(self) -> int:
        return int(self.poses.shape[0])

    @property
    def duration(self) -> float:
        """Returns the time in seconds from the first to the last frame."""
        return (len(self) - 1) / self.fps

    def resample(self, fps: float) -> "MotionClip":
        """Returns the clip at ``fps`` over the same time span (rotations slerped, translations linear)."""
        if not (np.isfinite(fps) and MIN_FPS <= fps <= MAX_FPS):
            raise AnrError(f"motion {self.name!r}: target fps is {fps}, expected {MIN_FPS:g} to {MAX_FPS:g}")
        n = len(self)
        count = int(np.floor(self.duration * fps + 1e-6)) + 1
        if count > MAX_FRAMES:
            raise AnrError(f"motion {self.name!r}: {self.duration:.0f} s at {fps:g} fps is {count:,} frames, expected at most {MAX_FRAMES:,}")
        t_new = np.arange(count) / fps
        if n == 1:
            return MotionClip(np.repeat(self.poses, count, 0), np.repeat(self.transl, count, 0), fps, self.name, dict(self.meta))
        t_old = np.arange(n) / self.fps
        t_new = np.clip(t_new, 0.0, t_old[-1])
        poses = np.empty((count, NUM_JOINTS, 3), np.float32)
        for j in range(NUM_JOINTS):
            slerp = Slerp(t_old, Rotation.from_rotvec(self.poses[:, j].astype(np.float64)))
            poses[:, j] = slerp(t_new).as_rotvec()
        transl = np.stack([np.interp(t_new, t_old, self.transl[:, k]) for k in range(3)], axis=1)
        return MotionClip(poses, transl, fps, self.name, dict(self.meta))

    def upright(self) -> "MotionClip":
        """Returns the clip turned into ANR's world (y up, facing +z at frame 0), starting at the origin: the body's
        mean up (AIST++ is y-down, AMASS z-up) snapped to a signed axis is turned onto +y, then frame 0 to face +z."""
        root = Rotation.from_rotvec(self.poses[:, 0].astype(np.float64))
        up = root.apply([0.0, 1.0, 0.0]).mean(axis=0)
        axis = int(np.argmax(np.abs(up)))
        snapped = np.zeros(3)
        snapped[axis] = np.sign(up[axis])
        if snapped[1] > 0:
            fix = Rotation.identity()
        elif snapped[1] < 0:
            fix = Rotation.from_euler("x", np.pi)
        else:  # +-x or +-z: a quarter turn about the axis perpendicular to it and y
            fix = Rotation.from_rotvec(np.cross(snapped, [0.0, 1.0, 0.0]) * np.pi / 2)
        forward = (fix * root[0]).apply([0.0, 0.0, 1.0])
        fix = Rotation.from_euler("y", -np.arctan2(forward[0], forward[2])) * fix
        poses = self.poses.copy()
        poses[:, 0] = (fix * root).as_rotvec()
        transl = fix.apply(self.transl.astype(np.float64))
        meta = dict(self.meta, upright=fix.as_rotvec().round(6).tolist())
        return MotionClip(poses, transl - transl[:1], self.fps, self.name, meta)

