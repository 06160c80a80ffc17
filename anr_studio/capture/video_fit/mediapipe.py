"""MediaPipe's pose landmarker (33 keypoints, 2D + 3D, the person's mask) and pose detector behind our interfaces.

Needs the ``video`` extra, which pins the MediaPipe release whose wheel ships the model files, so
nothing is downloaded (why this release, and why the landmarker's own segmentation: docs/video_import.md).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from anr_studio.capture.video_fit.landmarks import MEDIAPIPE33
from anr_studio.capture.video_fit.models import VIDEO_EXTRA, Keypoints
from anr_studio.errors import AnrError

MEDIAPIPE_VERSION = "0.10.14"
"""The MediaPipe release the ``video`` extra installs (its wheel ships the model files)."""
MODEL_FILES = (
    "modules/pose_detection/pose_detection.tflite",
    "modules/pose_landmark/pose_landmark_full.tflite",
    "modules/pose_landmark/pose_landmark_cpu.binarypb",
)
"""The files under the mediapipe package that the estimator and segmenter run."""
MIN_DETECTION_SCORE = 0.5
"""Pose detector score from which a detection counts as a person."""


def shipped_models():
    """Returns the mediapipe module after checking that it ships MODEL_FILES; AnrError naming what is missing."""
    try:
        import mediapipe
    except ImportError:
        raise AnrError(f"video import: the pose estimator and person segmenter need MediaPipe, expected it "
                       f"installed (pip install '{VIDEO_EXTRA}')") from None
    root = Path(mediapipe.__file__).parent
    missing = [name for name in MODEL_FILES if not (root / name).is_file()]
    if missing:
        version = getattr(mediapipe, "__version__", "?")
        raise AnrError(f"{root / missing[0]}: MediaPipe {version} does not ship its model files, expected "
                       f"mediapipe=={MEDIAPIPE_VERSION} (pip install '{VIDEO_EXTRA}')")
    return mediapipe


def _pose_landmarker():
    """Returns MediaPipe's pose landmarker (full model) in video mode, with the person's segmentation."""
    shipped_models()
    # MediaPipe's graphs open an EGL context on the system's GL driver; Mesa's driver loads its own LLVM,
    # whose symbols clash with the LLVM inside Triton, which torch's optimisers load on first use (a
    # segmentation fault with a display). Loaded first, Triton keeps its own.
    import torch._dynamo  # noqa: F401
    from mediapipe.python.solutions.pose import Pose

    return Pose(static_image_mode=False, model_complexity=1, smooth_landmarks=True, enable_segmentation=True,
                smooth_segmentation=True, min_detection_confidence=0.5, min_tracking_confidence=0.5)


class MediaPipeEstimator:
    """MediaPipe's pose landmarker in video mode (the tracked person's 33 keypoints and mask) and its pose
    detector on every frame (how many people are in view)."""

    layout = "mediapipe33"

    def __init__(self) -> None:
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

    def __call__(self, frames: np.ndarray) -> Keypoints:
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


class MediaPipeSegmenter:
    """The person's confidence mask from MediaPipe's pose landmarker (zero where it finds nobody)."""

    def __init__(self) -> None:
        self._pose = _pose_landmarker()

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        out = np.zeros(frames.shape[:3], np.float32)
        for i, frame in enumerate(frames):
            mask = self._pose.process(np.ascontiguousarray(frame)).segmentation_mask
            if mask is not None:
                out[i] = mask
        return out
