"""The learned models behind the video import: a keypoint estimator and a person segmenter.

Both are small interfaces (``KeypointEstimator``, ``PersonSegmenter``), so the fit and the capture
writer do not care which network runs: MediaPipe's (``video_fit.mediapipe``, the ``video`` extra)
or our ``ConvSegmenter`` (safetensors + JSON, never a pickle).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch

from anr_studio.errors import AnrError

VIDEO_EXTRA = "anr-studio[video]"
"""What to install for the learned models (MediaPipe, whose wheel ships them)."""


@dataclass
class Keypoints:
    """Keypoints of B frames: points (B,L,2) px, confidence (B,L) in [0,1], points3d (B,L,3) root-relative
    metres in the camera's axes or None, people (B,) int persons seen in each frame, layout name, and
    masks (B,H,W) in [0,1] of the person the keypoints belong to when the estimator segments (else None)."""

    points: np.ndarray
    confidence: np.ndarray
    points3d: np.ndarray | None
    people: np.ndarray
    layout: str
    masks: np.ndarray | None = None


class KeypointEstimator(Protocol):
    """Returns the Keypoints of frames (B,H,W,3) uint8 RGB (the most prominent person's)."""

    layout: str

    def __call__(self, frames: np.ndarray) -> Keypoints: ...


class PersonSegmenter(Protocol):
    """Returns soft person masks (B,H,W) float32 in [0,1] of frames (B,H,W,3) uint8 RGB."""

    def __call__(self, frames: np.ndarray) -> np.ndarray: ...


class ConvSegmenter(torch.nn.Module):
    """A fully convolutional person segmenter: 3x3 conv + ReLU layers, a 1x1 conv to one logit per pixel.

    Runs at ``size`` pixels on the long side and upsamples the probabilities to the frame's size.
    Stored as ``NAME.safetensors`` with its architecture in the metadata (`save` / `load`).
    """

    def __init__(self, channels: tuple[int, ...] = (16, 16), size: int = 256) -> None:
        super().__init__()
        layers: list[torch.nn.Module] = []
        c_in = 3
        for c in channels:
            layers += [torch.nn.Conv2d(c_in, c, 3, padding=1), torch.nn.ReLU()]
            c_in = c
        layers.append(torch.nn.Conv2d(c_in, 1, 1))
        self.net = torch.nn.Sequential(*layers)
        self.channels, self.size = tuple(channels), int(size)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Returns logits (B,1,h,w) of images (B,3,h,w) in [0,1]."""
        return self.net(images)

    def __call__(self, frames) -> np.ndarray:  # type: ignore[override]
        """Returns soft masks (B,H,W) of frames (B,H,W,3) uint8 (the PersonSegmenter interface); a tensor
        (B,3,h,w) gets `forward`'s logits instead, for training."""
        if isinstance(frames, torch.Tensor):
            return super().__call__(frames)
        with torch.no_grad():
            return self._masks(np.asarray(frames))

    def _masks(self, frames: np.ndarray) -> np.ndarray:
        h, w = frames.shape[1:3]
        scale = min(1.0, self.size / max(h, w))
        x = torch.as_tensor(frames).permute(0, 3, 1, 2).float() / 255.0
        if scale < 1.0:
            x = torch.nn.functional.interpolate(x, scale_factor=scale, mode="area")
        prob = torch.sigmoid(self.net(x))
        if scale < 1.0:
            prob = torch.nn.functional.interpolate(prob, size=(h, w), mode="bilinear", align_corners=False)
        return prob[:, 0].numpy().astype(np.float32)

    def save(self, path: str | os.PathLike) -> None:
        from safetensors.torch import save_file

        from anr_studio.fileio import atomic_path

        meta = {"anr_segmenter": json.dumps({"channels": list(self.channels), "size": self.size})}
        with atomic_path(path) as tmp:
            save_file({k: v.contiguous() for k, v in self.state_dict().items()}, str(tmp), metadata=meta)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "ConvSegmenter":
        """Returns the segmenter stored at ``path``; AnrError naming the file when it is not one."""
        from anr_studio.fileio import read_safetensors

        expected = "a person segmenter (.safetensors with 'anr_segmenter' metadata and its convolution weights)"
        meta, tensors = read_safetensors(path, "anr_segmenter", expected)
        try:
            model = cls(tuple(int(c) for c in meta["channels"]), int(meta["size"]))
            model.load_state_dict(tensors)
        except Exception as exc:  # noqa: BLE001 - missing fields, odd sizes or another network's weights
            raise AnrError(f"{path}: not {expected} ({type(exc).__name__})") from None
        return model.eval()


def default_estimator() -> KeypointEstimator:
    """Returns MediaPipe's pose landmarker (keypoints and the person's mask); AnrError naming the extra when missing."""
    from anr_studio.capture.video_fit.mediapipe import MediaPipeEstimator

    return MediaPipeEstimator()


def default_segmenter() -> PersonSegmenter:
    """Returns MediaPipe's person segmenter; AnrError naming the extra when missing."""
    from anr_studio.capture.video_fit.mediapipe import MediaPipeSegmenter

    return MediaPipeSegmenter()
