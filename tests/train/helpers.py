"""Tiny bodies and captures for training tests: an ellipsoid body, rendered with the real rasterizer."""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path

import numpy as np
import torch

from anr_studio.body import BodyModel
from anr_studio.capture import CaptureWriter
from anr_studio.render import PerspectiveCamera, render_body_maps


def tiny_body(n_lat: int = 8, n_lon: int = 12) -> BodyModel:
    """Returns an ellipsoid BodyModel (~200 faces) with spherical UVs, skinned to the pelvis."""
    verts, uvs = [], []
    for i in range(n_lat + 1):
        theta = math.pi * i / n_lat
        for j in range(n_lon + 1):
            phi = 2 * math.pi * j / n_lon
            verts.append([0.25 * math.sin(theta) * math.sin(phi), 0.9 + 0.7 * math.cos(theta), 0.2 * math.sin(theta) * math.cos(phi)])
            uvs.append([j / n_lon, 1 - i / n_lat])
    faces = []
    for i in range(n_lat):
        for j in range(n_lon):
            a, b = i * (n_lon + 1) + j, i * (n_lon + 1) + j + 1
            c, d = a + n_lon + 1, b + n_lon + 1
            faces += [[a, c, b], [b, c, d]]
    v = torch.tensor(verts, dtype=torch.float32)
    weights = torch.zeros(len(verts), 24)
    weights[:, 0] = 1
    regressor = torch.full((24, len(verts)), 1.0 / len(verts))
    shapedirs = torch.zeros(len(verts), 3, 2)
    shapedirs[:, 1, 0] = v[:, 1] - 0.9  # beta 0 stretches the height
    return BodyModel(v, torch.tensor(faces), weights, regressor, shapedirs=shapedirs, uv=torch.tensor(uvs),
                     model_id="default", source="tiny body")


def camera_for(size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Returns (K, R, t) of a camera 3 m in front of the body (OpenCV, world y up)."""
    h, w = size
    f = 1.6 * h
    K = np.array([[f, 0, w / 2], [0, f, h / 2], [0, 0, 1]], np.float32)
    R = np.diag([1.0, -1.0, -1.0]).astype(np.float32)
    t = np.array([0.0, 0.9, 3.0], np.float32)
    return K, R, t


def write_tiny_capture(path: Path, identity: str, body: BodyModel, n: int = 8, size: tuple[int, int] = (64, 64),
                       seed: int = 0, masks: bool = True, keyframes: bool = True, body_model: str = "default") -> Path:
    """Writes a capture of ``n`` frames: the body turning, coloured by its UVs, over a flat plate."""
    rng = np.random.default_rng(seed)
    K, R, t = camera_for(size)
    pose = np.zeros((n, 24, 3), np.float32)
    pose[:, 0, 1] = np.linspace(-0.6, 0.6, n)  # turn around the vertical axis
    transl = np.zeros((n, 3), np.float32)
    transl[:, 0] = rng.uniform(-0.05, 0.05, n)
    betas = np.array([0.1 * seed, 0.0], np.float32)
    camera = PerspectiveCamera(torch.tensor(K)[None], torch.tensor(R)[None], torch.tensor(t)[None])
    with torch.no_grad():
        verts = body(pose=torch.tensor(pose), betas=torch.tensor(betas)[None], transl=torch.tensor(transl)).vertices
        maps = render_body_maps(body, verts, camera, size)
    tint = np.array([200, 80 + 40 * seed, 60], np.float32)
    background = np.full((*size, 3), 90, np.uint8)
    background[:, : size[1] // 2] = 140
    with CaptureWriter(path, identity, size[0], size[1], fps=10, betas=betas, camera=(K, R, t),
                       background=background, body_model=body_model) as w:
        for i in range(n):
            uv = maps.uv[i].numpy()
            m = maps.mask[i, 0].numpy()
            stripes = (np.sin(uv[..., 0] * 12) * 0.5 + 0.5)[..., None]
            color = tint * (0.5 + 0.5 * stripes)
            frame = (background * (1 - m[..., None]) + color * m[..., None]).astype(np.uint8)
            w.append(frame, mask=(m * 255).astype(np.uint8) if masks else None, pose=pose[i], transl=transl[i])
        w.set_split(np.arange(n - 2), np.arange(n - 2, n))
        if keyframes:
            w.set_keyframes(np.arange(0, n - 2, 2))
    return path


def leave_worker() -> None:
    """Ends a spawned gloo rank with exit status 0 and without interpreter finalization; never returns.

    DDP keeps the gloo process group alive past destroy_process_group, so gloo's worker threads
    outlive the rank's function and may still drop Python objects (a comm hook's callback, a
    tensor) after it returns. A thread that takes the GIL while the interpreter finalizes is ended
    inside a C++ destructor, and the process aborts ("terminate called without an active exception").
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
