"""Frame sequences of an avatar: orbits (novel views) and motions, generators of (H,W,3|4) uint8 frames
rendered a batch at a time; several identities side by side."""

from __future__ import annotations

from typing import Any, Iterator, Sequence

import numpy as np
import torch

from anr_studio.errors import AnrError
from anr_studio.render import PerspectiveCamera


def _identities(avatar, identities: str | Sequence[str]) -> list[str]:
    names = [n.strip() for n in identities.split(",")] if isinstance(identities, str) else list(identities)
    names = [n for n in names if n]
    if not names:
        raise AnrError(f"--identity: no identity given, expected one or more of {', '.join(avatar.identities)}")
    for n in names:
        avatar._check(n)
    return names


def orbit_frames(avatar, identity: str, count: int, size: int | Sequence[int] = 512, elevation_deg: float = 5.0,
                 pose: Any = None, background: Any = (255, 255, 255), batch_size: int = 8) -> Iterator[np.ndarray]:
    """Yields ``count`` frames (H,W,3|4) uint8 of ``identity`` from azimuths 0, 360/count, ... in ``pose`` (default rest)."""
    if count < 1:
        raise AnrError(f"--orbit {count}: expected at least one view")
    avatar._check(identity)
    pose = np.zeros((24, 3), np.float32) if pose is None else np.asarray(pose, np.float32).reshape(24, 3)
    azimuths = np.arange(count) * 360.0 / count
    for start in range(0, count, batch_size):
        az = azimuths[start:start + batch_size]
        camera = avatar.default_camera(size, identity, azimuth_deg=torch.as_tensor(az, dtype=torch.float32),
                                       elevation_deg=elevation_deg)
        images, _ = avatar.render(identity, np.repeat(pose[None], len(az), 0), camera, size=size, background=background,
                                  batch_size=batch_size)
        yield from images


def follow_camera(camera: PerspectiveCamera, offsets: np.ndarray) -> PerspectiveCamera:
    """Returns ``camera`` (batch 1) moved by world ``offsets`` (B,3) as batch B: t - R d (x_cam = R (x - d) + t)."""
    d = torch.as_tensor(np.asarray(offsets, np.float32), device=camera.device, dtype=camera.t.dtype)
    t = camera.t[:1] - (camera.R[:1] @ d.unsqueeze(-1)).squeeze(-1)
    return PerspectiveCamera(camera.K[:1].expand(len(d), 3, 3), camera.R[:1].expand(len(d), 3, 3), t)


def motion_frames(avatar, identities: str | Sequence[str], motion: Any, frames: int | None = None,
                  size: int | Sequence[int] = 512, follow: bool = True, background: Any = (255, 255, 255),
                  batch_size: int = 8) -> Iterator[np.ndarray]:
    """Yields frames (H, W*len(identities), 3|4) uint8 of the identities performing ``motion`` (a MotionClip or a
    `load_motion` name) side by side; ``frames``: default the clip's (more loop it); ``follow``: the camera follows
    the body's horizontal translation."""
    from anr_studio.motion import MotionClip, load_motion

    names = _identities(avatar, identities)
    clip = motion if isinstance(motion, MotionClip) else load_motion(motion)
    n = len(clip) if frames is None else int(frames)
    if n < 1:
        raise AnrError(f"--frames {n}: expected at least one frame")
    index = np.arange(n) % len(clip)
    poses, transl = clip.poses[index], clip.transl[index]
    base = avatar.default_camera(size, None, margin=1.25)
    offsets = np.zeros_like(transl)
    if follow:
        offsets[:, [0, 2]] = transl[:, [0, 2]]
    for start in range(0, n, batch_size):
        sel = slice(start, min(n, start + batch_size))
        cam = follow_camera(base, offsets[sel])
        panels = [avatar.render(name, poses[sel], cam, transl=transl[sel], size=size, background=background,
                                batch_size=batch_size)[0] for name in names]
        yield from np.concatenate(panels, axis=2)
