"""Returns the body model a capture, an avatar or a command asks for: the built-in body or a file."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from anr_studio.body.model import BodyModel
from anr_studio.errors import AnrError

SMPL_SUFFIXES = (".npz", ".pkl")


def load_body(path: str | os.PathLike | None = None, *, model_id: str | None = None,
              device: str | torch.device = "cpu", uv_obj: str | os.PathLike | None = None,
              source: str = "body") -> BodyModel:
    """Returns the body model on ``device``: the shared built-in one (do not modify it), or the one at ``path`` (a
    `BodyModel.save` file or an SMPL-format .npz/.pkl, UVs from ``uv_obj``); AnrError naming ``source`` when its id
    differs from ``model_id``, the id the caller's data names."""
    if path is None:
        if model_id not in (None, "default"):
            raise AnrError(f"{source}: body model {model_id[:16]}... is not the built-in body, "
                           "expected the body model file it names (--body-model PATH)")
        return BodyModel.default(device)
    path = Path(path)
    body = BodyModel.from_smpl(path, uv_obj=uv_obj) if path.suffix.lower() in SMPL_SUFFIXES else BodyModel.load(path)
    if model_id is not None and body.model_id != model_id:
        raise AnrError(f"{path}: body model id {body.model_id[:16]} differs from {source}'s {model_id[:16]}, "
                       "expected the body model file it was made with")
    return body.to(device)
