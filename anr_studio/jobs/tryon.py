"""Virtual try-on (paper §5): blend two identities' neural textures through a painted UV mask."""

from __future__ import annotations

import numpy as np
import torch

from anr_studio.errors import AnrError

PREVIEW_IDENTITY = "__try-on preview__"
# Region -> body-part names; a name also matches its sided parts ("foot" matches foot_l, foot_r).
REGION_PRESETS: dict[str, tuple[str, ...]] = {
    "upper clothes": ("torso", "upperarm"),
    "lower clothes": ("thigh", "shin"),
    "shoes": ("foot",),
    "face": ("face",),
    "head": ("head", "face"),
    "arms": ("upperarm", "forearm", "hand"),
    "hands": ("hand",),
}


def _part_matches(part: str, base: str) -> bool:
    return part == base or part.startswith(base + "_")


def region_mask(body, region: str, size: int) -> np.ndarray:
    """Returns the (size,size) float32 UV mask of a region preset (names in REGION_PRESETS) on ``body``."""
    from anr_studio.jobs.paint import uv_triangle_mask

    if region not in REGION_PRESETS:
        raise AnrError(f"try-on: unknown region {region!r}, expected one of {', '.join(REGION_PRESETS)}")
    names = list(body.part_names)
    ids = [i for i, name in enumerate(names) if any(_part_matches(name, base) for base in REGION_PRESETS[region])]
    parts = body.face_parts.cpu().numpy()
    return uv_triangle_mask(body.face_uvs.cpu().numpy(), size, np.isin(parts, ids))


def swap_texture(texture_a: torch.Tensor, texture_b: torch.Tensor, mask: np.ndarray) -> torch.Tensor:
    """Returns mask·T_a + (1−mask)·T_b, (C,S,S), for textures (C,S,S) and a UV mask (M,M) in [0,1] (resampled to S)."""
    import cv2

    if texture_a.shape != texture_b.shape:
        raise AnrError(f"try-on: textures have shapes {tuple(texture_a.shape)} and {tuple(texture_b.shape)}, expected equal shapes")
    s = texture_a.shape[-1]
    m = np.asarray(mask, np.float32)
    if m.shape != (s, s):
        m = cv2.resize(m, (s, s), interpolation=cv2.INTER_AREA if m.shape[0] > s else cv2.INTER_LINEAR)
    w = torch.from_numpy(np.clip(m, 0, 1)).to(texture_a.device, texture_a.dtype)[None]
    return w * texture_a + (1 - w) * texture_b


def preview_swap(avatar, identity_a: str, identity_b: str, mask: np.ndarray, name: str = PREVIEW_IDENTITY) -> str:
    """Returns the name of an identity holding the swapped texture (added to or replaced in ``avatar``)."""
    tex = swap_texture(avatar.texture(identity_a), avatar.texture(identity_b), mask)
    avatar.add_identity(name, tex, betas=avatar.identity_betas(identity_b) if hasattr(avatar, "identity_betas") else None)
    return name
