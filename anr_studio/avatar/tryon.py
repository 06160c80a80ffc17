"""Virtual try-on (paper §5, Fig. 9): UV-space region masks and texture swaps T = M·T_a + (1-M)·T_b. A UV mask is
(S,S) float32 in [0,1] in texture layout (row 0 is v = 1): 1 takes identity A's texel, 0 keeps B's."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from anr_studio.body.skeleton import PART_GROUPS, part_indices
from anr_studio.errors import AnrError
from anr_studio.model.images import composite

# Region presets: the body parts (anr_studio.body.skeleton.BODY_PART_NAMES) each one covers.
# "hair" is the head without the face; bodies without a "face" label (SMPL files) give the whole head.
REGIONS: dict[str, tuple[str, ...]] = {
    "upper": ("torso", "upper_arms"),
    "lower": ("thighs", "shins"),
    "shoes": ("feet",),
    "face": ("face",),
    "hair": ("head",),
    "arms": ("upper_arms", "forearms", "hands"),
}
SUPERSAMPLE = 4
SNAP = 0.5 / 255


def uv_to_pixels(face_uvs: np.ndarray, size: int) -> np.ndarray:
    """Returns (F,3,2) pixel coordinates (x right, y down) of UVs (u, v up) in a (size,size) image."""
    px = np.empty_like(face_uvs, dtype=np.float64)
    px[..., 0] = face_uvs[..., 0] * size
    px[..., 1] = (1.0 - face_uvs[..., 1]) * size
    return px


def rasterize_uv_faces(face_uvs: np.ndarray, size: int, feather: float = 1.0) -> np.ndarray:
    """Returns a (size,size) float32 mask in [0,1] covering the UV triangles ``face_uvs`` (F,3,2), filled one by one
    (UV layouts may overlap) at ``SUPERSAMPLE``x and averaged down; ``feather`` > 0 blurs by that many texels."""
    import cv2

    big = size * SUPERSAMPLE
    canvas = np.zeros((big, big), np.uint8)
    # fillConvexPoly takes fixed-point coordinates: 4 fractional bits keep sub-pixel accuracy.
    pts = np.round(uv_to_pixels(np.asarray(face_uvs, np.float64), big) * 16).astype(np.int32)
    for tri in pts:
        cv2.fillConvexPoly(canvas, tri, 255, lineType=cv2.LINE_8, shift=4)
    mask = cv2.resize(canvas.astype(np.float32) / 255.0, (size, size), interpolation=cv2.INTER_AREA)
    if feather > 0:
        mask = cv2.GaussianBlur(mask, (0, 0), sigmaX=float(feather), borderType=cv2.BORDER_REPLICATE)
    # Snap the blur's far tails (below half an 8-bit step), so texels away from the edge take A or
    # keep B exactly, and the mask saved as an 8-bit PNG is the mask that was applied.
    mask[mask > 1 - SNAP] = 1.0
    mask[mask < SNAP] = 0.0
    return np.clip(mask, 0.0, 1.0).astype(np.float32)


def region_faces(body, region: str) -> np.ndarray:
    """Returns the (F,) bool selection of ``body``'s faces that belong to ``region`` (a REGIONS name)."""
    if region not in REGIONS:
        raise AnrError(f"--region {region}: unknown region, expected one of {', '.join(REGIONS)}")
    names = list(body.part_names)
    parts = body.face_parts.detach().cpu().numpy()
    # Parts this body does not label are left out (an SMPL file's body has no "face").
    wanted = part_indices(names, [p for p in REGIONS[region] if p in names or p in PART_GROUPS])
    selected = np.isin(parts, wanted)
    if region == "hair" and "face" in names:
        selected &= parts != names.index("face")
    if not selected.any():
        used = sorted({names[i] for i in np.unique(parts)}) if names else []
        raise AnrError(f"--region {region}: the body model labels no faces as {', '.join(REGIONS[region])} "
                       f"(its parts: {', '.join(used) or 'none'}), expected a body with those part labels; paint a mask instead")
    return selected


def region_mask(body, region: str, size: int, feather: float = 1.0) -> np.ndarray:
    """Returns the (size,size) float32 UV mask in [0,1] of preset ``region`` on ``body`` (soft edges)."""
    faces = region_faces(body, region)
    return rasterize_uv_faces(body.face_uvs.detach().cpu().numpy()[faces], size, feather)


# A painted mask is resampled to the texture's size; beyond this it is not a mask anyone painted.
MAX_MASK_SIDE = 8192


