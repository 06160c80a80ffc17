"""Tracking noise (slow drift plus frame-to-frame jitter, per joint, as a real tracker errs) and motion retiming."""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation, Slerp

# Share of the noise variance that is slow drift (the rest is white jitter) and the drift's
# correlation time in frames.
DRIFT_SHARE = 0.7
DRIFT_FRAMES = 12.0
# Translation noise per degree of rotation noise when none is given (metres / degree).
TRANSL_PER_DEGREE = 0.004


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
