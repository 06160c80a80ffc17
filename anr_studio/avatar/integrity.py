"""Returns the checksum of an avatar's tensors (so a damaged file does not load as a subtly wrong avatar; files
without one load unchecked) and checks an avatar file's metadata and values."""

from __future__ import annotations

import hashlib
import math
from typing import Any

import numpy as np
import torch

from anr_studio.capture import schema as S
from anr_studio.errors import AnrError
from anr_studio.model.config import RENDERER_KINDS

CHECKSUM_KEY = "tensors_sha256"
# A neural texture has a handful of channels (8 in the paper) and a side of a few thousand texels at most.
MAX_TEXTURE_CHANNELS = 64
MAX_TEXTURE_SIDE = 8192


def tensors_sha256(tensors: dict[str, torch.Tensor]) -> str:
    """Returns the hex SHA-256 of ``tensors`` (name, dtype, shape and bytes of each, in name order)."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        digest.update(f"{name}\0{t.dtype}\0{tuple(t.shape)}\0".encode())
        if t.numel():
            digest.update(t.reshape(-1).view(torch.uint8).numpy())
    return digest.hexdigest()


def check_tensors(tensors: dict[str, torch.Tensor], meta: dict[str, Any], source: str) -> None:
    """Raises AnrError when the tensors do not match the recorded checksum or hold NaN/Inf or non-float values."""
    recorded = meta.get(CHECKSUM_KEY)
    if recorded is not None and recorded != tensors_sha256(tensors):
        raise AnrError(f"{source}: the tensors do not match the checksum recorded in the file (damaged or altered), "
                       "expected the file as anr-studio wrote it")
    for name, t in tensors.items():
        if not t.is_floating_point():
            raise AnrError(f"{source}: tensor {name} has dtype {str(t.dtype).replace('torch.', '')}, expected float32")
        if not bool(torch.isfinite(t).all()):
            raise AnrError(f"{source}: tensor {name} holds NaN or Inf values, expected finite weights")


def _numbers(value: Any, shape: tuple[int, ...], field: str, source: str, bound: float | None = None) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise AnrError(f"{source}: {field} is not a list of numbers, expected shape {shape}") from None
    if array.shape != shape:
        raise AnrError(f"{source}: {field} has shape {array.shape}, expected {shape}")
    if not np.isfinite(array).all() or (bound is not None and array.size and np.abs(array).max() > bound):
        raise AnrError(f"{source}: {field} holds NaN, Inf or values beyond ±{bound:g}, expected plausible numbers"
                       if bound is not None else f"{source}: {field} holds NaN or Inf, expected finite numbers")
    return array


def _name(value: Any, field: str, source: str, max_len: int = S.MAX_NAME_LENGTH) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > max_len or not value.isprintable():
        shown = repr(value)[:60]
        raise AnrError(f"{source}: {field} is {shown}, expected printable text of 1 to {max_len} characters")
    return value


def check_meta(meta: Any, source: str, format_name: str, version: int) -> dict[str, Any]:
    """Returns ``meta`` when it describes an avatar (``format_name`` up to ``version``); AnrError naming the field otherwise."""
    if not isinstance(meta, dict):
        raise AnrError(f"{source}: metadata is a JSON {type(meta).__name__}, expected an object describing the avatar")
    if meta.get("format") != format_name:
        raise AnrError(f"{source}: format is {str(meta.get('format'))[:40]!r}, expected {format_name!r}")
    v = meta.get("version")
    if not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= version:
        newer = " (written by a newer ANR Studio)" if isinstance(v, int) and not isinstance(v, bool) and v > version else ""
        raise AnrError(f"{source}: version is {str(v)[:40]!r}, expected an integer from 1 to {version}{newer}")
    names = meta.get("identities")
    if not isinstance(names, list) or not names:
        raise AnrError(f"{source}: identities is {str(names)[:40]!r}, expected a non-empty list of names")
    seen: set[str] = set()
    for i, name in enumerate(names):
        _name(name, f"identities[{i}]", source)
        if name in seen:
            raise AnrError(f"{source}: identity {name!r} appears twice, expected unique names")
        seen.add(name)
    n = len(names)
    for key in ("betas", "cameras"):
        if meta.get(key) is not None and (not isinstance(meta[key], list) or len(meta[key]) > n):
            raise AnrError(f"{source}: {key} is not a list of at most {n} entries, expected one per identity")
    for i, betas in enumerate(meta.get("betas") or []):
        count = len(betas) if isinstance(betas, list) else -1
        if not 0 <= count <= S.MAX_BETAS:
            raise AnrError(f"{source}: betas[{i}] is not a list of at most {S.MAX_BETAS} numbers")
        _numbers(betas, (count,), f"betas[{i}]", source, S.MAX_ABS_BETA)
    for i, cam in enumerate(meta.get("cameras") or []):
        if cam is None:
            continue
        if not isinstance(cam, dict):
            raise AnrError(f"{source}: cameras[{i}] is not an object, expected {{K, R, t}}")
        K = _numbers(cam.get("K"), (3, 3), f"cameras[{i}].K", source)
        _numbers(cam.get("R"), (3, 3), f"cameras[{i}].R", source, 1.01)
        _numbers(cam.get("t"), (3,), f"cameras[{i}].t", source, S.MAX_ABS_METRES)
        if K[0, 0] <= 0 or K[1, 1] <= 0:
            raise AnrError(f"{source}: cameras[{i}].K has focal lengths {K[0, 0]:g}, {K[1, 1]:g}, expected positive ones")
    size = meta.get("image_size")
    if size is not None and (not isinstance(size, list) or len(size) != 2 or not all(
            isinstance(s, int) and not isinstance(s, bool) and 1 <= s <= S.MAX_IMAGE_SIDE for s in size)):
        raise AnrError(f"{source}: image_size is {str(size)[:40]}, expected [H, W] in pixels up to {S.MAX_IMAGE_SIDE}")
    if meta.get("body_model") is not None:
        _name(meta["body_model"], "body_model", source, 64)
    if meta.get("renderer") is not None and meta["renderer"] not in RENDERER_KINDS:
        raise AnrError(f"{source}: renderer is {str(meta['renderer'])[:40]!r}, expected one of {', '.join(RENDERER_KINDS)}")
    for key in ("model", "config"):
        if meta.get(key) is not None and not isinstance(meta[key], dict):
            raise AnrError(f"{source}: {key} is a JSON {type(meta[key]).__name__}, expected an object")
    step = meta.get("step")
    if step is not None and (not isinstance(step, int) or isinstance(step, bool) or step < 0):
        raise AnrError(f"{source}: step is {str(step)[:40]!r}, expected a whole number >= 0")
    seconds = meta.get("train_time_s")
    if seconds is not None and (not isinstance(seconds, (int, float)) or not math.isfinite(seconds)):
        raise AnrError(f"{source}: train_time_s is {str(seconds)[:40]!r}, expected a number of seconds")
    return meta


def check_textures(textures: list[torch.Tensor], source: str) -> None:
    """Raises AnrError unless each texture is (C,S,S) with sane C and S, all of one shape."""
    for i, tex in enumerate(textures):
        shape = tuple(tex.shape)
        if (len(shape) != 3 or not 1 <= shape[0] <= MAX_TEXTURE_CHANNELS or shape[1] != shape[2]
                or not 1 <= shape[1] <= MAX_TEXTURE_SIDE or shape != tuple(textures[0].shape)):
            raise AnrError(f"{source}: texture.{i} has shape {shape}, expected (C, S, S) like texture.0 "
                           f"with C <= {MAX_TEXTURE_CHANNELS} and S <= {MAX_TEXTURE_SIDE}")