def load_mask(path: str | os.PathLike, size: int, warn: Callable[[str], None] | None = None) -> np.ndarray:
    """Returns the painted UV mask in ``path`` (a grey, RGB or RGBA PNG in texture layout; 255 takes identity A) as
    (size,size) float32 in [0,1]; another size is resampled (``warn`` is told)."""
    import cv2

    p = Path(path)
    if not p.is_file():
        raise AnrError(f"{p}: mask file not found, expected a PNG in the neural texture's UV layout")
    from PIL import Image, UnidentifiedImageError

    try:  # the header alone: a forged size must not make the decoder allocate gigabytes
        with Image.open(p) as header:
            w, h = header.size
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise AnrError(f"{p}: cannot be read as an image, expected a PNG mask") from None
    if max(w, h) > MAX_MASK_SIDE:
        raise AnrError(f"{p}: mask is {w}x{h}, expected at most {MAX_MASK_SIDE} pixels on each side")
    raw = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
    if raw is None:
        raise AnrError(f"{p}: cannot be read as an image, expected a PNG mask")
    scale = 65535.0 if raw.dtype == np.uint16 else 255.0
    img = raw.astype(np.float32) / scale
    if img.ndim == 3:
        if img.shape[2] == 4:
            img = img[..., 3]
        elif img.shape[2] == 3:
            img = img @ np.array([0.114, 0.587, 0.299], np.float32)  # OpenCV reads BGR
        else:
            img = img[..., 0]
    if img.shape != (size, size):
        msg = f"{p}: mask is {img.shape[1]}x{img.shape[0]}, resampled to the texture's {size}x{size}"
        (warn or (lambda m: None))(msg)
        shrink = img.shape[0] > size or img.shape[1] > size
        img = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    return np.clip(img, 0.0, 1.0).astype(np.float32)


def save_mask(path: str | os.PathLike, mask: np.ndarray) -> Path:
    """Writes a (S,S) mask in [0,1] as an 8-bit greyscale PNG (255 = take A); returns the path."""
    from anr_studio.avatar.video import write_png

    return write_png(path, (np.clip(mask, 0, 1) * 255).round().astype(np.uint8))


def export_region_masks(body, size: int, folder: str | os.PathLike) -> dict[str, Path]:
    """Writes ``<region>.png`` for every preset the body has labels for; returns {region: path}."""
    return {region: save_mask(Path(folder) / f"{region}.png", mask)
            for region, mask in preset_masks(body, size).items()}


def preset_masks(body, size: int) -> dict[str, np.ndarray]:
    """Returns {region: (size,size) UV mask} of every `REGIONS` preset the body has part labels for."""
    masks = {}
    for region in REGIONS:
        with contextlib.suppress(AnrError):  # a body without that part label has no such preset
            masks[region] = region_mask(body, region, size)
    return masks


def swap_textures(texture_a: torch.Tensor, texture_b: torch.Tensor, mask: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Returns M·T_a + (1-M)·T_b (C,S,S) for textures (C,S,S) and a UV mask M (S,S) in [0,1]."""
    if texture_a.shape != texture_b.shape:
        raise AnrError(f"try-on: textures have shapes {tuple(texture_a.shape)} and {tuple(texture_b.shape)}, expected equal shapes")
    m = torch.as_tensor(np.asarray(mask, np.float32)).to(texture_a.device)
    if tuple(m.shape) != tuple(texture_a.shape[-2:]):
        raise AnrError(f"try-on: mask has shape {tuple(m.shape)}, expected {tuple(texture_a.shape[-2:])} like the textures")
    m = m.clamp(0, 1)[None]
    return composite(texture_a.float(), m, texture_b.float())


def swap_identity(avatar, source: str, target: str, name: str, region: str | None = None,
                  mask: np.ndarray | None = None, feather: float = 1.0) -> np.ndarray:
    """Adds identity ``name``: ``target`` (its betas, camera) wearing ``source``'s texels inside ``mask`` or the preset
    ``region``; returns the mask."""
    if name in avatar.identities:
        raise AnrError(f"--name {name}: the avatar already has an identity of that name, expected a new name")
    tex_a, tex_b = avatar.texture(source), avatar.texture(target)
    size = int(tex_a.shape[-1])
    if mask is None:
        if region is None:
            raise AnrError("try-on: neither --region nor --mask given, expected one of them")
        mask = region_mask(avatar.body, region, size, feather)
    avatar.add_identity(name, swap_textures(tex_a, tex_b, mask), avatar.identity_betas(target), avatar.identity_camera(target))
    return np.asarray(mask, np.float32)
