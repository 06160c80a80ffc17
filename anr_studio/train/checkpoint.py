"""Training checkpoints in ``RUN/checkpoints/``: ``step-XXXXXXXX.safetensors`` (renderer.*, texture.<i>.*,
discriminator.*, optim.<name>.state.<param>.<key>, rng.*) and ``step-XXXXXXXX.json`` (everything else, and the
tensors' size and sha256), written atomically, the JSON last as the commit marker. Nothing is pickled."""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from anr_studio.errors import AnrError
from anr_studio.fileio import atomic_path, atomic_write_text, file_sha256

CHECKPOINT_DIR = "checkpoints"
RECORD_CHECKSUM = "record_sha256"
_NAME = re.compile(r"^step-(\d{8,})\.json$")
_DAMAGED = (ValueError, KeyError, TypeError, IndexError, AttributeError, OverflowError, RuntimeError)


@dataclass
class Checkpoint:
    """A loaded checkpoint: ``tensors`` (name -> CPU tensor) and ``meta`` (the JSON dict)."""

    step: int
    tensors: dict[str, torch.Tensor]
    meta: dict[str, Any]
    path: Path


def _record_sha256(record: dict[str, Any]) -> str:
    """Returns the sha256 of a checkpoint record's JSON without its own checksum (keys sorted)."""
    body = {k: v for k, v in record.items() if k != RECORD_CHECKSUM}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def flatten_optimizer(optimizer: torch.optim.Optimizer, prefix: str) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Returns (tensors named ``{prefix}.state.{param_index}.{key}``, json of the rest) of ``optimizer.state_dict()``."""
    state = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, entry in state["state"].items():
        for key, value in entry.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{prefix}.state.{index}.{key}"] = value.detach().to("cpu").contiguous()
            else:
                scalars.setdefault(str(index), {})[key] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def restore_optimizer(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict[str, Any], prefix: str) -> None:
    """Loads the state written by `flatten_optimizer` into ``optimizer``; AnrError when it describes another one."""
    state: dict[int, dict[str, Any]] = {}
    head, own, groups = f"{prefix}.state.", optimizer.param_groups, []
    try:
        for name, value in tensors.items():
            if name.startswith(head):
                index, key = name[len(head):].split(".", 1)
                state.setdefault(int(index), {})[key] = value
        for index, entry in meta.get("scalars", {}).items():
            state.setdefault(int(index), {}).update(entry)
        if len(meta["param_groups"]) != len(own):
            raise ValueError(f"{len(meta['param_groups'])} parameter groups for the optimiser's {len(own)}")
        for i, group in enumerate(meta["param_groups"]):
            group = {k: _same_kind(v, own[i][k], f"param_groups[{i}].{k}") for k, v in dict(group).items()
                     if k == "params" or k in own[i]}
            if "params" not in group:
                raise ValueError(f"param_groups[{i}] has no params, expected the indices of its parameters")
            # kernel choices (fused, capturable, foreach) follow the running config, and so does a hyperparameter
            # the record lacks (an older torch's, or a damaged record's)
            group.update({k: own[i][k] for k in ("fused", "capturable", "foreach") if k in own[i]})
            group.update({k: v for k, v in own[i].items() if k not in group})
            groups.append(group)
        optimizer.load_state_dict({"state": state, "param_groups": groups})
    except _DAMAGED as exc:
        raise AnrError(f"checkpoint: optimiser {prefix} does not match the model ({type(exc).__name__}: "
                       f"{str(exc)[:120]}), expected the same configuration") from None
    # Moments are stored contiguous; a channels_last parameter needs them in its own layout (fused CUDA Adam
    # refuses mixed strides).
    for param, entry in optimizer.state.items():
        for key, value in entry.items():
            if isinstance(value, torch.Tensor) and value.shape == param.shape and value.stride() != param.stride():
                entry[key] = torch.empty_like(param, dtype=value.dtype).copy_(value)


def _same_kind(value: Any, like: Any, where: str) -> Any:
    """Returns a stored hyperparameter ``value`` shaped like the running optimiser's ``like``; ValueError otherwise."""
    def number(v: Any) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)

    if isinstance(like, bool):
        ok = isinstance(value, bool)
    elif number(like):
        ok = number(value)
    elif isinstance(like, tuple):
        ok = isinstance(value, (list, tuple)) and len(value) == len(like) and all(map(number, value))
        value = tuple(value) if ok else value
    elif isinstance(like, list):  # the parameter indices
        ok = isinstance(value, list) and len(value) == len(like) and all(isinstance(v, int) for v in value)
    else:
        ok = value is None or type(value) is type(like)
    if not ok:
        raise ValueError(f"{where} is {str(value)[:40]}, expected a value like {like!r}")
    return value


