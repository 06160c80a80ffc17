"""Capture work for background jobs: import, synthetic capture, keyframe selection.

Each function takes the job's ``JobControl`` first (``BackgroundJob(name, lambda c: fn(c, ...))``):
progress goes to its status, and a stop requested from the studio ends the work at the next
frame.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from anr_studio.components.protocols import StudioBody


def _progress(control) -> Callable[[int, int], None]:
    def progress(done: int, total: int) -> None:
        control.status.set_progress(done, total)
        control.checkpoint()

    return progress


def import_capture(control, src: str, out: str, poses: str | None = None) -> str:
    """Returns ``out`` after importing ``src`` (a folder, or a video with SMPL ``poses``) into a capture there."""
    from anr_studio.capture.importers import import_capture as run_import

    run_import(src, out, poses=poses).close()
    return out


def make_synthetic(control, out: str, frames: int = 60, size: int = 256, seed: int = 0) -> str:
    """Returns ``out`` after writing a synthetic capture of ``frames`` frames at ``size``² of identity ``seed``."""
    from anr_studio.capture.synth.generate import SynthConfig, generate_capture

    generate_capture(out, SynthConfig(seed=seed, frames=frames, size=size), progress=_progress(control))
    return out


def select_keyframes(control, path: str, fraction: float, body: StudioBody) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Returns (indices (k,), UV coverage (k,), silhouette coverage (k,)) of keyframe selection on ``body``, stored in the file."""
    from anr_studio.capture.keyframes import select_keyframes as run_selection

    sel = run_selection(path, fraction, body=body, write=True, progress=_progress(control))
    return np.asarray(sel.indices, np.int64), np.asarray(sel.coverage, np.float32), np.asarray(sel.silhouette_coverage, np.float32)
