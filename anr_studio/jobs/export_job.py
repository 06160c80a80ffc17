"""Video export on a worker thread: the avatar driven by a motion, from the viewport's orbit view."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from anr_studio.components.scene import OrbitView
from anr_studio.errors import AnrError
from anr_studio.jobs.preview import PreviewRequest, render_request


def export_video(avatar, identity: str, motion: str, out: str, view: OrbitView, control, size: int = 256,
                 max_frames: int | None = None) -> str:
    """Returns ``out`` after writing an mp4 (H.264, imageio-ffmpeg) of ``avatar`` performing ``motion``."""
    import imageio_ffmpeg

    from anr_studio.motion import load_motion

    clip = load_motion(motion)
    poses = np.asarray(clip.poses, np.float32).reshape(-1, 24, 3)
    transl = np.asarray(clip.transl, np.float32).reshape(-1, 3)
    n = len(poses) if max_frames is None else min(len(poses), int(max_frames))
    if n == 0:
        raise AnrError(f"{motion}: the motion has no frames, expected at least one")
    if Path(out).suffix.lower() != ".mp4":
        raise AnrError(f"{out}: unsupported video type, expected a .mp4 file")
    # Keep the body centred: the motion's root drift is relative to its first frame.
    transl = transl - transl[:1]
    writer = imageio_ffmpeg.write_frames(out, (size, size), fps=clip.fps, macro_block_size=1, quality=7)
    writer.send(None)
    try:
        for i in range(n):
            control.checkpoint()
            rgb, _ = render_request(avatar, PreviewRequest(identity, poses[i], None, transl[i], view, (size, size)))
            writer.send(np.ascontiguousarray(rgb))
            control.status.set_progress(i + 1, n)
    finally:
        writer.close()
    return out
