"""The rotate handle of the selected joint, free of Qt: its three rings, the ring a press grabs, the pose a drag gives.

Ring k (0: x, 1: y, 2: z) turns the joint about its own posed k axis (Blender's local gizmo) by the angle
the pointer sweeps around the joint on screen; a ring facing the viewer turns counter-clockwise for a positive angle.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from anr_studio.body.lbs import axis_angle_to_matrix, matrix_to_axis_angle
from anr_studio.components.scene import OrbitView
from anr_studio.errors import AnrError

# Ring colours by axis, as in Blender and the axis indicator: x red, y green, z blue (RGBA).
AXIS_COLORS = ((0.96, 0.26, 0.32, 1.0), (0.45, 0.86, 0.20, 1.0), (0.27, 0.55, 1.0, 1.0))
AXIS_NAMES = ("x", "y", "z")
RING_RADIUS_PX = 64.0  # the rings keep this radius on screen however far the camera is ...
RING_HEIGHT_SHARE = 0.14  # ... or this share of the view's height in a small view
GRAB_TOLERANCE_PX = 7.0  # a press this close to a ring's drawn line grabs it
RING_SEGMENTS = 96
# Pointer positions closer than this to the joint's screen position give no usable angle.
_DEAD_ZONE_PX = 3.0


def joint_frames(pose: np.ndarray, parents) -> np.ndarray:
    """Returns each joint's posed rotation in the world, (24,3,3) (column k: its k axis; the identity at rest).

    pose (24,3) axis-angle; parents (24,) parent index (-1 for the root), parents before children.
    """
    local = axis_angle_to_matrix(torch.as_tensor(np.asarray(pose, np.float64).reshape(-1, 3))).numpy()
    frames = np.empty_like(local)
    for j, p in enumerate(np.asarray(parents).reshape(-1).tolist()):
        frames[j] = local[j] if p < 0 else frames[p] @ local[j]
    return frames


def eye_position(view: OrbitView) -> np.ndarray:
    """Returns the camera centre (3,) of an orbit view, in world metres."""
    return np.asarray(view.target, np.float64) + view.distance * view.to_camera()


def ring_radius(view: OrbitView, center: np.ndarray, height_px: float) -> float:
    """Returns the world radius (metres) at which a ring around ``center`` (3,) is drawn RING_RADIUS_PX pixels
    (at most RING_HEIGHT_SHARE of the view's ``height_px``) on screen."""
    radius_px = min(RING_RADIUS_PX, RING_HEIGHT_SHARE * float(height_px))
    depth = max(float(np.linalg.norm(np.asarray(center, np.float64) - eye_position(view))), 1e-3)
    metres_per_px = 2.0 * depth * math.tan(math.radians(view.fov) / 2.0) / max(float(height_px), 1.0)
    return radius_px * metres_per_px


def ring_points(center: np.ndarray, frame: np.ndarray, radius: float) -> np.ndarray:
    """Returns the three closed rings, (3, RING_SEGMENTS+1, 3): ring k lies in the plane normal to ``frame[:, k]``."""
    t = np.linspace(0.0, 2.0 * math.pi, RING_SEGMENTS + 1)
    c, s = np.cos(t)[:, None], np.sin(t)[:, None]
    f = np.asarray(frame, np.float64)
    rings = [np.asarray(center, np.float64) + radius * (c * f[:, (k + 1) % 3] + s * f[:, (k + 2) % 3]) for k in range(3)]
    return np.stack(rings)


def ring_colors(rings: np.ndarray, center: np.ndarray, view_dir: np.ndarray, active: int | None = None) -> np.ndarray:
    """Returns RGBA per ring point, (3,N,4): each axis's colour, the halves behind the joint faded, ``active`` brightened."""
    v = np.asarray(view_dir, np.float64) / max(float(np.linalg.norm(view_dir)), 1e-12)
    behind = ((np.asarray(rings, np.float64) - np.asarray(center, np.float64)) @ v) > 0.0  # (3,N)
    rgb = np.asarray(AXIS_COLORS, np.float32)[:, :3]
    if active is not None:
        rgb[active] = np.minimum(rgb[active] + 0.35, 1.0)
    out = np.empty(behind.shape + (4,), np.float32)
    out[..., :3] = rgb[:, None]
    out[..., 3] = np.where(behind, 0.3, 1.0)
    return out


def _segment_distance(points: np.ndarray, p: np.ndarray) -> float:
    """Returns the distance from ``p`` (2,) to the polyline ``points`` (N,2)."""
    a, b = points[:-1], points[1:]
    ab = b - a
    t = np.clip(((p - a) * ab).sum(1) / np.maximum((ab * ab).sum(1), 1e-12), 0.0, 1.0)
    d = np.linalg.norm(a + t[:, None] * ab - p, axis=1)
    d = d[np.isfinite(d)]
    return float(d.min()) if len(d) else math.inf


def pick_ring(ring_pixels: np.ndarray, press: tuple[float, float], frame: np.ndarray, view_dir: np.ndarray) -> int | None:
    """Returns the axis (0..2) of the ring drawn nearest to ``press`` within GRAB_TOLERANCE_PX pixels, else None.

    ring_pixels (3,N,2); frame (3,3) the joint's axes; view_dir (3,) eye -> joint; where rings cross, the one
    facing the viewer most wins.
    """
    p = np.asarray(press, np.float64)[:2]
    dist = np.array([_segment_distance(np.asarray(ring_pixels[k], np.float64), p) for k in range(3)])
    if not (dist <= GRAB_TOLERANCE_PX).any():
        return None
    v = np.asarray(view_dir, np.float64) / max(float(np.linalg.norm(view_dir)), 1e-12)
    facing = np.abs(np.asarray(frame, np.float64).T @ v)
    # One pixel of distance outweighs any difference in facing; facing breaks near-ties only.
    score = np.where(dist <= GRAB_TOLERANCE_PX, np.round(dist) - 0.5 * facing, np.inf)
    return int(np.argmin(score))


def rotate_joint(pose: np.ndarray, joint: int, axis: int, angle: float) -> np.ndarray:
    """Returns a copy of ``pose`` (24,3) with joint ``joint`` turned by ``angle`` radians about its own ``axis``."""
    if not 0 <= axis < 3:
        raise AnrError(f"rotate handle: axis {axis} is out of range, expected 0 (x), 1 (y) or 2 (z)")
    out = np.array(pose, np.float32).reshape(-1, 3)
    turn = np.zeros(3)
    turn[axis] = angle
    r = axis_angle_to_matrix(torch.as_tensor(out[joint], dtype=torch.float64)) @ axis_angle_to_matrix(torch.as_tensor(turn))
    out[joint] = matrix_to_axis_angle(r).numpy()
    return out


def _screen_angle(center: np.ndarray, p: np.ndarray) -> float:
    return math.atan2(p[1] - center[1], p[0] - center[0])


class RingDrag:
    """One drag of one ring: the pose (24,3) for each pointer position, and the angle turned so far.

    pose (24,3) and frame (3,3) when the drag began; center_px, press_px (2,) on screen (x right, y down);
    view_dir (3,) eye -> joint.
    """

    def __init__(self, pose: np.ndarray, joint: int, axis: int, frame: np.ndarray, center_px, press_px,
                 view_dir: np.ndarray) -> None:
        self.start_pose = np.array(pose, np.float32)
        self.joint, self.axis = int(joint), int(axis)
        self.center = np.asarray(center_px, np.float64)[:2]
        toward_viewer = float(np.asarray(frame, np.float64)[:, axis] @ np.asarray(view_dir, np.float64)) < 0.0
        # Screen y points down: a counter-clockwise sweep (as the viewer sees it) lowers the screen angle.
        self.sign = -1.0 if toward_viewer else 1.0
        self._last = _screen_angle(self.center, np.asarray(press_px, np.float64))
        self.angle = 0.0
        """Radians turned so far about the joint's axis (sweeps past half a turn keep counting)."""

    def update(self, pos_px) -> np.ndarray:
        """Returns the pose (24,3) for the pointer at ``pos_px`` (x, y)."""
        p = np.asarray(pos_px, np.float64)[:2]
        if np.linalg.norm(p - self.center) >= _DEAD_ZONE_PX:
            phi = _screen_angle(self.center, p)
            step = (phi - self._last + math.pi) % (2.0 * math.pi) - math.pi
            self.angle += self.sign * step
            self._last = phi
        return rotate_joint(self.start_pose, self.joint, self.axis, self.angle)
