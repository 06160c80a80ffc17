"""Contact sheets: capture frames with the tracked coarse body's outline drawn over them (any capture)."""

from __future__ import annotations

import os

import cv2
import numpy as np

from anr_studio.capture.check import OUTLINE_RGB, coarse_masks, draw_label, draw_outline, tile_grid


def contact_sheet(capture, count: int = 8, columns: int = 4, tile: int = 256, body=None) -> np.ndarray:
    """Returns a contact sheet (H, W, 3) uint8 RGB of ``count`` evenly spaced frames of ``capture`` (a Capture or
    a path), ``tile`` pixels high, with the outline (yellow) of the coarse ``body`` (default the capture's own)
    and labels (index, test, keyframe)."""
    from anr_studio.capture import Capture

    if isinstance(capture, (str, os.PathLike)):
        capture = Capture(capture)
    n = len(capture)
    indices = [int(i) for i in np.unique(np.linspace(0, n - 1, min(count, n)).round().astype(int))]
    masks = coarse_masks(capture, indices, body)
    h, w = capture.image_size
    scale = tile / h
    tw = max(1, round(w * scale))
    test = set(int(i) for i in capture.split("test"))
    keys = set(int(i) for i in capture.keyframes) if capture.keyframes is not None else set()
    tiles = []
    for i, mask in zip(indices, masks):
        img = cv2.resize(capture.frame(i), (tw, tile), interpolation=cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA)

        big = cv2.resize(mask.astype(np.uint8), (tw, tile), interpolation=cv2.INTER_NEAREST)
        draw_outline(img, big, OUTLINE_RGB, max(1, tile // 200))
        draw_label(img, f"#{i}" + (" test" if i in test else "") + (" key" if i in keys else ""), 16, 0.45)
        tiles.append(img)
    return tile_grid(tiles, columns)
