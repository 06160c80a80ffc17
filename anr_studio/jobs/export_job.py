"""Video export on a worker thread: the avatar driven by a motion, from the viewport's orbit view."""

from __future__ import annotations

from anr_studio.components.protocols import StudioAvatar
from anr_studio.components.scene import OrbitView
from anr_studio.jobs.preview import PreviewRequest, render_request


def export_video(avatar: StudioAvatar, identity: str, motion: str, out: str, view: OrbitView, control, size: int = 256,
                 max_frames: int | None = None) -> str:
    """Returns ``out`` after writing an mp4 of ``avatar``'s ``identity`` performing ``motion``, ``size``² from ``view``.

    Root drift is taken relative to the first frame (the body stays in view); a stopped export leaves nothing.
    """
    from anr_studio.avatar.video import write_video
    from anr_studio.motion import load_motion

    clip = load_motion(motion)
    n = len(clip) if max_frames is None else min(len(clip), int(max_frames))
    transl = clip.transl - clip.transl[:1]

    def frames():
        for i in range(n):
            control.checkpoint()
            yield render_request(avatar, PreviewRequest(identity, clip.poses[i], None, transl[i], view, (size, size)))[0]
            control.status.set_progress(i + 1, n)

    write_video(out, frames(), clip.fps)
    return out
