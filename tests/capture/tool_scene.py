"""A small synthetic person for the tools' layouts: SMPL fits with known 2D joints, frames, and
writers for the pickle flavours the tools use (plain pickle, joblib with its inline arrays).

The fits are SMPL's (SMPL's rest skeleton, no SMPL file needed): an imported capture is right
when the built-in body's joints, seen by the imported cameras, land on SMPL's joints as the
tool's own camera sees them.
"""

from __future__ import annotations

import contextlib
import io
import pickle
import sys
import types
from pathlib import Path

import cv2
import numpy as np

from anr_studio.body import BodyModel
from anr_studio.capture.check import _joints_2d
from anr_studio.capture.formats.sources import axis_angle_to_rotations, rotations_to_axis_angle
from anr_studio.capture.smpl_convert import smpl_joints

H, W, N = 96, 128, 3
# joints the fitters and the built-in body agree on: pelvis, knees, ankles, shoulders
CHECKED = [0, 4, 5, 7, 8, 16, 17]
FLIP = np.diag([1.0, -1.0, -1.0])  # SMPL's y-up body seen by an OpenCV camera (y down, z forward)


def camera_frame_fits(n: int = N, seed: int = 0) -> dict[str, np.ndarray]:
    """Returns SMPL fits in an OpenCV camera's frame: ``pose (n,24,3)``, ``trans (n,3)``, ``betas (10,)``:
    an upright person about 3.5 m in front of the camera, facing it."""
    rng = np.random.default_rng(seed)
    pose = rng.normal(0, 0.15, (n, 24, 3))
    root = FLIP[None] @ axis_angle_to_rotations(rng.normal(0, 0.2, (n, 3)) * [0.3, 1, 0.3])
    pose[:, 0] = rotations_to_axis_angle(root)
    trans = np.array([0.05, 0.25, 3.5]) + rng.normal(0, 0.1, (n, 3))
    return {"pose": pose, "trans": trans, "betas": np.zeros(10)}


def project(points: np.ndarray, K: np.ndarray, R: np.ndarray | None = None, t: np.ndarray | None = None) -> np.ndarray:
    """Returns pixels (n,J,2) of world points (n,J,3) seen by ``K`` (3,3)/(n,3,3), world-to-camera R, t."""
    cam = points if R is None else points @ np.swapaxes(np.asarray(R), -1, -2) + np.asarray(t)[..., None, :]
    pix = cam @ np.swapaxes(np.broadcast_to(K, (len(points), 3, 3)), -1, -2)
    return pix[..., :2] / pix[..., 2:]


def smpl_pixels(fits: dict, K: np.ndarray, R=None, t=None) -> np.ndarray:
    """Returns SMPL's joints (n,24,2) in pixels for ``fits`` seen by the camera."""
    return project(smpl_joints(fits["pose"], fits["trans"]), K, R, t)


def joint_error(cap, truth_px: np.ndarray, body=None) -> float:
    """Returns the median distance (pixels) of the capture's body joints (the built-in body, or
    ``body``) from ``truth_px`` (n,24,2)."""
    ours = _joints_2d(cap, list(range(len(cap))), body or BodyModel.default())
    return float(np.median(np.linalg.norm(ours[:, CHECKED] - truth_px[:, CHECKED], axis=-1)))


def frame_images(n: int = N, h: int = H, w: int = W) -> np.ndarray:
    """Returns n frames (n,h,w,3) uint8 RGB, each a different flat colour (recognisable after mp4)."""
    return np.stack([np.full((h, w, 3), ((30 + 45 * i) % 256, (200 - 35 * i) % 256, (90 + 30 * i) % 256), np.uint8)
                     for i in range(n)])


def write_images(folder: Path, frames: np.ndarray, pattern: str = "{:06d}.png", start: int = 0) -> list[Path]:
    """Writes ``frames`` as images named by ``pattern`` into ``folder``; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, f in enumerate(frames):
        paths.append(folder / pattern.format(i + start))
        cv2.imwrite(str(paths[-1]), f[..., ::-1])
    return paths


def write_video(path: Path, frames: np.ndarray, fps: float = 25.0) -> Path:
    """Writes ``frames`` (n,H,W,3) RGB as an mp4; returns the path."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (frames.shape[2], frames.shape[1]))
    for f in frames:
        writer.write(np.ascontiguousarray(f[..., ::-1]))
    writer.release()
    return path


class _JoblibWrapper:
    """Pickled under joblib's name, as joblib's NumpyPickler writes its arrays."""


