"""Synthetic clips with known truth for the video fit: a built-in motion seen by a hand-held camera.

``synthetic_clip`` gives the body's keypoints projected by a camera that wobbles like a phone in a
hand, with pixel noise, low confidences and dropped keypoints; ``render_video`` renders the
synthetic capture's dressed person (clothes, hair, skin) over a room plate seen by such a camera,
so there is no clean plate and the background moves. Used by the tests and the fit and video
import benchmarks.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from anr_studio.capture.video_fit.bodyfit import body_keypoints, standing_height
from anr_studio.capture.video_fit.landmarks import LAYOUTS, landmark_map
from anr_studio.errors import AnrError


@dataclass
class KeypointClip:
    """A synthetic clip: keypoints (N,L,2) px, confidence (N,L), keypoints3d (N,L,3) root-relative
    camera-axes metres, image_size (H,W), focal px, truth joints in each frame's camera (N,24,3),
    the person's betas (K,)."""

    keypoints: np.ndarray
    confidence: np.ndarray
    keypoints3d: np.ndarray
    image_size: tuple[int, int]
    focal: float
    joints_camera: np.ndarray
    layout: str
    betas: np.ndarray


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
                   seed: int = 0, body=None, body_height: float | None = None) -> KeypointClip:
    """Returns a KeypointClip of ``motion``'s first ``frames`` frames seen by a hand-held camera.

    ``body_height``: the person's standing height in metres (default: that of a random shape).
    """
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
    if body_height is not None:  # the smallest change of the betas that gives this height
        height_of = standing_height(body, len(betas))
        per_beta = torch.stack([height_of(torch.eye(len(betas))[k]) - height_of(torch.zeros(len(betas)))
                                for k in range(len(betas))])
        betas = betas + per_beta * (body_height - height_of(betas)) / (per_beta @ per_beta)
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
    return KeypointClip(kp, conf, kp3, (h, w), focal, joints_cam, layout, betas.numpy().copy())


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


@dataclass
class VideoTruth:
    """The truth of a rendered video: joints_camera (N,24,3) metres in each frame's camera, masks (N,H,W)
    uint8 0..255 of the person, focal px, image_size (H,W), the person's standing height in metres."""

    joints_camera: np.ndarray
    masks: np.ndarray
    focal: float
    image_size: tuple[int, int]
    height: float


def render_video(out: str | os.PathLike, frames: int = 60, *, image_size=(720, 1280), seed: int = 0,
                 motion: str = "walk", focal: float = 1100.0, people: int = 1, walk_off: bool = False,
                 wobble_m: float = 0.03, wobble_deg: float = 1.5, supersample: int = 1) -> VideoTruth:
    """Writes an .mp4 of the synthetic person to ``out``; returns the VideoTruth of its first person.

    ``people`` > 1 adds copies of the person (other identities) beside the first; ``walk_off`` makes
    the camera turn away so the person leaves the frame in the last third of the clip.
    """
    from anr_studio.body.lbs import axis_angle_to_matrix
    from anr_studio.capture.synth.background import background_plate
    from anr_studio.capture.synth.generate import load_bodies, place, retime, synthetic_person
    from anr_studio.capture.synth.shading import render_people
    from anr_studio.motion import load_motion
    from anr_studio.render import PerspectiveCamera

    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x71D]))
    coarse, fine = load_bodies(None)
    clip = load_motion(motion)
    poses, transl, _ = retime(np.asarray(clip.poses, np.float32), np.asarray(clip.transl, np.float32), frames)
    h, w = image_size
    n = frames
    persons, truth_joints, height = [], None, 0.0
    for k in range(people):
        person, betas = synthetic_person(coarse, fine, seed + 17 * k)
        t_k = place(coarse, betas, poses, transl, rng) + np.float32([1.1 * k, 0.0, -0.4 * k])
        persons.append((person, torch.as_tensor(t_k)))
        if k == 0:
            height = float(standing_height(coarse, len(betas))(betas))
            with torch.no_grad():
                truth_joints = coarse(torch.as_tensor(poses), betas[None].expand(n, -1), torch.as_tensor(t_k)).joints.numpy()
    centre = truth_joints[:, 0].mean(0)
    eye = centre + np.array([1.6, 0.3, 3.6])
    # The person's whole path fits the frame: back off until the pelvis path and 1 m around it do.
    wobble_t = _wobble(n, rng, wobble_m)
    wobble_r = _wobble(n, rng, np.deg2rad(wobble_deg))
    if walk_off:
        wobble_r[:, 1] += np.clip((np.arange(n) - 2 * n / 3) / (n / 6), 0, 1) * np.deg2rad(40.0)
    margin = int(focal * np.deg2rad(wobble_deg) * 4 + focal * 0.05) + 8
    extra = int(focal * 0.8) if walk_off else 0  # room on the left for the camera's turn
    plate = background_plate(seed, h + 2 * margin, w + 2 * margin + extra)
    K = np.float32([[focal, 0, w / 2], [0, focal, h / 2], [0, 0, 1]])
    Rs = np.zeros((n, 3, 3), np.float32)
    ts = np.zeros((n, 3), np.float32)
    base = look_at(eye, centre)
    for i in range(n):
        R = axis_angle_to_matrix(torch.as_tensor(wobble_r[i], dtype=torch.float32)[None])[0].numpy() @ base
        Rs[i], ts[i] = R, -R @ (eye + wobble_t[i])
    joints_camera = np.einsum("nij,nkj->nki", Rs, truth_joints) + ts[:, None]
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), float(clip.fps), (w, h))
    if not writer.isOpened():
        raise AnrError(f"{out}: cannot be written as an .mp4 video, expected a writable path")
    masks = np.zeros((n, h, w), np.uint8)
    batch = 4
    try:
        for start in range(0, n, batch):
            idx = list(range(start, min(n, start + batch)))
            cam = PerspectiveCamera(np.repeat(K[None], len(idx), 0), Rs[idx], ts[idx])
            colour = np.zeros((len(idx), h, w, 3), np.float32)
            alpha = np.zeros((len(idx), h, w), np.float32)
            depth_order = sorted(range(people), key=lambda k: -float(persons[k][1][0, 2]))
            for k in depth_order:  # far to near: a nearer person covers a farther one
                person, t_k = persons[k]
                with torch.no_grad():
                    verts = person.pose(torch.as_tensor(poses[idx]), t_k[idx])
                c, a = render_people(person, verts, cam, (h, w), supersample)
                colour = c + colour * (1 - a[..., None])
                alpha_k = a
                alpha = alpha_k + alpha * (1 - alpha_k)
                if k == 0:
                    first = a
            for j, i in enumerate(idx):
                # A turn of the camera by r (about its y, x axes) slides the picture by (f r_y, -f r_x):
                # crop the larger plate so that the background slides with the person.
                dx = int(round(margin + extra - focal * wobble_r[i, 1]))
                dy = int(round(margin + focal * wobble_r[i, 0]))
                bg = plate[dy:dy + h, dx:dx + w].astype(np.float32)
                frame = colour[j] * 255.0 + bg * (1.0 - alpha[j, ..., None])
                frame += rng.normal(0.0, 1.5, frame.shape).astype(np.float32)
                frame = np.clip(frame + 0.5, 0, 255).astype(np.uint8)
                writer.write(np.ascontiguousarray(frame[..., ::-1]))
                masks[i] = (first[j] * 255.0 + 0.5).astype(np.uint8)
    finally:
        writer.release()
    return VideoTruth(joints_camera.astype(np.float32), masks, float(focal), (h, w), height)
