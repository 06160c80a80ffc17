"""Writes the procedural built-in clips resources/motions/{walk,turn,arms}.npz (deterministic).

Run ``python -m scripts.build_motions``. Each file holds ``poses (N,72)`` float32 SMPL
axis-angle, ``trans (N,3)`` float32 metres and ``fps``. SMPL axes: x = the body's left, y = up,
z = forward; so flexing a hip forward is a negative rotation about x, bending a knee a positive
one, and a T-pose arm is lowered by rotating about z (left arm negative, right arm positive).

* walk: a walk cycle (1.1 s per stride, hip/knee/ankle swing, opposite arm swing with elbow
  flex, pelvis bob, sway and twist, counter-rotating chest) along one lap of a 1 m circle, so a
  fixed camera keeps the person in view and sees every side.
* turn: stepping in place while turning a full circle.
* arms: both arms raised sideways from the hips to overhead and lowered, twice.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from anr_studio.body.skeleton import joint_index
from anr_studio.fileio import shipped_path

FPS = 30.0
OUT_DIR = shipped_path("resources", "motions")
ARM_DOWN = 1.25  # radians about z from the T-pose to arms hanging by the sides


def _rot(*steps: tuple[str, float]) -> np.ndarray:
    """Returns the rotation vector of the product of elementary rotations, applied right to left."""
    R = Rotation.identity()
    for axis, angle in steps:
        R = R * Rotation.from_euler(axis, angle)
    return R.as_rotvec()


def _pose() -> np.ndarray:
    return np.zeros((24, 3))


def _legs(p: np.ndarray, phase: float, amount: float = 1.0) -> None:
    """Sets hip, knee and ankle rotations of a gait at ``phase`` (radians; left leg leads at 0)."""
    for side, shift in (("left", 0.0), ("right", np.pi)):
        phi = phase + shift
        hip = amount * (0.12 + 0.38 * np.sin(phi))  # flexion: +30 deg forward .. -15 deg back
        knee = amount * (0.08 + 0.95 * max(0.0, np.sin(phi + 2.1)) ** 2)  # peaks mid-swing (~60 deg), straight at heel strike
        ankle = amount * 0.18 * np.sin(phi - 0.6)  # toes up before heel strike
        p[joint_index(f"{side}_hip")] = _rot(("x", -hip))
        p[joint_index(f"{side}_knee")] = _rot(("x", knee))
        p[joint_index(f"{side}_ankle")] = _rot(("x", -ankle))


def _arms(p: np.ndarray, swing_left: float, lift: float = 0.0, elbow: float = 0.3) -> None:
    """Sets shoulders/elbows: arms lowered by ``ARM_DOWN - lift``, swung forward by ``swing_left``
    (the right arm swings the opposite way), elbows bent forward by ``elbow``."""
    down = ARM_DOWN - lift
    p[joint_index("left_shoulder")] = _rot(("x", -swing_left), ("z", -down))
    p[joint_index("right_shoulder")] = _rot(("x", swing_left), ("z", down))
    p[joint_index("left_elbow")] = _rot(("y", -elbow))
    p[joint_index("right_elbow")] = _rot(("y", elbow))


def make_walk(fps: float = FPS, radius: float = 1.0, speed: float = 0.9, stride_s: float = 1.1):
    """Returns ``poses (N,24,3)``, ``trans (N,3)`` of one lap of a walk around a circle."""
    n = int(round(2 * np.pi * radius / speed * fps))
    poses, trans = np.zeros((n, 24, 3)), np.zeros((n, 3))
    for i in range(n):
        t = i / fps
        heading = speed * t / radius  # turning left (counter-clockwise seen from above)
        phase = 2 * np.pi * t / stride_s
        p = _pose()
        p[0] = _rot(("y", heading + 0.07 * np.sin(phase)), ("z", 0.04 * np.sin(phase)), ("x", 0.05))
        p[joint_index("spine2")] = _rot(("y", -0.08 * np.sin(phase)))
        p[joint_index("spine3")] = _rot(("y", -0.05 * np.sin(phase)), ("x", -0.03))
        p[joint_index("head")] = _rot(("x", 0.03 * np.sin(2 * phase)))
        _legs(p, phase)
        swing = 0.32 * np.sin(phase + np.pi)  # left arm swings with the right leg
        _arms(p, swing, elbow=0.25 + 0.2 * max(0.0, np.sin(phase + np.pi)))
        poses[i] = p
        trans[i] = [radius * (1 - np.cos(heading)), 0.025 * np.cos(2 * phase), radius * np.sin(heading)]
    return poses, trans


def make_turn(fps: float = FPS, seconds: float = 4.0, step_s: float = 1.0):
    """Returns ``poses (N,24,3)``, ``trans (N,3)`` of a full turn in place with small steps."""
    n = int(round(seconds * fps))
    poses, trans = np.zeros((n, 24, 3)), np.zeros((n, 3))
    for i in range(n):
        t = i / fps
        s = t / seconds
        heading = 2 * np.pi * (s - np.sin(2 * np.pi * s) / (2 * np.pi))  # ease in and out
        phase = 2 * np.pi * t / step_s
        p = _pose()
        p[0] = _rot(("y", heading))
        for side, shift in (("left", 0.0), ("right", np.pi)):
            lift = max(0.0, np.sin(phase + shift)) ** 2
            p[joint_index(f"{side}_hip")] = _rot(("x", -0.35 * lift))
            p[joint_index(f"{side}_knee")] = _rot(("x", 0.7 * lift))
            p[joint_index(f"{side}_ankle")] = _rot(("x", 0.15 * lift))
        _arms(p, 0.08 * np.sin(phase), elbow=0.35)
        p[joint_index("head")] = _rot(("y", 0.15 * np.sin(2 * np.pi * s)))
        poses[i] = p
        trans[i] = [0.0, 0.01 * np.cos(2 * phase), 0.0]
    return poses, trans


def make_arms(fps: float = FPS, seconds: float = 4.0, repeats: int = 2):
    """Returns ``poses (N,24,3)``, ``trans (N,3)`` of arms raised sideways overhead and lowered."""
    n = int(round(seconds * fps))
    poses, trans = np.zeros((n, 24, 3)), np.zeros((n, 3))
    for i in range(n):
        s = i / n
        raise_amount = 0.5 - 0.5 * np.cos(2 * np.pi * repeats * s)  # 0 (down) .. 1 (overhead)
        p = _pose()
        _arms(p, 0.0, lift=2 * ARM_DOWN * raise_amount, elbow=0.15 + 0.1 * raise_amount)
        p[joint_index("left_collar")] = _rot(("z", 0.2 * raise_amount))
        p[joint_index("right_collar")] = _rot(("z", -0.2 * raise_amount))
        p[joint_index("head")] = _rot(("x", -0.15 * raise_amount))  # looks up with the hands
        p[joint_index("spine3")] = _rot(("x", -0.05 * raise_amount))
        poses[i] = p
    return poses, trans


BUILDERS = {"walk": make_walk, "turn": make_turn, "arms": make_arms}


def write_builtin(out_dir: Path = OUT_DIR) -> list[Path]:
    """Writes every procedural clip; returns the files written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, build in BUILDERS.items():
        poses, trans = build()
        path = out_dir / f"{name}.npz"
        np.savez_compressed(path, poses=poses.reshape(len(poses), 72).astype(np.float32),
                            trans=trans.astype(np.float32), fps=np.float32(FPS))
        written.append(path)
    return written


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    for p in write_builtin(parser.parse_args().out):
        print(p, p.stat().st_size, "bytes")
