"""generate_capture: a synthetic capture whose person is NOT the coarse body it stores: the dressed true
person rendered over a plate, stored with its soft mask and the TRACKED coarse-body parameters (truth +
tracking noise: slow drift plus frame-to-frame jitter, per joint, as a real tracker errs; the truth under
``truth/``)."""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from scipy.spatial.transform import Rotation, Slerp

from anr_studio.capture.store import CaptureWriter
from anr_studio.capture.synth.appearance import Identity
from anr_studio.capture.synth.background import background_plate
from anr_studio.capture.synth.person import TruePerson
from anr_studio.capture.synth.shading import composite, render_people
from anr_studio.errors import AnrError
from anr_studio.fileio import shipped_path
from anr_studio.render import PerspectiveCamera, orbit_camera

FINE_BODY_PATH = shipped_path("resources", "body", "anr_body_fine.safetensors")
# Share of the frames held out for testing, as one contiguous block at the end of the motion.
TEST_SHARE = 0.15
FOV_DEG = 40.0
# Largest share of the frame the person's motion box may take, so there is room to sit off-centre.
FILL = 0.9
# Frames of one view rendered per rasterizer call.
BATCH = 8
# Share of the noise variance that is slow drift (the rest is white jitter) and the drift's
# correlation time in frames.
DRIFT_SHARE = 0.7
DRIFT_FRAMES = 12.0
# Translation noise per degree of rotation noise when none is given (metres / degree).
TRANSL_PER_DEGREE = 0.004


@dataclass
class SynthConfig:
    """Everything that defines a synthetic capture (stored in the file's attrs as synth_config)."""

    seed: int = 0
    frames: int = 120
    size: int = 256
    motion: str = "walk"
    tracking_noise: float = 3.0  # RMS per-joint rotation noise, degrees
    transl_noise: float | None = None  # RMS translation noise, metres (None: 4 mm per degree)
    views: int = 1
    sensor_noise: float = 1.5  # pixel noise std, 0..255 levels


def load_bodies(fine_path: str | os.PathLike | None):
    from anr_studio.body import BodyModel

    path = Path(fine_path) if fine_path is not None else FINE_BODY_PATH
    if fine_path is not None and not path.is_file():
        raise AnrError(f"--fine-body {path}: file not found, expected a body file (.safetensors) for the synthetic person")
    if not path.is_file():
        raise AnrError(f"{path}: the fine body for synthetic people is missing, expected the file written by "
                       "`python -m scripts.build_body.build`")
    return BodyModel.default(), BodyModel.load(path)


def synthetic_person(coarse, fine, seed: int) -> tuple[TruePerson, torch.Tensor]:
    """Returns the dressed person of identity ``seed`` on the ``fine`` body and its ``coarse`` betas (K,)."""
    ident = Identity.from_seed(seed)
    ranges = zip(coarse.phenotype["names"], coarse.phenotype_table("ranges"))  # identity phenotypes: shares of a range
    values = {name: float(lo) + ident.phenotype[name] * (float(hi) - float(lo)) for name, (lo, hi) in ranges
              if name in ident.phenotype}
    with torch.no_grad():
        betas = coarse.phenotype_to_betas(values).float()
    return TruePerson(fine, ident, betas), betas


def _yaw(poses: np.ndarray, transl: np.ndarray, pelvis: np.ndarray, degrees: float) -> tuple[np.ndarray, np.ndarray]:
    """Returns the motion turned by ``degrees`` about the vertical axis through the world origin."""
    rot = Rotation.from_euler("y", degrees, degrees=True)
    poses = poses.copy()
    poses[:, 0] = (rot * Rotation.from_rotvec(poses[:, 0])).as_rotvec()
    # The root rotates about the rest pelvis joint: keep the pelvis path turning with it.
    transl = rot.apply(transl + pelvis) - pelvis
    return poses.astype(np.float32), transl.astype(np.float32)


def _sampled_vertices(coarse, betas, poses, transl, count: int) -> torch.Tensor:
    """Returns the coarse body's vertices (s,V,3) at up to ``count`` frames spread evenly over the motion."""
    n = len(poses)
    sample = np.unique(np.linspace(0, n - 1, min(n, count)).round().astype(int))
    with torch.no_grad():
        return coarse(torch.as_tensor(poses[sample]), betas[None].expand(len(sample), -1), torch.as_tensor(transl[sample])).vertices


