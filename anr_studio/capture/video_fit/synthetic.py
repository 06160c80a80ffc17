"""Synthetic keypoint clips with known truth: a built-in motion seen by a hand-held camera.

Used by the tests and the fit benchmark: the truth is the body's keypoints projected by a camera
that wobbles like a phone in a hand, with pixel noise, low confidences and dropped keypoints.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from anr_studio.capture.video_fit.bodyfit import body_keypoints
from anr_studio.capture.video_fit.landmarks import LAYOUTS, landmark_map


@dataclass
class KeypointClip:
    """A synthetic clip: keypoints (N,L,2) px, confidence (N,L), keypoints3d (N,L,3) root-relative
    camera-axes metres, image_size (H,W), focal px, truth joints in each frame's camera (N,24,3)."""

    keypoints: np.ndarray
    confidence: np.ndarray
    keypoints3d: np.ndarray
    image_size: tuple[int, int]
    focal: float
    joints_camera: np.ndarray
    layout: str


def look_at(eye: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Returns the world-to-camera rotation (3,3) (OpenCV axes) of a camera at ``eye`` looking at ``target``."""
    z = target - eye
    z = z / np.linalg.norm(z)
    x = np.cross(z, [0.0, 1.0, 0.0])  # image x to the right of the view direction, y down
    x = x / np.linalg.norm(x)
    y = np.cross(z, x)
    return np.stack([x, y, z])


def _wobble(n: int, rng: np.random.Generator, amplitude: float) -> np.ndarray:
    """Returns a smooth random walk (n,3) with about ``amplitude`` standard deviation."""
    steps = rng.normal(size=(n, 3))
    kernel = np.hanning(15)
    walk = np.stack([np.convolve(np.cumsum(steps[:, i]), kernel / kernel.sum(), mode="same") for i in range(3)], 1)
    walk -= walk.mean(0)
    return walk * amplitude / (walk.std(0) + 1e-9)


def synthetic_clip(frames: int = 40, *, motion: str = "walk", layout: str = "coco17", image_size=(720, 1280),
                   focal: float = 1100.0, noise_px: float = 2.0, dropout: float = 0.1, noise3d: float = 0.02,
                   seed: int = 0, body=None) -> KeypointClip:
    """Returns a KeypointClip of ``motion``'s first ``frames`` frames seen by a hand-held camera."""
    from anr_studio.body import load_body
    from anr_studio.motion import load_motion

    rng = np.random.default_rng(seed)
    body = body if body is not None else load_body()
    clip = load_motion(motion)
    if frames > len(clip):  # a longer clip: the same motion, slower
        clip = clip.resample(clip.fps * frames / len(clip))
    n = min(frames, len(clip))
    pose = torch.as_tensor(clip.poses[:n], dtype=torch.float32)
    transl = torch.as_tensor(clip.transl[:n], dtype=torch.float32)
    betas = torch.as_tensor(rng.normal(scale=0.7, size=10), dtype=torch.float32)
    lm = landmark_map(layout, body)
    with torch.no_grad():
        pts, joints = body_keypoints(body, lm, pose, betas, transl)
    pts, joints = pts.numpy(), joints.numpy()
    centre = joints[:, 0].mean(0)
    eye = centre + np.array([2.2, 0.5, 3.4])
    wobble_t = _wobble(n, rng, 0.03)
    wobble_r = _wobble(n, rng, np.deg2rad(1.5))
    h, w = image_size
    L = len(LAYOUTS[layout])
    kp = np.zeros((n, L, 2), np.float32)
    kp3 = np.zeros((n, L, 3), np.float32)
    joints_cam = np.zeros((n, 24, 3), np.float32)
    for i in range(n):
        from anr_studio.body.lbs import axis_angle_to_matrix

        R = axis_angle_to_matrix(torch.as_tensor(wobble_r[i], dtype=torch.float32)[None])[0].numpy() @ look_at(eye + wobble_t[i], centre)
        cam = (pts[i] - eye - wobble_t[i]) @ R.T
        kp[i, lm.keypoints] = focal * cam[:, :2] / cam[:, 2:] + np.array([w / 2, h / 2])
        jc = (joints[i] - eye - wobble_t[i]) @ R.T
        joints_cam[i] = jc
        kp3[i, lm.keypoints] = cam - jc[0]
    conf = np.zeros((n, L), np.float32)
    conf[:, lm.keypoints] = rng.uniform(0.6, 1.0, size=(n, len(lm.keypoints)))
    conf[rng.random(conf.shape) < dropout] = 0.0
    kp += rng.normal(scale=noise_px, size=kp.shape).astype(np.float32)
    kp3 += rng.normal(scale=noise3d, size=kp3.shape).astype(np.float32)
    return KeypointClip(kp, conf, kp3, (h, w), focal, joints_cam, layout)


def fitted_joints_camera(fit_pose: np.ndarray, fit_transl: np.ndarray, fit_betas: np.ndarray, body=None) -> np.ndarray:
    """Returns the fitted body's joints (N,24,3) in the fitted camera's axes (metres)."""
    from anr_studio.body import load_body
    from anr_studio.capture.video_fit.bodyfit import CAMERA_R

    body = body if body is not None else load_body()
    lm = landmark_map("coco17", body)
    with torch.no_grad():
        _, joints = body_keypoints(body, lm, torch.as_tensor(fit_pose), torch.as_tensor(fit_betas), torch.as_tensor(fit_transl))
    return joints.numpy() @ CAMERA_R.T


def joint_error(fit_pose: np.ndarray, fit_transl: np.ndarray, fit_betas: np.ndarray, truth_camera: np.ndarray,
                body=None, align_scale: bool = False) -> np.ndarray:
    """Returns per-frame, per-joint 3D error (N,24) in metres after aligning the roots, in the camera's axes.

    ``align_scale`` also scales the fitted skeleton (one factor for the clip) to match the truth best.
    """
    cam = fitted_joints_camera(fit_pose, fit_transl, fit_betas, body)
    fitted, true = cam - cam[:, :1], truth_camera - truth_camera[:, :1]
    if align_scale:
        fitted = fitted * float((fitted * true).sum() / max(float((fitted * fitted).sum()), 1e-12))
    return np.linalg.norm(fitted - true, axis=-1)


def leg_length(joints: np.ndarray) -> float:
    """Returns the mean hip-knee-ankle length in metres of joints (N,24,3), both legs."""
    from anr_studio.body.skeleton import joint_index

    total = 0.0
    for side in ("left", "right"):
        hip, knee, ankle = (joint_index(f"{side}_{j}") for j in ("hip", "knee", "ankle"))
        total += float(np.linalg.norm(joints[:, hip] - joints[:, knee], axis=-1).mean()
                       + np.linalg.norm(joints[:, knee] - joints[:, ankle], axis=-1).mean())
    return total / 2
