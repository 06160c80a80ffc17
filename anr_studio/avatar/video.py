"""Writes rendered frames: PNG files, PNG sequences and H.264 mp4 videos (imageio-ffmpeg), atomically."""

from __future__ import annotations

import contextlib
import os
import struct
from pathlib import Path
from typing import Iterable

import numpy as np

from anr_studio.errors import AnrError
from anr_studio.fileio import atomic_path, atomic_write_bytes, os_error_message

VIDEO_SUFFIXES = (".mp4",)


def write_png(path: str | os.PathLike, image: np.ndarray) -> Path:
    """Writes ``image`` (H,W) grey, (H,W,3) RGB or (H,W,4) RGBA uint8 as a PNG, atomically; returns the path."""
    import cv2

    img = np.ascontiguousarray(image)
    if img.dtype != np.uint8:
        raise AnrError(f"{path}: image has dtype {img.dtype}, expected uint8")
    if img.ndim == 3 and img.shape[2] == 3:
        img = cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
    elif img.ndim == 3 and img.shape[2] == 4:
        img = cv2.cvtColor(img, cv2.COLOR_RGBA2BGRA)
    ok, data = cv2.imencode(".png", img)
    if not ok:
        raise AnrError(f"{path}: could not encode the image as PNG")
    atomic_write_bytes(path, data.tobytes())
    return Path(path)


class VideoWriter:
    """Streams (H,W,3) uint8 RGB frames to an H.264 yuv420p mp4 (odd sizes padded by a white pixel); the file
    appears at ``path`` only when `close` succeeds."""

    def __init__(self, path: str | os.PathLike, fps: float = 30.0, quality: int = 8) -> None:
        self.path = Path(path)
        if self.path.suffix.lower() not in VIDEO_SUFFIXES:
            raise AnrError(f"{path}: unsupported video type, expected a .mp4 file (or a folder for PNG frames)")
        if not fps > 0:
            raise AnrError(f"{path}: fps is {fps}, expected a positive frame rate")
        # An unpredictable temporary name beside the target (never a symlink planted there).
        self._stack = contextlib.ExitStack()
        self.tmp = self._stack.enter_context(atomic_path(self.path, suffix=".partial.mp4"))
        self.fps, self.quality = float(fps), int(quality)
        self._gen = None
        self.size: tuple[int, int] | None = None
        self.frames = 0

    def write(self, frame: np.ndarray) -> None:
        """Appends one (H,W,3) uint8 RGB frame (every frame must have the first frame's size)."""
        frame = np.asarray(frame)
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise AnrError(f"{self.path}: frame has shape {frame.shape} {frame.dtype}, expected (H, W, 3) uint8")
        h, w = frame.shape[:2]
        if self._gen is None:
            import imageio_ffmpeg

            self.size = (h, w)
            self._gen = imageio_ffmpeg.write_frames(str(self.tmp), (w + w % 2, h + h % 2), fps=self.fps, quality=self.quality,
                                                     macro_block_size=1, pix_fmt_out="yuv420p")
            self._send(None)
        if (h, w) != self.size:
            raise AnrError(f"{self.path}: frame {self.frames} is {w}x{h}, expected {self.size[1]}x{self.size[0]} like the first")
        if h % 2 or w % 2:
            frame = np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), constant_values=255)
        self._send(np.ascontiguousarray(frame))
        self.frames += 1

    def _send(self, value: np.ndarray | None) -> None:
        try:
            self._gen.send(value)
        except OSError as exc:  # ffmpeg ended early (a full disk, a removed folder): its pipe broke
            raise AnrError(os_error_message(exc, self.path)) from None

    def close(self) -> Path:
        """Finishes the file and moves it into place; returns its path (AnrError, ``path`` untouched, if ffmpeg failed)."""
        if self._gen is None:
            raise AnrError(f"{self.path}: no frames were written, expected at least one")
        self._gen.close()
        self._gen = None
        if not mp4_complete(self.tmp):
            message = os_error_message(OSError("ffmpeg could not finish the video"), self.path)
            self.abort()
            raise AnrError(message)
        self._stack.close()  # fsync + rename
        return self.path

    def abort(self) -> None:
        """Drops the partial file (also when a second Ctrl-C or SIGTERM cuts short the wait for ffmpeg)."""
        gen, self._gen = self._gen, None
        try:
            if gen is not None:
                with contextlib.suppress(Exception):
                    gen.close()
        finally:
            self._stack.__exit__(AnrError, AnrError("aborted"), None)


def mp4_complete(path: str | os.PathLike) -> bool:
    """Returns True when ``path``'s top-level MP4 boxes tile the whole file and include ``moov`` and ``mdat``."""
    seen = set()
    with contextlib.suppress(OSError), open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        pos = 0
        while pos < size:
            f.seek(pos)
            head = f.read(8)
            if len(head) < 8:
                return False
            length, kind = struct.unpack(">I4s", head)
            if length == 1:
                big = f.read(8)
                if len(big) < 8:
                    return False
                length = struct.unpack(">Q", big)[0]
            elif length == 0:
                length = size - pos
            if length < 8 or pos + length > size:
                return False
            seen.add(kind)
            pos += length
        return {b"moov", b"mdat"} <= seen
    return False


def write_video(out: str | os.PathLike, frames: Iterable[np.ndarray], fps: float = 30.0) -> Path:
    """Writes ``frames`` ((H,W,3|4) uint8 each; RGBA over white) to the mp4 ``out``; returns it. The file appears
    only once every frame was written: an error or a stop while ``frames`` runs leaves nothing at ``out``."""
    writer = VideoWriter(out, fps)
    try:
        for frame in frames:
            if frame.shape[-1] == 4:
                alpha = frame[..., 3:].astype(np.float32) / 255
                frame = (frame[..., :3] * alpha + 255 * (1 - alpha)).round().astype(np.uint8)
            writer.write(frame)
        return writer.close()
    except BaseException:
        writer.abort()
        raise


def write_frames(out: str | os.PathLike, frames: Iterable[np.ndarray], fps: float = 30.0) -> Path:
    """Writes ``frames`` ((H,W,3|4) uint8) to an .mp4 (RGBA over white) or a folder of frame_00000.png ...; returns ``out``.
    An error or a stop while ``frames`` runs removes the frames written (and the folder, if this made it)."""
    out = Path(out)
    if out.suffix.lower() in VIDEO_SUFFIXES:
        return write_video(out, frames, fps)
    if out.suffix:
        raise AnrError(f"{out}: unsupported output type {out.suffix!r}, expected a .mp4 file or a folder for PNG frames")
    made = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    try:
        for frame in frames:
            written.append(write_png(out / f"frame_{len(written):05d}.png", frame))
        if not written:
            raise AnrError(f"{out}: no frames were written, expected at least one")
    except BaseException:
        with contextlib.suppress(OSError):
            for path in written:
                path.unlink()
            if made:
                out.rmdir()
        raise
    return out