def place(coarse, betas, poses, transl, rng) -> np.ndarray:
    """Returns transl (N,3) with the feet on y = 0, centred at the origin, plus a slow wander."""
    n = len(poses)
    v = _sampled_vertices(coarse, betas, poses, transl, 24)
    floor = float(np.median(v[..., 1].amin(1).numpy()))
    centre = v.mean(1).mean(0).numpy()
    t = np.linspace(0.0, 1.0, n)[:, None]
    # The person moves around the frame even for clips that stay in place (turn, arms).
    # A clip that already travels (walk) needs less wander to keep the person moving in frame.
    travel = float(np.ptp(transl[:, [0, 2]], axis=0).max())
    damp = float(np.clip(1.0 - travel / 1.5, 0.3, 1.0))
    amp = rng.uniform(0.2, 0.35) * damp, rng.uniform(0.1, 0.25) * damp
    phase = rng.uniform(0, 2 * np.pi, 2)
    wander = np.concatenate([amp[0] * np.sin(2 * np.pi * t + phase[0]), np.zeros_like(t),
                             amp[1] * np.sin(2 * np.pi * 1.5 * t + phase[1])], 1)
    return (transl - np.float32([centre[0], floor, centre[2]]) + wander).astype(np.float32)


def _fit_cameras(coarse, betas, poses, transl, views: int, size: int, rng) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Returns one (K (3,3), R (3,3), t (3,)) per view that keeps the whole motion in frame, off-centre."""
    pts = _sampled_vertices(coarse, betas, poses, transl, 32).reshape(1, -1, 3)
    lo, hi = pts[0].amin(0), pts[0].amax(0)
    target = ((lo + hi) / 2).tolist()
    az0, elev = rng.uniform(-25, 25), rng.uniform(3, 12)
    side = rng.choice([-1.0, 1.0])
    cams = []
    for k in range(views):
        az = az0 + 360.0 * k / views
        dist = 4.0
        for _ in range(4):  # perspective makes the box size only nearly proportional to 1/distance
            cam = orbit_camera(az, elev, dist, target, (size, size), FOV_DEG)
            px, _ = cam.project(pts)
            ext = (px[0].amax(0) - px[0].amin(0)) / size
            dist *= float(ext.max()) * 1.08 / FILL  # clothes reach ~4% beyond the coarse body
        cam = orbit_camera(az, elev, dist, target, (size, size), FOV_DEG)
        px, _ = cam.project(pts)
        box_lo, box_hi = px[0].amin(0).numpy(), px[0].amax(0).numpy()
        K = cam.K[0].numpy().copy()
        # Shift the principal point so the motion's box sits towards one side (and is centred
        # vertically): the person is never in the middle of the frame all the time.
        room = size * 0.96 - (box_hi[0] - box_lo[0])
        want_x = size / 2 + side * max(room, 0) * rng.uniform(0.2, 0.35)
        K[0, 2] += want_x - (box_lo[0] + box_hi[0]) / 2
        K[1, 2] += size / 2 - (box_lo[1] + box_hi[1]) / 2
        cams.append((K.astype(np.float32), cam.R[0].numpy().astype(np.float32), cam.t[0].numpy().astype(np.float32)))
    return cams


def _correlated(rng: np.random.Generator, shape: tuple[int, ...], frames: float) -> np.ndarray:
    """Returns unit-variance Gaussian noise (N, ...) smoothed along axis 0 over about ``frames`` frames."""
    n = shape[0]
    white = rng.normal(size=(n + int(4 * frames),) + shape[1:])
    kernel = np.exp(-0.5 * (np.arange(-int(2 * frames), int(2 * frames) + 1) / (frames / 2)) ** 2)
    kernel /= np.sqrt(np.sum(kernel**2))  # keeps unit variance after the convolution
    smooth = np.apply_along_axis(lambda s: np.convolve(s, kernel, mode="valid"), 0, white)
    return smooth[:n]


def tracker_noise(rng: np.random.Generator, shape: tuple[int, ...], rms: float) -> np.ndarray:
    """Returns noise of ``shape`` (n, ..., 3) whose 3-vectors have RMS length ``rms`` (radians of axis-angle rotation,
    or metres): slow drift plus jitter."""
    if rms <= 0:
        return np.zeros(shape)
    drift = _correlated(rng, shape, DRIFT_FRAMES)
    jitter = rng.normal(size=shape)
    return rms / np.sqrt(3.0) * (np.sqrt(DRIFT_SHARE) * drift + np.sqrt(1 - DRIFT_SHARE) * jitter)


def compose(noise: np.ndarray, pose: np.ndarray) -> np.ndarray:
    """Returns axis-angle poses (..., 3) whose rotations are ``exp(noise) @ exp(pose)``."""
    shape = pose.shape
    out = Rotation.from_rotvec(noise.reshape(-1, 3)) * Rotation.from_rotvec(pose.reshape(-1, 3))
    return out.as_rotvec().reshape(shape).astype(np.float32)


def retime(poses: np.ndarray, transl: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Returns (poses (n,24,3), transl (n,3), speed) covering a motion of M frames with n frames: the first n
    (speed 1), or for n > M the whole clip slowed down, so no pose repeats (held-out frames stay unseen)."""
    m = poses.shape[0]
    if n <= m:
        return poses[:n].astype(np.float32), transl[:n].astype(np.float32), 1.0
    times = np.linspace(0, m - 1, n)
    out = np.empty((n,) + poses.shape[1:], np.float32)
    for j in range(poses.shape[1]):
        out[:, j] = Slerp(np.arange(m), Rotation.from_rotvec(poses[:, j]))(times).as_rotvec()
    tr = np.stack([np.interp(times, np.arange(m), transl[:, k]) for k in range(3)], 1).astype(np.float32)
    return out, tr, (m - 1) / (n - 1)


