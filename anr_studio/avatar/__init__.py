"""The paper's applications (§5) as a headless API: render any pose and view, animate, virtual try-on
and exports; ``Avatar.load(path).render(identity, pose, camera)`` is what the CLI and the GUI call."""

from __future__ import annotations

from anr_studio.lazy import lazy_getattr

_EXPORTS = {
    "Avatar": "anr_studio.avatar.avatar",
    "read_avatar": "anr_studio.avatar.file",
    "write_avatar": "anr_studio.avatar.file",
    "REGIONS": "anr_studio.avatar.tryon",
    "region_mask": "anr_studio.avatar.tryon",
    "load_mask": "anr_studio.avatar.tryon",
    "swap_textures": "anr_studio.avatar.tryon",
    "swap_identity": "anr_studio.avatar.tryon",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_getattr(__name__, _EXPORTS)
