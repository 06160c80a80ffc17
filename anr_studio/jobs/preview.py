"""NeuralPreview: renders the avatar for the current pose and view on a worker thread; `export_video` renders a motion.

"Latest wins": newer requests replace the pending one, so a drag never queues stale frames.
``on_result`` is called on the WORKER thread; the GUI forwards it through a queued Qt signal.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from anr_studio.components.protocols import StudioAvatar
from anr_studio.components.scene import OrbitView


@dataclass(frozen=True)
class PreviewRequest:
    """What to render: identity name, pose (24,3), betas (K,), transl (3,), view, size (H,W), background RGB 0-255."""

    identity: str
    pose: np.ndarray
    betas: np.ndarray | None
    transl: np.ndarray | None
    view: OrbitView
    size: tuple[int, int]
    stamp: float = 0.0  # time.perf_counter() when the user made the edit, for latency figures
    background: tuple[int, int, int] = (255, 255, 255)


@dataclass(frozen=True)
class PreviewResult:
    """rgb (H,W,3) uint8 (None when the render failed), the request, render seconds and edit-to-done latency."""

    rgb: np.ndarray | None
    request: PreviewRequest
    render_s: float
    latency_s: float
    error: str | None = None


def default_preview_size() -> int:
    """Returns the neural preview's edge in pixels: 512 with CUDA, 256 on CPU-only machines."""
    return 512 if torch.cuda.is_available() else 256


class NeuralPreview:
    """Owns one worker thread that renders ``avatar.render`` requests, newest first."""

    def __init__(self, on_result: Callable[[PreviewResult], None]) -> None:
        self._on_result = on_result
        self._cond = threading.Condition()
        self._pending: PreviewRequest | None = None
        self.avatar: StudioAvatar | None = None  # set through `set_avatar`
        self._closed = False
        self._busy = False
        self._thread = threading.Thread(target=self._loop, name="anr-neural-preview", daemon=True)
        self._thread.start()

    def set_avatar(self, avatar: StudioAvatar | None) -> None:
        """Sets the avatar to render (or None), tuned for its device first (`Avatar.tune`)."""
        if avatar is not None:
            avatar.tune()
        with self._cond:
            self.avatar = avatar
            self._pending = None

    def request(self, req: PreviewRequest) -> None:
        """Queues ``req``, replacing any request that has not started yet."""
        with self._cond:
            self._pending = req
            self._cond.notify()

    def idle(self) -> bool:
        """Returns True when nothing is pending or rendering."""
        with self._cond:
            return self._pending is None and not self._busy

    def close(self, timeout: float = 5.0) -> None:
        """Stops the worker (after the render in flight)."""
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(timeout)

    def _loop(self) -> None:
        while True:
            with self._cond:
                while self._pending is None and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                req, self._pending, avatar = self._pending, None, self.avatar
                self._busy = avatar is not None
            if avatar is None:
                continue
            t0 = time.perf_counter()
            rgb = err = None
            try:
                rgb = render_request(avatar, req)[0]
            except Exception as exc:  # noqa: BLE001 - a failed preview must not kill the worker
                err = f"{type(exc).__name__}: {exc}"
            t1 = time.perf_counter()
            self._on_result(PreviewResult(rgb, req, t1 - t0, t1 - req.stamp if req.stamp else t1 - t0, err))
            with self._cond:
                self._busy = False


@torch.no_grad()
def render_request(avatar: StudioAvatar, req: PreviewRequest) -> tuple[np.ndarray, np.ndarray]:
    """Returns (rgb (H,W,3) uint8, mask (H,W) float32) of ``avatar`` for one request."""
    camera = req.view.camera(req.size)
    rgb, mask = avatar.render(req.identity, req.pose, camera, betas=req.betas, transl=req.transl, size=req.size,
                              background=req.background)
    return np.asarray(rgb, np.uint8), np.asarray(mask, np.float32)


def export_video(avatar: StudioAvatar, identity: str, motion: str, out: str, view: OrbitView, control, size: int = 256,
                 max_frames: int | None = None) -> str:
    """Returns ``out`` after writing an mp4 of ``avatar``'s ``identity`` performing ``motion``, ``size``² from ``view``.

    The camera follows the body's horizontal drift, as the CLI's render does (a walk stays in view); the vertical
    motion stays. A stopped export leaves nothing.
    """
    from anr_studio.avatar.video import write_video
    from anr_studio.motion import load_motion

    clip = load_motion(motion)
    n = len(clip) if max_frames is None else min(len(clip), int(max_frames))
    transl = clip.transl - clip.transl[:1]
    transl[:, [0, 2]] = 0.0

    def frames():
        for i in range(n):
            control.checkpoint()
            yield render_request(avatar, PreviewRequest(identity, clip.poses[i], None, transl[i], view, (size, size)))[0]
            control.status.set_progress(i + 1, n)

    write_video(out, frames(), clip.fps)
    return out
