"""The paper's applications (§5) as a headless API: render any pose and view, animate, virtual try-on
and exports; ``Avatar.load(path).render(identity, pose, camera)`` is what the CLI and the GUI call."""

from __future__ import annotations

from anr_studio.lazy import lazy_getattr

__all__ = ["Avatar"]

__getattr__ = lazy_getattr(__name__, {"Avatar": "anr_studio.avatar.avatar"})
