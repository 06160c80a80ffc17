"""The learned models behind the video import: ``KeypointEstimator`` and ``PersonSegmenter`` interfaces,
MediaPipe's pose landmarker and detector (the ``video`` extra, whose wheel ships the model files:
docs/video_import.md) and our ``ConvSegmenter`` (safetensors + JSON)."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from anr_studio.capture.video_fit.landmarks import MEDIAPIPE33
from anr_studio.errors import AnrError

VIDEO_EXTRA = "anr-studio[video]"  # what to install for the learned models (MediaPipe, whose wheel ships them)


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
    """A fully convolutional person segmenter (3x3 conv + ReLU layers, a 1x1 conv to one logit per pixel) run at
    ``size`` pixels on the long side; stored as safetensors with its architecture in the metadata."""

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
        h, w = np.shape(frames)[1:3]
        scale = min(1.0, self.size / max(h, w))
        x = torch.as_tensor(np.asarray(frames)).permute(0, 3, 1, 2).float() / 255.0
        with torch.no_grad():
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


MEDIAPIPE_VERSION = "0.10.14"  # the MediaPipe release the ``video`` extra installs (its wheel ships the model files)
MODEL_FILES = (
    "modules/pose_detection/pose_detection.tflite",
    "modules/pose_landmark/pose_landmark_full.tflite",
    "modules/pose_landmark/pose_landmark_cpu.binarypb",
)
"""The files under the mediapipe package that the estimator and segmenter run."""
MIN_DETECTION_SCORE = 0.5  # pose detector score from which a detection counts as a person


def shipped_models():
    """Returns the mediapipe module after checking that it ships MODEL_FILES; AnrError naming what is missing."""
    try:
        import mediapipe
    except ImportError:
        raise AnrError(f"MediaPipe is not installed, expected pip install '{VIDEO_EXTRA}' for fitting a video's poses "
                       "and for learned masks") from None
    root = Path(mediapipe.__file__).parent
    missing = [name for name in MODEL_FILES if not (root / name).is_file()]
    if missing:
        version = getattr(mediapipe, "__version__", "?")
        raise AnrError(f"{root / missing[0]}: MediaPipe {version} does not ship its model files, expected "
                       f"mediapipe=={MEDIAPIPE_VERSION} (pip install '{VIDEO_EXTRA}')")
    return mediapipe


def _pose_landmarker():
    """Returns MediaPipe's pose landmarker (full model) in video mode, with the person's segmentation."""
    # MediaPipe's graphs open an EGL context on the system's GL driver; Mesa's driver loads its own LLVM,
    # whose symbols clash with the LLVM inside Triton, which torch's optimisers load on first use (a
    # segmentation fault with a display). Loaded first, Triton keeps its own.
    import torch._dynamo  # noqa: F401
    from mediapipe.python.solutions.pose import Pose

    return Pose(static_image_mode=False, model_complexity=1, smooth_landmarks=True, enable_segmentation=True,
                smooth_segmentation=True, min_detection_confidence=0.5, min_tracking_confidence=0.5)


@contextlib.contextmanager
def _native_stderr_quiet():
    """Sends the process's standard error (file descriptor 2) to the null device meanwhile: MediaPipe's graphs
    log their start-up from C++ (TensorFlow Lite's delegate, absl's warnings), which tells the user nothing."""
    sys.stderr.flush()
    saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved), os.close(null)


class _MediaPipeGraphs:
    """MediaPipe graphs started with the first frames they are given, their start-up logs silenced."""

    def __init__(self) -> None:
        shipped_models()  # the missing extra is said at once, not with the first frames
        self._started = False

    def __call__(self, frames: np.ndarray):
        if self._started:
            return self._run(frames)
        with _native_stderr_quiet():  # the graphs log from their own threads until the first results are out
            self._start()
            self._started = True
            return self._run(frames)


class MediaPipeEstimator(_MediaPipeGraphs):
    """MediaPipe's pose landmarker in video mode (the tracked person's 33 keypoints and mask) and its pose
    detector on every frame (how many people are in view)."""

    layout = "mediapipe33"

    def _start(self) -> None:
        self._pose = _pose_landmarker()
        from google.protobuf import text_format
        from mediapipe.framework import calculator_pb2
        from mediapipe.python.solution_base import SolutionBase

        graph = text_format.Parse(
            'input_stream: "image" output_stream: "detections" '
            'node { calculator: "PoseDetectionCpu" input_stream: "IMAGE:image" output_stream: "DETECTIONS:detections" }',
            calculator_pb2.CalculatorGraphConfig())
        self._detector = SolutionBase(
            graph_config=graph, outputs=["detections"],
            calculator_params={"posedetectioncpu__TensorsToDetectionsCalculator.min_score_thresh": MIN_DETECTION_SCORE})

    def _run(self, frames: np.ndarray) -> Keypoints:
        b, h, w = frames.shape[:3]
        n = len(MEDIAPIPE33)
        pts, conf = np.zeros((b, n, 2), np.float32), np.zeros((b, n), np.float32)
        pts3 = np.zeros((b, n, 3), np.float32)
        people = np.zeros(b, np.int64)
        masks = np.zeros((b, h, w), np.float32)
        for i, frame in enumerate(frames):
            frame = np.ascontiguousarray(frame)
            result = self._pose.process(frame)
            detections = self._detector.process({"image": frame}).detections or []
            people[i] = max(len(detections), int(result.pose_landmarks is not None))
            if result.pose_landmarks is None:
                continue
            if result.segmentation_mask is not None:
                masks[i] = result.segmentation_mask
            for j, lm in enumerate(result.pose_landmarks.landmark):
                pts[i, j] = (lm.x * w, lm.y * h)
                conf[i, j] = min(lm.visibility, lm.presence) if lm.HasField("presence") else lm.visibility
            for j, lm in enumerate(result.pose_world_landmarks.landmark):
                pts3[i, j] = (lm.x, lm.y, lm.z)
        return Keypoints(pts, conf, pts3, people, self.layout, masks)


class MediaPipeSegmenter(_MediaPipeGraphs):
    """The person's confidence mask from MediaPipe's pose landmarker (zero where it finds nobody)."""

    def _start(self) -> None:
        self._pose = _pose_landmarker()

    def _run(self, frames: np.ndarray) -> np.ndarray:
        out = np.zeros(frames.shape[:3], np.float32)
        for i, frame in enumerate(frames):
            mask = self._pose.process(np.ascontiguousarray(frame)).segmentation_mask
            if mask is not None:
                out[i] = mask
        return out


# The models the video import runs unless given others (AnrError naming the extra when MediaPipe is missing).
default_estimator: type[KeypointEstimator] = MediaPipeEstimator
default_segmenter: type[PersonSegmenter] = MediaPipeSegmenter
