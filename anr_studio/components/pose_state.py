"""PoseState: the pose, shape and translation the viewport and the neural preview show; Playback: the motion clip
that plays into it from the pose panel.

Qt-free and evented (psygnal); a widget that writes blocks its own handler so the two never ping-pong.
``changed`` fires on the editing thread (the main thread in the studio).
"""

from __future__ import annotations

import os

import numpy as np
from psygnal import Signal

from anr_studio.body.skeleton import JOINT_GROUPS, NUM_JOINTS, SMPL_JOINT_NAMES, STANDING_POSE, joint_index
from anr_studio.components.undo import Undoable
from anr_studio.errors import AnrError, expect_finite, expect_shape
from anr_studio.motion import BUILTIN_MOTIONS, MotionClip, load_motion

# The skeleton the pose is given on and the built-in motions, for the widgets that edit and play it.
__all__ = ["BUILTIN_MOTIONS", "JOINT_GROUPS", "NUM_JOINTS", "SMPL_JOINT_NAMES", "Playback", "PoseState", "joint_index",
           "nearest_joint", "standing_pose"]

# How far (pixels) from a joint's projection a click still picks it.
PICK_RADIUS_PX = 14.0


def nearest_joint(pixels: np.ndarray, click: tuple[float, float]) -> int | None:
    """Returns the index of the joint whose projection pixels (J,2) is nearest to ``click`` within PICK_RADIUS_PX, else None."""
    pixels = np.asarray(pixels, np.float64).reshape(-1, 2)
    d = np.linalg.norm(pixels - np.asarray(click, np.float64)[None, :2], axis=1)
    d[~np.isfinite(d)] = np.inf
    j = int(np.argmin(d)) if len(d) else -1
    return j if j >= 0 and d[j] <= PICK_RADIUS_PX else None


def standing_pose() -> np.ndarray:
    """Returns the standing pose (24,3) float32 axis-angle: arms down, elbows a little bent (`STANDING_POSE`)."""
    pose = np.zeros((NUM_JOINTS, 3), np.float32)
    for name, axis_angle in STANDING_POSE.items():
        pose[joint_index(name)] = axis_angle
    return pose


