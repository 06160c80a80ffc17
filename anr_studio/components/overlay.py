"""Image overlays for checking captures: the coarse body's outline drawn over a frame."""

from __future__ import annotations

import numpy as np

from anr_studio.components.protocols import StudioBody
from anr_studio.components.scene import pose_body


def project(points: np.ndarray, K: np.ndarray, R: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Returns (pixels (N,2), depth (N,)) of world points (N,3) under an OpenCV camera K (3,3), R (3,3), t (3,)."""
    cam = points @ np.asarray(R, np.float64).T + np.asarray(t, np.float64).reshape(1, 3)
    z = cam[:, 2]
    pix = cam @ np.asarray(K, np.float64).T
    return pix[:, :2] / np.maximum(z[:, None], 1e-6), z


def silhouette(vertices: np.ndarray, faces: np.ndarray, K, R, t, size: tuple[int, int]) -> np.ndarray:
    """Returns the (H,W) uint8 silhouette (255 inside) of a mesh vertices (V,3), faces (F,3) seen by the camera."""
    import cv2

    pix, z = project(vertices, K, R, t)
    tri = pix[np.asarray(faces)]
    keep = (z[np.asarray(faces)] > 1e-3).all(1)
    out = np.zeros(size, np.uint8)
    pts = np.round(tri[keep] * 16).astype(np.int32)  # 4 fractional bits
    cv2.fillPoly(out, list(pts), 255, lineType=cv2.LINE_8, shift=4)
    return out


def outline_overlay(frame: np.ndarray, body: StudioBody, pose, betas, transl, K, R, t, color=(0, 255, 80), mask: np.ndarray | None = None) -> np.ndarray:
    """Returns ``frame`` (H,W,3) uint8 with the posed coarse body's outline drawn on it (and ``mask`` (H,W) tinted)."""
    import cv2

    img = np.ascontiguousarray(frame.copy())
    h, w = img.shape[:2]
    if mask is not None:
        m = (np.asarray(mask, np.float32) / 255.0)[..., None]
        img = (img * (0.55 + 0.45 * m) + np.array([60, 0, 90]) * (1 - m) * 0.45).clip(0, 255).astype(np.uint8)
    verts, _ = pose_body(body, pose, betas, transl)
    sil = silhouette(verts, body.faces.cpu().numpy(), K, R, t, (h, w))
    contours, _ = cv2.findContours(sil, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(img, contours, -1, color, 1 if max(h, w) <= 512 else 2, lineType=cv2.LINE_AA)
    return img


def alignment_overlay(capture, body: StudioBody, index: int, report=None) -> np.ndarray:
    """Returns frame ``index`` (H,W,3) uint8 of ``capture`` with the alignment check's drawing: the coarse body's
    outline (yellow) and skeleton (red), the mask's outline (cyan) and, with ``report``, the frame's IoU."""
    from anr_studio.capture.check import overlay_frames

    return next(overlay_frames(capture, body, [int(index)], report))