def generate_capture(out: str | os.PathLike, config: SynthConfig | None = None, *,
                     fine_body_path: str | os.PathLike | None = None,
                     progress: Callable[[int, int], None] | None = None) -> dict:
    """Writes a synthetic capture to ``out`` (nothing on failure); returns a summary (identity, timings, split sizes)."""
    from anr_studio.motion import load_motion

    cfg = config or SynthConfig()
    if cfg.frames < 2:
        raise AnrError(f"synth: frames is {cfg.frames}, expected at least 2 (a train and a test frame)")
    if not 16 <= cfg.size <= 4096:
        raise AnrError(f"synth: size is {cfg.size}, expected an image size from 16 to 4096 pixels")
    if cfg.views < 1:
        raise AnrError(f"synth: views is {cfg.views}, expected at least 1 camera")
    if cfg.tracking_noise < 0 or (cfg.transl_noise is not None and cfg.transl_noise < 0):
        raise AnrError("synth: tracking noise is negative, expected degrees (and metres) >= 0")
    t0 = time.perf_counter()
    rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, 0xCA9]))
    coarse, fine = load_bodies(fine_body_path)
    person, betas = synthetic_person(coarse, fine, cfg.seed)
    ident = person.identity

    clip = load_motion(cfg.motion)
    poses, transl, speed = retime(np.asarray(clip.poses, np.float32), np.asarray(clip.transl, np.float32), cfg.frames)
    pelvis = coarse.rest_joints(betas[None])[0, 0].numpy()
    poses, transl = _yaw(poses, transl, pelvis, rng.uniform(-35, 35))
    transl = place(coarse, betas, poses, transl, rng)
    cams = _fit_cameras(coarse, betas, poses, transl, cfg.views, cfg.size, rng)

    n = cfg.frames
    transl_sigma = TRANSL_PER_DEGREE * cfg.tracking_noise if cfg.transl_noise is None else cfg.transl_noise
    tracked_pose = compose(tracker_noise(rng, (n, 24, 3), np.deg2rad(cfg.tracking_noise)), poses)
    tracked_transl = (transl + tracker_noise(rng, (n, 3), transl_sigma)).astype(np.float32)
    n_test = max(1, int(round(TEST_SHARE * n)))
    test = np.arange(n - n_test, n)
    train = np.arange(0, n - n_test)
    plate = background_plate(cfg.seed, cfg.size, cfg.size)
    fps = float(clip.fps) * speed

    attrs = {"synth_config": asdict(cfg), "synth_identity": {
        "top": ident.top, "bottoms": ident.bottoms, "hair": ident.hair_style, "logo": ident.logo_text,
        "phenotype": ident.phenotype}, "synth_motion": clip.name,
        "transl_noise_m": float(transl_sigma)}
    t_setup = time.perf_counter() - t0
    # Frames of one view are rendered together (they share culling); the writer gets them in order.
    chunk = BATCH * cfg.views
    with CaptureWriter(out, f"synth-{cfg.seed}", cfg.size, cfg.size, fps, betas=betas.numpy(), background=plate,
                       attrs=attrs) as writer:
        for start in range(0, n, chunk):
            stop = min(n, start + chunk)
            with torch.no_grad():
                verts = person.pose(torch.as_tensor(poses[start:stop]), torch.as_tensor(transl[start:stop]))
            rendered: dict[int, tuple[np.ndarray, np.ndarray]] = {}
            for view in range(cfg.views):
                idx = [i for i in range(start, stop) if i % cfg.views == view]
                if not idx:
                    continue
                colours, alphas = render_people(person, verts[[i - start for i in idx]], PerspectiveCamera(*cams[view]),
                                                (cfg.size, cfg.size))
                rendered.update({i: (colours[k], alphas[k]) for k, i in enumerate(idx)})
            for i in range(start, stop):
                colour, alpha = rendered.pop(i)
                frame = composite(colour, alpha, plate, rng, cfg.sensor_noise)
                writer.append(frame, (alpha * 255.0 + 0.5).astype(np.uint8), pose=tracked_pose[i],
                              transl=tracked_transl[i], camera=cams[i % cfg.views])
                if progress is not None:
                    progress(i + 1, n)
        writer.set_split(train, test)
        writer.set_truth(pose=poses, transl=transl, betas=betas.numpy())
    total = time.perf_counter() - t0
    return {"identity": f"synth-{cfg.seed}", "frames": n, "train": len(train), "test": len(test),
            "setup_s": round(t_setup, 2), "total_s": round(total, 2),
            "per_frame_ms": round(1000 * (total - t_setup) / n, 1), "person": asdict(cfg) | attrs["synth_identity"]}