def rng_state() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Returns (tensors, json) with the torch, CUDA, numpy and python RNG states."""
    tensors = {"rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = s
    np_state = np.random.get_state()
    py_state = random.getstate()
    meta = {
        "numpy": [np_state[0], np_state[1].tolist(), int(np_state[2]), int(np_state[3]), float(np_state[4])],
        "python": [py_state[0], list(py_state[1]), py_state[2]],
    }
    return tensors, meta


def set_rng_state(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    """Restores the RNG states written by `rng_state` (CUDA ones where devices match); AnrError if one is damaged."""
    saved = rng_state()
    try:
        _set_rng_state(tensors, meta)
    except _DAMAGED as exc:
        _set_rng_state(*saved)
        raise AnrError(f"checkpoint: the random-number state is damaged ({type(exc).__name__}: {str(exc)[:120]}), "
                       "expected the state anr-studio train stored") from None


def _set_rng_state(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    if "rng.torch" in tensors:
        torch.set_rng_state(tensors["rng.torch"])
    if torch.cuda.is_available():
        cuda = [tensors[f"rng.cuda.{i}"] for i in range(torch.cuda.device_count()) if f"rng.cuda.{i}" in tensors]
        if len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)
    if "numpy" in meta:
        n = meta["numpy"]
        np.random.set_state((n[0], np.asarray(n[1], dtype=np.uint32), n[2], n[3], n[4]))
    if "python" in meta:
        p = meta["python"]
        random.setstate((p[0], tuple(p[1]), p[2]))


def checkpoint_paths(run_dir: str | os.PathLike) -> list[tuple[int, Path]]:
    """Returns [(step, json path)] of the committed checkpoints in ``run_dir``, newest first."""
    folder = Path(run_dir) / CHECKPOINT_DIR
    if not folder.is_dir():
        return []
    matches = ((_NAME.match(p.name), p) for p in folder.iterdir())
    return sorted(((int(m.group(1)), p) for m, p in matches if m), reverse=True)


def save_checkpoint(run_dir: str | os.PathLike, step: int, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> Path:
    """Writes checkpoint ``step`` (tensors copied to the CPU) atomically, keeps the two newest (a good one survives
    a bad write); returns the JSON path."""
    folder = Path(run_dir) / CHECKPOINT_DIR
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob(".step-*.tmp"):  # left by a process killed mid-write
        stale.unlink(missing_ok=True)
    stem = f"step-{step:08d}"
    tensor_path = folder / f"{stem}.safetensors"
    cpu = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    with atomic_path(tensor_path) as tmp:
        save_file(cpu, str(tmp))
    record = dict(meta)
    record.update(step=int(step), tensors_file=tensor_path.name, tensors_size=tensor_path.stat().st_size,
                  tensors_sha256=file_sha256(tensor_path), format="anr-checkpoint", version=1)
    record[RECORD_CHECKSUM] = _record_sha256(record)
    json_path = folder / f"{stem}.json"
    atomic_write_text(json_path, json.dumps(record))
    # Prune only now that the new checkpoint is committed; the JSON goes first so a kill
    # between the two deletions leaves an orphan tensor file, never a dangling marker.
    for old_step, old_json in checkpoint_paths(run_dir)[2:]:
        old_json.unlink(missing_ok=True)
        (folder / f"step-{old_step:08d}.safetensors").unlink(missing_ok=True)
    for orphan in folder.glob("step-*.safetensors"):
        if not orphan.with_suffix(".json").exists() and orphan != tensor_path:
            orphan.unlink(missing_ok=True)
    return json_path


def read_checkpoint(json_path: str | os.PathLike) -> Checkpoint:
    """Returns the checkpoint committed by ``json_path``; AnrError if it is incomplete or corrupt."""
    json_path = Path(json_path)
    try:
        meta = json.loads(json_path.read_text(encoding="utf-8"))
        tensor_path = json_path.parent / meta["tensors_file"]
        size, digest, step = int(meta["tensors_size"]), str(meta["tensors_sha256"]), int(meta["step"])
    except (OSError, ValueError, KeyError, TypeError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)[:120]
        raise AnrError(f"{json_path}: checkpoint record is unreadable ({reason}), expected a JSON written by anr-studio train") from None
    if RECORD_CHECKSUM in meta and meta[RECORD_CHECKSUM] != _record_sha256(meta):  # older records have none
        raise AnrError(f"{json_path}: checkpoint record does not match its checksum (damaged or altered), "
                       "expected the record as anr-studio train wrote it")
    if meta["tensors_file"] != json_path.with_suffix(".safetensors").name or step < 0:
        # never read a file the record points at elsewhere (another folder, another step)
        raise AnrError(f"{json_path}: checkpoint record names tensors_file {str(meta['tensors_file'])[:60]!r}, "
                       f"expected {json_path.with_suffix('.safetensors').name!r}")
    if not tensor_path.exists() or tensor_path.stat().st_size != size or file_sha256(tensor_path) != digest:
        raise AnrError(f"{tensor_path}: checkpoint tensors are missing or corrupt, expected {size} bytes with sha256 {digest[:12]}...")
    try:
        tensors = load_file(str(tensor_path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise AnrError(f"{tensor_path}: checkpoint tensors cannot be read ({exc}), expected a safetensors file") from exc
    return Checkpoint(step=step, tensors=tensors, meta=meta, path=json_path)


def load_latest_checkpoint(run_dir: str | os.PathLike, warn=print) -> Checkpoint | None:
    """Returns the newest loadable checkpoint of ``run_dir`` (None if there is none): a corrupt one falls back to the
    previous good one (``warn``); all corrupt: AnrError naming the newest."""
    candidates = checkpoint_paths(run_dir)
    if not candidates:
        return None
    first_error: AnrError | None = None
    for _, json_path in candidates:
        try:
            ckpt = read_checkpoint(json_path)
        except AnrError as exc:
            first_error = first_error or exc
            warn(f"warning: {exc}; trying the previous checkpoint")
            continue
        if first_error is not None:
            warn(f"warning: resuming from the previous good checkpoint {ckpt.path.name} (step {ckpt.step})")
        return ckpt
    assert first_error is not None
    raise AnrError(f"{Path(run_dir) / CHECKPOINT_DIR}: no loadable checkpoint ({first_error})")
