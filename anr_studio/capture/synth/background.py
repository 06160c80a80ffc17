"""Procedural background plates: a room with a patterned wall, a planked floor and furniture."""

from __future__ import annotations

import cv2
import numpy as np


def background_plate(seed: int, height: int, width: int) -> np.ndarray:
    """Returns a (height, width, 3) uint8 RGB room plate per ``seed``, with texture at several scales."""
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0xB6]))
    h, w = int(height), int(width)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    horizon = int(h * rng.uniform(0.55, 0.7))

    wall = rng.uniform(0.45, 0.85, 3).astype(np.float32)
    wall2 = np.clip(wall * rng.uniform(0.75, 0.9), 0, 1)
    img = np.empty((h, w, 3), np.float32)
    period = w / rng.uniform(10, 22)
    if rng.uniform() < 0.5:
        on = np.sin(xx * 2 * np.pi / period) > 0.2
    else:  # diamonds
        on = (np.abs(np.mod(xx / period, 1) - 0.5) + np.abs(np.mod(yy / period, 1) - 0.5)) < 0.3
    img[:] = wall
    img[on] = wall2
    # Light falls off towards the top corners.
    shade = 1.0 - 0.25 * ((xx / w - 0.5) ** 2 + (yy / h) ** 2 * 0.5)
    img *= shade[..., None]

    floor = rng.uniform(0.25, 0.6, 3).astype(np.float32) * np.float32([1.0, 0.8, 0.6])
    fy = yy[horizon:] - horizon + 1.0
    depth = (h - horizon) / fy  # 1 at the bottom edge, growing towards the horizon
    plank = np.floor((xx[horizon:] - w / 2) / (w / 8) * (1.0 / depth) * 2.0)
    grain = 0.9 + 0.1 * np.sin(plank * 12.9898 + 3.0) * np.sin(fy * 0.7 / depth * 3.0)
    img[horizon:] = floor * grain[..., None]
    img[horizon:horizon + max(1, h // 100)] = floor * 0.5  # skirting board shadow

    # Furniture: a picture frame and a cabinet.
    for _ in range(2):
        x0 = int(rng.uniform(0.02, 0.8) * w)
        bw = int(rng.uniform(0.08, 0.18) * w)
        y0 = int(rng.uniform(0.1, 0.35) * h)
        bh = int(rng.uniform(0.1, 0.2) * h)
        colour = tuple(float(c) for c in rng.uniform(0.1, 0.9, 3))
        cv2.rectangle(img, (x0, y0), (x0 + bw, y0 + bh), (0.15, 0.1, 0.05), max(2, w // 100))
        inner = img[y0 + 3:y0 + bh - 3, x0 + 3:x0 + bw - 3]
        if inner.size:
            inner[:] = colour
            hills = (np.sin(np.arange(inner.shape[1]) / max(inner.shape[1], 1) * 6.0) * 0.2 + 0.6) * inner.shape[0]
            below = np.arange(inner.shape[0])[:, None] > hills[None, :]
            inner[below] = np.float32(colour) * 0.5
    cx = int(rng.uniform(0.0, 0.85) * w)
    cw = int(rng.uniform(0.12, 0.25) * w)
    ctop = horizon - int(rng.uniform(0.12, 0.25) * h)
    cab = rng.uniform(0.2, 0.6, 3)
    cv2.rectangle(img, (cx, ctop), (cx + cw, horizon + h // 40), tuple(float(c) for c in cab), -1)
    cv2.line(img, (cx + cw // 2, ctop), (cx + cw // 2, horizon + h // 40), tuple(float(c) * 0.5 for c in cab), max(1, w // 200))
    for kx in (cx + cw // 2 - max(2, w // 60), cx + cw // 2 + max(2, w // 60)):
        cv2.circle(img, (kx, (ctop + horizon) // 2), max(1, w // 150), (0.9, 0.85, 0.5), -1, cv2.LINE_AA)

    noise = rng.normal(0, 0.015, (h, w, 1)).astype(np.float32)
    return np.clip((img + noise) * 255.0 + 0.5, 0, 255).astype(np.uint8)
