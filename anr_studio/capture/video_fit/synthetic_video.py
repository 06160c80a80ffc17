"""Rendered hand-held videos with known truth: the dressed synthetic person seen by a wobbling camera.

Used by the real-model tests and the video import benchmark: the person is the synthetic
capture's dressed fine body (clothes, hair, skin), rendered over a room plate by a phone-like
camera that drifts and turns a little each frame (so there is no clean plate and the background
moves). The truth is each frame's 24 body joints in the camera's axes and the person's mask.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from anr_studio.capture.video_fit.synthetic import _wobble, look_at
from anr_studio.errors import AnrError


@dataclass
class VideoTruth:
    """The truth of a rendered video: joints_camera (N,24,3) metres in each frame's camera, masks (N,H,W)
    uint8 0..255 of the person, focal px, image_size (H,W)."""

    joints_camera: np.ndarray
    masks: np.ndarray
    focal: float
    image_size: tuple[int, int]


def render_video(out: str | os.PathLike, frames: int = 60, *, image_size=(720, 1280), seed: int = 0,
                 motion: str = "walk", focal: float = 1100.0, people: int = 1, walk_off: bool = False,
                 wobble_m: float = 0.03, wobble_deg: float = 1.5, supersample: int = 1) -> VideoTruth:
    """Writes an .mp4 of the synthetic person to ``out``; returns the VideoTruth of its first person.

    ``people`` > 1 adds copies of the person (other identities) beside the first; ``walk_off`` makes
    the camera turn away so the person leaves the frame in the last third of the clip.
    """
    from anr_studio.body.lbs import axis_angle_to_matrix
    from anr_studio.capture.synth.background import background_plate
    from anr_studio.capture.synth.generate import load_bodies, place, synthetic_person
    from anr_studio.capture.synth.noise import retime
    from anr_studio.capture.synth.shading import render_people
    from anr_studio.motion import load_motion
    from anr_studio.render import PerspectiveCamera

    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x71D]))
    coarse, fine = load_bodies(None)
    clip = load_motion(motion)
    poses, transl, _ = retime(np.asarray(clip.poses, np.float32), np.asarray(clip.transl, np.float32), frames)
    h, w = image_size
    n = frames
    persons, truth_joints = [], None
    for k in range(people):
        person, betas = synthetic_person(coarse, fine, seed + 17 * k)
        t_k = place(coarse, betas, poses, transl, rng) + np.float32([1.1 * k, 0.0, -0.4 * k])
        persons.append((person, torch.as_tensor(t_k)))
        if k == 0:
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
    return VideoTruth(joints_camera.astype(np.float32), masks, float(focal), (h, w))
