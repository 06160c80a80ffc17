"""Capture work for background jobs: import, synthetic capture, masks, keyframe selection, the alignment check.

Each takes the job (``BackgroundJob``) first: progress goes to its status, a stop ends it at the next frame.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Callable

import numpy as np

from anr_studio.capture.video_fit.bodyfit import MAX_HEIGHT, MIN_HEIGHT  # noqa: F401 (the studio's height field)
from anr_studio.capture.video_fit.models import VIDEO_EXTRA
from anr_studio.components.file_kinds import FileKind, file_kind
from anr_studio.components.protocols import StudioBody


def _progress(control) -> Callable[..., None]:
    def progress(done: int, total: int, stage: str | None = None) -> None:
        control.status.set_progress(done, total, stage)
        control.checkpoint()

    return progress


def video_fit_missing(src: str = "video import") -> str | None:
    """Returns why the video ``src`` cannot be imported without poses here (naming the extra to install), None when it can."""
    spec = importlib.util.find_spec("mediapipe")
    if spec is None:
        return (f"{src}: a video without poses is fitted with MediaPipe's pose estimator and person segmenter, "
                f"expected them installed (pip install '{VIDEO_EXTRA}')")
    from anr_studio.capture.video_fit.models import MEDIAPIPE_VERSION, MODEL_FILES

    root = Path(spec.origin).parent if spec.origin else None
    if root is None or not all((root / name).is_file() for name in MODEL_FILES):
        return (f"{src}: the installed MediaPipe does not ship its model files, expected mediapipe=={MEDIAPIPE_VERSION} "
                f"(pip install '{VIDEO_EXTRA}')")
    return None


def import_capture(control, src: str, out: str, poses: str | None = None, *, height: float | None = None,
                   estimator=None, segmenter=None) -> str:
    """Returns ``out`` after importing ``src`` (a folder, a video with SMPL ``poses``, or a video alone) there.

    A video alone is fitted (``estimator`` / ``segmenter``, default MediaPipe's), sized by ``height`` in
    metres when given. A stop leaves nothing at ``out``.
    """
    if poses is None and file_kind(src) == FileKind.VIDEO:
        from anr_studio.capture.video_fit.pipeline import video_to_capture

        video_to_capture(src, out, estimator=estimator, segmenter=segmenter, height=height,
                         progress=_progress(control)).close()
        return out
    from anr_studio.capture.importers import import_capture as run_import

    run_import(src, out, poses=poses, progress=_progress(control)).close()
    return out


def extract_masks(control, path: str, method: str = "auto") -> str:
    """Returns the one-line report after writing ``method`` masks into the capture at ``path``; a stop leaves it as it was."""
    from anr_studio.capture.masks import masks_into

    return masks_into(path, method, overwrite=True, progress=_progress(control))


def check_alignment(control, path: str, body: StudioBody):
    """Returns the AlignmentReport (per-frame IoU of the coarse ``body`` against the masks, verdict) of the capture at ``path``."""
    from anr_studio.capture import Capture
    from anr_studio.capture.check import check_alignment as run_check

    with Capture(path) as cap:
        return run_check(cap, body, progress=_progress(control))


def make_synthetic(control, out: str, frames: int = 60, size: int = 256) -> str:
    """Returns ``out`` after writing a synthetic capture of ``frames`` frames at ``size``² of the first identity."""
    from anr_studio.capture.synth.generate import SynthConfig, generate_capture

    generate_capture(out, SynthConfig(frames=frames, size=size), progress=_progress(control))
    return out


def select_keyframes(control, path: str, fraction: float, body: StudioBody) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Returns (indices (k,), UV coverage (k,), silhouette coverage (k,)) of keyframe selection on ``body``, stored in the file."""
    from anr_studio.capture.keyframes import select_keyframes as run_selection

    sel = run_selection(path, fraction, body=body, write=True, progress=_progress(control))
    return np.asarray(sel.indices, np.int64), np.asarray(sel.coverage, np.float32), np.asarray(sel.silhouette_coverage, np.float32)
