"""Opening an avatar for the studio: the file, the device to render on and the body to render with."""

from __future__ import annotations

import copy
import os
from typing import Sequence

import torch

from anr_studio.components.protocols import StudioAvatar, StudioBody


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
