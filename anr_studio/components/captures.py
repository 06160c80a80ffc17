"""Opening a capture for the studio: the file and what to tell the user about it."""

from __future__ import annotations

import os
from pathlib import Path

from anr_studio.components.protocols import StudioBody


def open_capture(path: str | os.PathLike, body: StudioBody):
    """Returns (capture, one-line summary, noting another body model than ``body``); AnrError with the validator's
    first problem when ``path`` is not a valid capture."""
    from anr_studio.capture import Capture

    cap = Capture(path)
    h, w = cap.image_size
    kf = cap.keyframes
    text = (f"{Path(path).name}: {cap.identity}, {len(cap)} frames, {w}×{h}, {cap.fps:g} fps, "
            f"masks {'yes' if cap.has_masks else 'no'}, keyframes {0 if kf is None else len(kf)}")
    if cap.body_model_id not in ("default", str(body.model_id)):
        text += f". Note: tracked with body model {cap.body_model_id[:16]}; the outline uses the studio's body."
    return cap, text
