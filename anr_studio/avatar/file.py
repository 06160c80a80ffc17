"""Returns and writes avatar files (``.anr``): one safetensors file with tensors ``renderer.<state_dict key>`` and
``texture.<i>`` (C,S,S), and JSON metadata under "anr_avatar" (layout: docs/interfaces.md, train)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from anr_studio.errors import AnrError
from anr_studio.avatar.integrity import CHECKSUM_KEY, check_meta, check_tensors, check_textures, tensors_sha256
from anr_studio.fileio import AVATAR_FILE, RUN_FILE, atomic_path, avatar_file, read_safetensors
from anr_studio.model import ANRRenderer, DNRRenderer, ModelConfig, build_renderer

FORMAT = "anr-avatar"
VERSION = 1
META_KEY = "anr_avatar"


@dataclass
class AvatarData:
    """The contents of an avatar file: renderer state, textures (C,S,S) per identity, metadata."""

    renderer_state: dict[str, torch.Tensor]
    textures: list[torch.Tensor]
    meta: dict[str, Any]


def unprefixed(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """Returns the tensors named ``{prefix}.{name}``, keyed by ``name`` (a module's state dict in a flat file)."""
    head = prefix + "."
    return {k[len(head):]: v for k, v in tensors.items() if k.startswith(head)}


def write_avatar(path: str | os.PathLike, renderer_state: dict[str, torch.Tensor], textures: list[torch.Tensor],
                 meta: dict[str, Any]) -> Path:
    """Writes the avatar file atomically and returns its path; ``textures``: one (C,S,S) or (1,C,S,S) per identity."""
    identities = meta.get("identities", [])
    if len(identities) != len(textures):
        raise AnrError(f"{path}: {len(textures)} textures for {len(identities)} identities, expected one per identity")
    tensors = {f"renderer.{k}": v.detach().float().cpu().contiguous() for k, v in renderer_state.items()}
    for i, tex in enumerate(textures):
        tensors[f"texture.{i}"] = tex.detach().float().cpu().reshape(tex.shape[-3:]).contiguous()
    record = dict(meta, format=FORMAT, version=VERSION)
    record[CHECKSUM_KEY] = tensors_sha256(tensors)
    path = Path(path)
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={META_KEY: json.dumps(record)})
    return path


def read_avatar(path: str | os.PathLike) -> AvatarData:
    """Returns the avatar stored at ``path`` (or in the run folder ``path``); AnrError naming the file if it is not a valid avatar."""
    path = avatar_file(path)
    if path.name == AVATAR_FILE and not path.exists() and (path.parent / RUN_FILE).is_file():
        raise AnrError(f"{path}: not written yet, expected the avatar of a run whose training has stopped "
                       "(training writes it when it stops) or an .anr file")
    meta, tensors = read_safetensors(path, META_KEY, "an ANR Studio avatar file")
    check_meta(meta, str(path), FORMAT, VERSION)
    check_tensors(tensors, meta, str(path))
    n = len(meta["identities"])
    textures = []
    for i in range(n):
        if f"texture.{i}" not in tensors:
            raise AnrError(f"{path}: tensor texture.{i} is missing, expected one texture per identity ({n})")
        textures.append(tensors[f"texture.{i}"])
    check_textures(textures, str(path))
    state = unprefixed(tensors, "renderer")
    return AvatarData(renderer_state=state, textures=textures, meta=meta)


def renderer_meta(renderer: torch.nn.Module) -> dict[str, Any]:
    """Returns {"renderer": kind, "model": ModelConfig dict}: what the file needs to rebuild ``renderer``."""
    if isinstance(renderer, DNRRenderer):
        kind = "dnr"
    elif isinstance(renderer, ANRRenderer):
        kind = "anr" if renderer.two_stage else "anr-1stage"
    else:
        raise AnrError(f"avatar: cannot store a {type(renderer).__name__}, expected an ANR or DNR renderer")
    return {"renderer": kind, "model": renderer.config.to_dict()}


def model_config(meta: dict[str, Any], source: str) -> ModelConfig:
    """Returns the renderer's ModelConfig stored in ``meta`` (from ``config`` in older files)."""
    data = meta.get("model")
    if data is None and isinstance(meta.get("config"), dict):
        data = meta["config"].get("model", {})
    if not isinstance(data, dict):
        raise AnrError(f"{source}: metadata has no 'model' mapping, expected the renderer's configuration")
    try:
        return ModelConfig.from_dict(data)
    except AnrError as exc:
        raise AnrError(f"{source}: {exc}") from None


def load_renderer(meta: dict[str, Any], state: dict[str, torch.Tensor], source: str) -> torch.nn.Module:
    """Returns the renderer ``meta`` describes with the weights ``state``, in eval mode and frozen."""
    kind = meta.get("renderer") or (meta.get("config") or {}).get("renderer", "anr")
    config = model_config(meta, source)
    with torch.device("meta"):  # shapes only: a forged config must not allocate a giant network
        expected = {k: tuple(v.shape) for k, v in build_renderer(config, kind).state_dict().items()}
    if expected != {k: tuple(v.shape) for k, v in state.items()}:
        missing = sorted(set(expected) ^ set(state)) or sorted(k for k in expected if expected[k] != tuple(state[k].shape))
        raise AnrError(f"{source}: renderer weights do not match its config (first difference: {missing[0]}), "
                       "expected a consistent avatar file")
    renderer = build_renderer(config, kind)
    renderer.load_state_dict(state, strict=True)  # names and shapes match: checked above
    return renderer.eval().requires_grad_(False)