class PoseState(Undoable[tuple[np.ndarray, np.ndarray, np.ndarray]]):
    """Holds pose (24,3) axis-angle radians in SMPL joint order, betas (K,) and transl (3,) metres.

    Starts in (and resets to) the standing pose, arms down, with the start shape (`set_start_betas`).
    Signals: ``changed(str)`` ("pose", "betas", "transl" or "all"), ``selection_changed(object)`` (joint index or None).
    """

    changed = Signal(str)
    selection_changed = Signal(object)

    def __init__(self, num_betas: int = 10) -> None:
        super().__init__(limit=200)
        self.num_betas = int(num_betas)
        self._pose = standing_pose()
        self._betas = np.zeros((self.num_betas,), np.float32)
        self._start_betas = self._betas.copy()
        self._transl = np.zeros((3,), np.float32)
        self._selected: int | None = None

    # --- reading -------------------------------------------------------------------------
    @property
    def pose(self) -> np.ndarray:
        """Returns a copy of the pose, (24,3) float32 axis-angle."""
        return self._pose.copy()

    @property
    def betas(self) -> np.ndarray:
        """Returns a copy of the shape coefficients, (K,) float32."""
        return self._betas.copy()

    @property
    def transl(self) -> np.ndarray:
        """Returns a copy of the root translation, (3,) float32 metres."""
        return self._transl.copy()

    @property
    def selected_joint(self) -> int | None:
        """Returns the index of the joint picked for editing, or None."""
        return self._selected

    def select_joint(self, joint: int | None) -> None:
        """Picks joint ``joint`` (0..23) for editing, or none; selection is not an undo step."""
        if joint is not None and not 0 <= int(joint) < NUM_JOINTS:
            raise AnrError(f"pose: joint {joint} is out of range, expected 0..23 or none")
        joint = None if joint is None else int(joint)
        if joint != self._selected:
            self._selected = joint
            self.selection_changed.emit(joint)

    def at_start(self) -> bool:
        """Returns True while nothing is edited: the standing pose, the start shape, zero translation."""
        return bool(np.array_equal(self._pose, standing_pose()) and np.array_equal(self._betas, self._start_betas)
                    and not self._transl.any())

    def _snapshot(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.pose, self.betas, self.transl  # copies: pose (24,3), betas (K,), transl (3,)

    # --- editing -------------------------------------------------------------------------
    def set_joint_axis(self, joint: int, axis: int, value: float, merge_key: object | None = None) -> None:
        """Sets one axis-angle component (radians) of one joint; a drag passes one ``merge_key``."""
        if not 0 <= joint < NUM_JOINTS or not 0 <= axis < 3:
            raise AnrError(f"pose: joint {joint} axis {axis} is out of range, expected joint 0..23 and axis 0..2")
        if self._pose[joint, axis] == np.float32(value):
            return
        self.record(merge_key)
        self._pose[joint, axis] = value
        self.changed.emit("pose")

    def set_pose(self, pose: np.ndarray, record: bool = True, merge_key: object | None = None) -> None:
        """Replaces the whole pose with ``pose`` (24,3) (or (72,))."""
        pose = np.asarray(pose, np.float32)
        if pose.shape == (NUM_JOINTS * 3,):
            pose = pose.reshape(NUM_JOINTS, 3)
        expect_shape(pose, (NUM_JOINTS, 3), "pose", "pose state")
        expect_finite(pose, "pose", "pose state")
        if record:
            self.record(merge_key)
        self._pose = pose.copy()
        self.changed.emit("pose")

    def set_betas(self, betas: np.ndarray, merge_key: object | None = None) -> None:
        """Replaces the shape coefficients; shorter vectors are zero-padded, longer ones rejected."""
        betas = np.asarray(betas, np.float32).reshape(-1)
        if betas.shape[0] > self.num_betas:
            raise AnrError(f"pose state: betas has {betas.shape[0]} values, expected at most {self.num_betas}")
        expect_finite(betas, "betas", "pose state")
        self.record(merge_key)
        self._betas = np.zeros(self.num_betas, np.float32)
        self._betas[: betas.shape[0]] = betas
        self.changed.emit("betas")

    def set_start_betas(self, betas: np.ndarray | None) -> None:
        """Shows and keeps as the start shape ``betas`` (K',) (None: zeros); no undo step, and `reset_all` returns to it."""
        start = np.zeros(self.num_betas, np.float32)
        if betas is not None:
            values = np.asarray(betas, np.float32).reshape(-1)[: self.num_betas]
            expect_finite(values, "betas", "pose state")
            start[: values.shape[0]] = values
        self._start_betas = start
        if not np.array_equal(self._betas, start):
            self._betas = start.copy()
            self.changed.emit("betas")

    def set_beta(self, index: int, value: float, merge_key: object | None = None) -> None:
        """Sets one shape coefficient."""
        if not 0 <= index < self.num_betas:
            raise AnrError(f"pose state: beta index {index} is out of range, expected 0..{self.num_betas - 1}")
        self.record(merge_key)
        self._betas[index] = value
        self.changed.emit("betas")

    def set_transl(self, transl: np.ndarray, merge_key: object | None = None) -> None:
        """Sets the root translation (3,) metres."""
        transl = np.asarray(transl, np.float32).reshape(-1)
        expect_shape(transl, (3,), "transl", "pose state")
        self.record(merge_key)
        self._transl = transl.copy()
        self.changed.emit("transl")

    def reset_joint(self, joint: int) -> None:
        """Sets joint ``joint`` back to its rotation in the standing pose."""
        self.record()
        self._pose[joint] = standing_pose()[joint]
        self.changed.emit("pose")

    def reset_all(self) -> None:
        """Returns everything to the start: the standing pose, the start shape, zero translation."""
        self.record()
        self._pose = standing_pose()
        self._betas = self._start_betas.copy()
        self._transl[:] = 0.0
        self.changed.emit("all")

    # --- history -------------------------------------------------------------------------
    def _restore(self, snap: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
        self._pose, self._betas, self._transl = (a.copy() for a in snap)
        self.changed.emit("all")


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
