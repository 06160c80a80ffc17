"""MediaPipe's pose landmarker (33 keypoints, 2D + 3D) and selfie segmenter behind our interfaces.

Needs the ``video`` extra (``pip install anr-studio[video]``, which brings mediapipe and its
opencv-contrib build). The MediaPipe wheels do not ship these two model files, so they are
downloaded once into ``$ANR_MODELS`` (default ``~/.cache/anr-studio/models``) with a progress bar;
``--offline`` / ``ANR_OFFLINE=1`` forbids it, and a missing file is then an error naming the path
to put it at.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from anr_studio.capture.video_fit.landmarks import MEDIAPIPE33
from anr_studio.capture.video_fit.models import Keypoints
from anr_studio.errors import AnrError
from anr_studio.model.weights import download, offline

MODEL_URLS = {
    "pose_landmarker_full.task": "https://storage.googleapis.com/mediapipe-models/pose_landmarker/"
                                 "pose_landmarker_full/float16/latest/pose_landmarker_full.task",
    "selfie_segmenter.tflite": "https://storage.googleapis.com/mediapipe-models/image_segmenter/"
                               "selfie_segmenter/float16/latest/selfie_segmenter.tflite",
}


def model_path(name: str) -> Path:
    """Returns the local path of MediaPipe model file ``name``, downloading it once unless offline."""
    root = Path(os.environ.get("ANR_MODELS", Path.home() / ".cache" / "anr-studio" / "models"))
    path = root / name
    if path.is_file():
        return path
    if offline():
        raise AnrError(f"{path}: MediaPipe model file is missing and downloads are off (--offline), expected "
                       f"the file from {MODEL_URLS[name]} at that path")
    return download(MODEL_URLS[name], path, f"MediaPipe's {name}")


class MediaPipeEstimator:
    """MediaPipe's pose landmarker in video mode: up to two people a frame, the first one's 33 keypoints."""

    layout = "mediapipe33"

    def __init__(self, fps: float = 30.0) -> None:
        import mediapipe as mp
        from mediapipe.tasks.python import BaseOptions, vision

        self._mp = mp
        options = vision.PoseLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(model_path("pose_landmarker_full.task"))),
            running_mode=vision.RunningMode.VIDEO, num_poses=2)
        self._landmarker = vision.PoseLandmarker.create_from_options(options)
        self._dt_ms, self._t = 1000.0 / fps, 0

    def __call__(self, frames: np.ndarray) -> Keypoints:
        b, h, w = frames.shape[:3]
        n = len(MEDIAPIPE33)
        pts, conf = np.zeros((b, n, 2), np.float32), np.zeros((b, n), np.float32)
        pts3 = np.zeros((b, n, 3), np.float32)
        people = np.zeros(b, np.int64)
        for i, frame in enumerate(frames):
            image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=np.ascontiguousarray(frame))
            result = self._landmarker.detect_for_video(image, int(self._t * self._dt_ms))
            self._t += 1
            people[i] = len(result.pose_landmarks)
            if not result.pose_landmarks:
                continue
            for j, lm in enumerate(result.pose_landmarks[0]):
                pts[i, j] = (lm.x * w, lm.y * h)
                conf[i, j] = min(lm.visibility or 0.0, lm.presence or 1.0)
            for j, lm in enumerate(result.pose_world_landmarks[0]):
                pts3[i, j] = (lm.x, lm.y, lm.z)
        return Keypoints(pts, conf, pts3, people, self.layout)


class MediaPipeSegmenter:
    """MediaPipe's selfie segmenter: the person's confidence mask."""

    def __init__(self) -> None:
        import mediapipe as mp
        from mediapipe.tasks.python import BaseOptions, vision

        self._mp = mp
        options = vision.ImageSegmenterOptions(
            base_options=BaseOptions(model_asset_path=str(model_path("selfie_segmenter.tflite"))),
            output_confidence_masks=True, output_category_mask=False)
        self._segmenter = vision.ImageSegmenter.create_from_options(options)

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        out = np.zeros(frames.shape[:3], np.float32)
        for i, frame in enumerate(frames):
            image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=np.ascontiguousarray(frame))
            masks = self._segmenter.segment(image).confidence_masks
            out[i] = masks[-1].numpy_view()  # the last category is the person
        return out
