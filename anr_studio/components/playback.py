"""Motion playback for the pose panel, free of Qt: a clip's poses and the playhead."""

from __future__ import annotations

import os

import numpy as np

from anr_studio.errors import AnrError
from anr_studio.motion import BUILTIN_MOTIONS, MotionClip, load_motion

BUILTIN_MOTION_NAMES = tuple(BUILTIN_MOTIONS)


class Playback:
    """Holds the motion clip being played and the playhead ``phase`` in frames (fractional)."""

    def __init__(self) -> None:
        self.clip: MotionClip | None = None
        self.phase = 0.0

    def load(self, name_or_path: str | os.PathLike) -> int:
        """Returns the number of frames of the motion ``name_or_path`` (a built-in name or a file) after loading it."""
        self.clip = load_motion(name_or_path)
        self.phase = 0.0
        return len(self.clip)

    def pose(self, frame: int) -> np.ndarray:
        """Returns the pose (24,3) float32 of ``frame``."""
        if self.clip is None:
            raise AnrError("playback: no motion is loaded, expected a motion loaded first")
        return np.asarray(self.clip.poses[frame], np.float32).reshape(24, 3)

    def advance(self, seconds: float, speed: float = 1.0) -> int:
        """Returns the frame the playhead reaches after ``seconds`` of playback at ``speed`` (wrapping around)."""
        if self.clip is None:
            return 0
        self.phase = (self.phase + self.clip.fps * speed * seconds) % len(self.clip)
        return int(self.phase)