@contextlib.contextmanager
def _joblib_names():
    # joblib is not installed here: its class name is made importable while pickling only.
    package, module = types.ModuleType("joblib"), types.ModuleType("joblib.numpy_pickle")
    _JoblibWrapper.__module__, _JoblibWrapper.__name__, _JoblibWrapper.__qualname__ = (
        "joblib.numpy_pickle", "NumpyArrayWrapper", "NumpyArrayWrapper")
    module.NumpyArrayWrapper = _JoblibWrapper
    package.numpy_pickle = module
    saved = {k: sys.modules.get(k) for k in ("joblib", "joblib.numpy_pickle")}
    sys.modules.update({"joblib": package, "joblib.numpy_pickle": module})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v


class _JoblibPickler(pickle._Pickler):
    """joblib's NumpyPickler layout (joblib/numpy_pickle.py): each array is a NumpyArrayWrapper
    object, then a padding-length byte, padding to 16 bytes and the array's bytes in the stream."""

    def __init__(self, file: io.BytesIO, protocol: int = 4) -> None:
        super().__init__(file, protocol=protocol)
        self.file_handle = file

    def save(self, obj, save_persistent_id=True):
        if type(obj) is np.ndarray and not obj.dtype.hasobject:
            wrapper = _JoblibWrapper()
            wrapper.__dict__.update(subclass=np.ndarray, shape=obj.shape, order="C", dtype=obj.dtype,
                                    allow_mmap=True, numpy_array_alignment_bytes=16)
            pickle._Pickler.save(self, wrapper)
            if self.proto >= 4:
                self.framer.commit_frame(force=True)
            pad = 16 - (self.file_handle.tell() + 1) % 16
            self.file_handle.write(bytes([pad]) + b"\xff" * pad)
            self.file_handle.write(np.ascontiguousarray(obj).tobytes())
            return
        return pickle._Pickler.save(self, obj, save_persistent_id)


def write_joblib(obj, path: Path, compress: bool = False) -> Path:
    """Writes ``obj`` as ``joblib.dump`` does (``compress``: zlib, as ``compress=3``); returns the path."""
    buf = io.BytesIO()
    with _joblib_names():
        _JoblibPickler(buf).dump(obj)
    data = buf.getvalue()
    if compress:
        import zlib

        data = zlib.compress(data, 3)
    path.write_bytes(data)
    return path


def distort(image: np.ndarray, K: np.ndarray, D: np.ndarray) -> np.ndarray:
    """Returns ``image`` as a camera with distortion ``D`` records it (what cv2.undistort undoes)."""
    h, w = image.shape[:2]
    grid = np.stack(np.meshgrid(np.arange(w), np.arange(h)), -1).reshape(-1, 1, 2).astype(np.float64)
    undist = cv2.undistortPoints(grid, K, D, P=K).reshape(h, w, 2).astype(np.float32)
    return cv2.remap(image, undist[..., 0], undist[..., 1], cv2.INTER_NEAREST)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Returns the intersection over union of two boolean mask stacks."""
    return float((a & b).sum() / max((a | b).sum(), 1))


def world_scene(seed: int = 0):
    """Returns SMPL fits in a y-up world and a world-to-camera E (4,4) that sees them as
    :func:`camera_frame_fits` (SMPL rotates about its pelvis, so the pelvis is what moves)."""
    from anr_studio.capture.smpl_convert import SMPL_PELVIS

    fits = camera_frame_fits(seed=seed)
    E = np.eye(4)
    E[:3, :3], E[:3, 3] = FLIP, [0.1, -0.2, 0.3]
    pose = fits["pose"].copy()
    pose[:, 0] = rotations_to_axis_angle(FLIP.T @ axis_angle_to_rotations(fits["pose"][:, 0]))
    pelvis_world = (SMPL_PELVIS + fits["trans"] - E[:3, 3]) @ FLIP
    return {"pose": pose, "trans": pelvis_world - SMPL_PELVIS, "betas": fits["betas"]}, E


def reference_capture(tmp_path: Path, world: dict, K: np.ndarray, E: np.ndarray, h: int = H, w: int = W):
    """Returns the capture the generic import makes of ``world`` fits seen by K, E (the canonical path)."""
    from anr_studio.capture.importers import import_capture

    src = tmp_path / "generic"
    write_images(src / "images", frame_images(len(world["pose"]), h, w), "{:04d}.png")
    np.savez(src / "fits.npz", poses=world["pose"].reshape(-1, 72), trans=world["trans"], betas=world["betas"], K=K, E=E)
    return import_capture(src, tmp_path / "reference.h5")
