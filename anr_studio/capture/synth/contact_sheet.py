"""Contact sheets: capture frames with the tracked coarse body's outline drawn over them.

It shows at a glance how far the real person (clothes, hair) reaches beyond the coarse mesh
and how well the tracking fits. Works for any capture (synthetic or imported); the GUI shows
the same image.
"""

from __future__ import annotations

import os

import cv2
import numpy as np
import torch

from anr_studio.errors import AnrError

OUTLINE_RGB = (255, 230, 0)
TRUE_OUTLINE_RGB = (0, 200, 255)


def coarse_masks(capture, indices, body=None, truth: bool = False) -> np.ndarray:
    """Returns the rasterized coarse-body masks (n, H, W) bool of frames ``indices`` (n,) of ``capture``.

    The body is posed with the capture's stored (tracked) parameters, or with the noise-free
    ``truth/`` ones of a synthetic capture when ``truth``, and seen by each frame's camera.
    """
    from anr_studio.body import BodyModel
    from anr_studio.render import PerspectiveCamera, rasterize

    body = body if body is not None else BodyModel.default()
    idx = [int(i) for i in indices]
    if not idx:
        return np.zeros((0, *capture.image_size), bool)
    betas = torch.as_tensor(capture.betas, dtype=torch.float32)[None, : body.num_betas].expand(len(idx), -1)
    if truth:
        if capture.truth("pose") is None or capture.truth("transl") is None:
            raise AnrError(f"{capture.path}: truth/pose or truth/transl is missing, expected a synthetic capture")
        pose = torch.as_tensor(capture.truth("pose")[idx], dtype=torch.float32)
        transl = torch.as_tensor(capture.truth("transl")[idx], dtype=torch.float32)
    else:
        pose = torch.as_tensor(np.stack([capture.pose(i) for i in idx]), dtype=torch.float32)
        transl = torch.as_tensor(np.stack([capture.transl(i) for i in idx]), dtype=torch.float32)
    K, R, t = (torch.as_tensor(np.stack(a)) for a in zip(*(capture.camera(i) for i in idx)))
    with torch.no_grad():
        verts = body(pose, betas, transl).vertices
        frags = rasterize(verts, body.faces, PerspectiveCamera(K, R, t), capture.image_size)
    return frags.mask.numpy()


def outside_share(capture, indices=None, body=None, truth: bool = False) -> float:
    """Returns the share of the true soft masks' mass (frames ``indices``, default all) outside the coarse body.

    With ``truth`` the coarse body is posed exactly (what remains is clothes and hair);
    otherwise with the tracked parameters, as training sees it. Needs masks.
    """
    if not capture.has_masks:
        raise AnrError(f"{capture.path}: masks are missing, expected a capture with masks (run `anr-studio masks`)")
    idx = list(range(len(capture))) if indices is None else [int(i) for i in indices]
    inside = outside = 0.0
    for start in range(0, len(idx), 16):
        chunk = idx[start:start + 16]
        coarse = coarse_masks(capture, chunk, body, truth)
        true = np.stack([capture.mask(i) for i in chunk]).astype(np.float64) / 255.0
        outside += float((true * ~coarse).sum())
        inside += float((true * coarse).sum())
    return outside / max(inside + outside, 1e-12)


def contact_sheet(capture, indices=None, count: int = 8, columns: int = 4, body=None, tile: int = 256,
                  true_outline: bool = False) -> np.ndarray:
    """Returns a contact sheet (rows*tile', columns*tile'', 3) uint8 RGB of ``count`` frames of ``capture``.

    ``capture``: a Capture or a path. ``indices``: frames to show (default ``count`` evenly
    spaced frames). Each tile is the frame scaled to ``tile`` pixels high with the coarse body's
    outline (yellow) and, if ``true_outline`` and the capture has masks, the mask's outline
    (cyan); the label says the frame index and whether it is a test frame or a keyframe.
    """
    from anr_studio.capture import Capture

    if isinstance(capture, (str, os.PathLike)):
        capture = Capture(capture)
    n = len(capture)
    if indices is None:
        indices = np.unique(np.linspace(0, n - 1, min(count, n)).round().astype(int))
    indices = [int(i) for i in indices]
    masks = coarse_masks(capture, indices, body)
    h, w = capture.image_size
    scale = tile / h
    tw = max(1, round(w * scale))
    test = set(int(i) for i in capture.split("test"))
    keys = set(int(i) for i in capture.keyframes) if capture.keyframes is not None else set()
    tiles = []
    for i, mask in zip(indices, masks):
        img = cv2.resize(capture.frame(i), (tw, tile), interpolation=cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA)
        if true_outline and capture.has_masks:
            true = cv2.resize(capture.mask(i), (tw, tile), interpolation=cv2.INTER_LINEAR) > 127
            contours, _ = cv2.findContours(true.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
            cv2.drawContours(img, contours, -1, TRUE_OUTLINE_RGB, 1, cv2.LINE_AA)
        big = cv2.resize(mask.astype(np.uint8), (tw, tile), interpolation=cv2.INTER_NEAREST)
        contours, _ = cv2.findContours(big, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(img, contours, -1, OUTLINE_RGB, max(1, tile // 200), cv2.LINE_AA)
        label = f"#{i}" + (" test" if i in test else "") + (" key" if i in keys else "")
        cv2.putText(img, label, (5, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(img, label, (5, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
        tiles.append(img)
    columns = max(1, min(columns, len(tiles)))
    rows = -(-len(tiles) // columns)
    sheet = np.full((rows * tile, columns * tw, 3), 32, np.uint8)
    for k, img in enumerate(tiles):
        r, c = divmod(k, columns)
        sheet[r * tile:(r + 1) * tile, c * tw:(c + 1) * tw] = img
    return sheet
