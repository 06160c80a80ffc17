"""The avatar in the studio: opening the file (the device to render on, the body to render with), naming a new
identity, the live try-on preview (paper §5: two identities' neural textures blended through the painted UV mask, by
the same code as ``anr-studio swap``, ``anr_studio.avatar.tryon``) and saving it."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from anr_studio.avatar.tryon import REGIONS as REGION_PRESETS
from anr_studio.avatar.tryon import region_mask, swap_textures
from anr_studio.components.protocols import StudioAvatar, StudioBody

__all__ = ["REGION_PRESETS", "compare_images", "name_problem", "open_avatar", "preview_swap", "region_mask", "save_avatar",
           "swap_texture"]


def open_avatar(path: str | os.PathLike, body: StudioBody) -> StudioAvatar:
    """Returns the Avatar in ``path`` on CUDA when available, else the CPU; AnrError for an invalid file.

    When the file names ``body``'s model it renders with that body (a copy off the CPU), else with the one it names.
    """
    from anr_studio.avatar import Avatar
    from anr_studio.avatar.file import read_avatar

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    data = read_avatar(path)
    same_body = str(data.meta.get("body_model", "default")) == str(body.model_id)
    own = (body if device.type == "cpu" else copy.deepcopy(body)) if same_body else None
    return Avatar.from_weights(data.meta, data.renderer_state, data.textures, device, own, source=str(path))


def name_problem(name: str, identities: Sequence[str], avatar: str) -> str:
    """Returns why ``name`` (stripped) cannot name a new identity of the avatar file ``avatar`` that holds
    ``identities`` ("the name is empty", "the name 'bob' is already an identity of tiny.anr"), "" when it can."""
    name = name.strip()
    if not name:
        return "the name is empty"
    return f"the name {name!r} is already an identity of {avatar}" if name in identities else ""


PREVIEW_IDENTITY = "__try-on preview__"


def swap_texture(texture_a: torch.Tensor, texture_b: torch.Tensor, mask: np.ndarray) -> torch.Tensor:
    """Returns mask·T_a + (1−mask)·T_b, (C,S,S), for textures (C,S,S) and a painted mask (M,M) in [0,1] resampled to S."""
    import cv2

    s = texture_a.shape[-1]
    m = np.asarray(mask, np.float32)
    if m.shape != (s, s):
        m = cv2.resize(m, (s, s), interpolation=cv2.INTER_AREA if m.shape[0] > s else cv2.INTER_LINEAR)
    return swap_textures(texture_a, texture_b, np.clip(m, 0.0, 1.0))


def preview_swap(avatar: StudioAvatar, identity_a: str, identity_b: str, mask: np.ndarray, name: str = PREVIEW_IDENTITY) -> str:
    """Returns the name of an identity holding the swapped texture (added to or replaced in ``avatar``)."""
    tex = swap_texture(avatar.texture(identity_a), avatar.texture(identity_b), mask)
    avatar.add_identity(name, tex, betas=avatar.identity_betas(identity_b))
    return name


def save_avatar(avatar: StudioAvatar, path: str) -> Path:
    """Writes ``avatar`` to ``path`` (a temporary name, then renamed) without the live preview's identity; returns it."""
    return avatar.save(path, [n for n in avatar.identities if n != PREVIEW_IDENTITY])


def compare_images(avatar: StudioAvatar, identity_a: str, identity_b: str, mask: np.ndarray, pose, camera,
                   betas=None, transl=None, size: int = 160,
                   background: tuple[int, int, int] = (255, 255, 255)) -> list[tuple[str, np.ndarray]]:
    """Returns [(title, rgb (size,size,3) uint8)] for identity B, the swap, and identity A, rendered from one view
    over ``background`` (RGB 0-255)."""
    name = preview_swap(avatar, identity_a, identity_b, mask)
    out = []
    for title, ident in ((f"B: {identity_b}", identity_b), ("swap", name), (f"A: {identity_a}", identity_a)):
        rgb, _m = avatar.render(ident, pose, camera, betas=betas, transl=transl, size=(size, size),
                                background=background)
        out.append((title, np.asarray(rgb, np.uint8)))
    return out
