"""What the fuzz suite damages and how it loads it: seed files, case makers and loaders per input kind.

Each loader reads an input the way the product does (a capture: open, validate and read every
frame, mask and array; an avatar: load and render a frame; a checkpoint: resume a trainer from it;
...). Each case maker copies a seed file into the case folder and damages it, seeded.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import h5py
import numpy as np

from tests.fuzz import mutate as M


@dataclass
class Seeds:
    """Valid inputs every case starts from (written once per test session)."""

    folder: Path
    capture: Path
    other_capture: Path
    victim: Path
    avatar: Path
    body: Any
    body_file: Path
    smpl_npz: Path
    smpl_pkl: Path
    mask: Path
    config: dict
    run: Path
    trainer: Any


def _copy(src: Path, folder: Path, name: str | None = None) -> Path:
    dst = folder / (name or src.name)
    shutil.copy(src, dst)
    return dst


# -- captures ------------------------------------------------------------------------------------

def make_capture(seeds: Seeds, rng: np.random.Generator, folder: Path) -> tuple[str, Path]:
    """Returns (label, path) of a damaged copy of the seed capture."""
    path = _copy(seeds.capture, folder)
    if rng.random() < 0.4:
        label, data = M.mutate_bytes(rng, path.read_bytes())
        path.write_bytes(data)
        return label, path
    edits = M.capture_edits(h5py)
    label, edit = edits[int(rng.integers(len(edits)))]
    with h5py.File(path, "r+") as f:
        edit(f, rng, seeds.victim)
    return label, path


def load_capture(path: Path) -> None:
    """Opens a capture and reads everything training and the studio read."""
    from anr_studio.capture import Capture, validate

    problems = validate(path)
    assert isinstance(problems, list) and all(isinstance(p, str) and "\n" not in p for p in problems)
    cap = Capture(path)
    for i in range(len(cap)):
        cap.frame(i)
        cap.mask(i)
    cap.background, cap.cameras(), cap.split("train"), cap.split("test")
    for name in cap.truth_names:
        cap.truth(name)
    from anr_studio.cli.capture import summary

    assert all(line.isprintable() for line in summary(cap).splitlines())  # nothing raw reaches a terminal


# -- avatars -------------------------------------------------------------------------------------

def make_avatar(seeds: Seeds, rng: np.random.Generator, folder: Path) -> tuple[str, Path]:
    """Returns (label, path) of a damaged copy of the seed avatar."""
    path = _copy(seeds.avatar, folder)
    from anr_studio.avatar.file import META_KEY

    label, data = M.mutate_safetensors(rng, path.read_bytes(), META_KEY)
    path.write_bytes(data)
    return label, path


def avatar_loader(seeds: Seeds) -> Callable[[Path], None]:
    """Returns a loader that loads an avatar on the seed body and renders one 16x16 frame of each identity."""
    def load(path: Path) -> None:
        from anr_studio.avatar import Avatar

        avatar = Avatar.load(path, body=seeds.body)
        for name in avatar.identities[:2]:
            cam = avatar.default_camera((16, 16), name)
            image = avatar.render(name, np.zeros((24, 3), np.float32), cam, size=(16, 16))
            assert np.asarray(image[0]).shape[:2] == (16, 16)
    return load


# -- checkpoints ---------------------------------------------------------------------------------

def make_checkpoint(seeds: Seeds, rng: np.random.Generator, folder: Path) -> tuple[str, Path]:
    """Returns (label, run folder) holding a damaged copy of the seed run's checkpoints."""
    run = folder / "run"
    shutil.copytree(seeds.run, run)
    records = sorted((run / "checkpoints").glob("step-*.json"))
    tensors = sorted((run / "checkpoints").glob("step-*.safetensors"))
    if rng.random() < 0.1:  # a damaged log, which a resume rewrites up to its checkpoint's step
        log = run / "log.jsonl"
        _, data = M.mutate_bytes(rng, log.read_bytes() if log.exists() else b'{"step": 1}\n{"step": 2}\n')
        log.write_bytes(data + rng.choice([b"", M.deep_json(100_000).encode(), b'{"step": 1e999}\n']))
    if rng.random() < 0.5:  # damage the only checkpoint (else a damaged newest one falls back to the older one)
        records.pop(0).unlink()
        tensors.pop(0).unlink()
    if rng.random() < 0.5:
        target = records[int(rng.integers(len(records)))]
        text = target.read_text()
        if rng.random() < 0.5:  # a record of an older version, without its own checksum
            text = json.dumps({k: v for k, v in json.loads(text).items() if k != "record_sha256"})
        label, text = M.mutate_json_text(rng, text)
        target.write_text(text)
        return f"record {label}", run
    target = tensors[int(rng.integers(len(tensors)))]
    label, data = M.mutate_safetensors(rng, target.read_bytes(), None)
    target.write_bytes(data)
    return f"tensors {label}", run


def checkpoint_loader(seeds: Seeds) -> Callable[[Path], None]:
    """Returns a loader that resumes the seed trainer from a run folder's newest loadable checkpoint."""
    def load(run: Path) -> None:
        from anr_studio.train import state

        trainer = seeds.trainer
        trainer.out = run
        state.resume(trainer)
    return load


# -- body model files ----------------------------------------------------------------------------

def make_body_file(seeds: Seeds, rng: np.random.Generator, folder: Path) -> tuple[str, Path]:
    """Returns (label, path) of a damaged SMPL .npz / .pkl or body .safetensors."""
    kind = int(rng.integers(4))
    if kind == 0:
        path = _copy(seeds.body_file, folder)
        label, data = M.mutate_safetensors(rng, path.read_bytes(), "anr_body")
        path.write_bytes(data)
        return f"body {label}", path
    if kind == 1:
        path = _copy(seeds.smpl_pkl, folder)
        label, data = M.mutate_bytes(rng, path.read_bytes())
        path.write_bytes(data)
        return f"pkl {label}", path
    path = _copy(seeds.smpl_npz, folder)
    if kind == 2:
        label, data = M.mutate_bytes(rng, path.read_bytes())
        path.write_bytes(data)
        return f"npz {label}", path
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    key = list(arrays)[int(rng.integers(len(arrays)))]
    label, arrays[key] = M.mutate_array(rng, arrays[key])
    np.savez(path, **arrays)
    return f"npz {key} {label}", path


def load_body_file(path: Path) -> None:
    """Loads a body model file as ``--body-model`` does and poses it once."""
    import torch

    from anr_studio.body import BodyModel

    body = BodyModel.load(path) if path.suffix == ".safetensors" else BodyModel.from_smpl(path)
    out = body(torch.zeros(1, 24, 3), torch.zeros(1, body.num_betas), torch.zeros(1, 3))
    assert torch.isfinite(out.vertices).all()


# -- painted masks -------------------------------------------------------------------------------

def make_mask(seeds: Seeds, rng: np.random.Generator, folder: Path) -> tuple[str, Path]:
    """Returns (label, path) of a damaged or unusual painted mask image."""
    import cv2

    path = folder / "mask.png"
    kind = int(rng.integers(3))
    if kind == 0:
        label, data = M.mutate_bytes(rng, seeds.mask.read_bytes())
        path.write_bytes(data)
        return label, path
    if kind == 1:
        h, w = (int(x) for x in rng.integers(1, 300, 2))
        channels = int(rng.choice([1, 2, 3, 4]))
        dtype = rng.choice([np.uint8, np.uint16])
        image = rng.integers(0, np.iinfo(dtype).max, (h, w, channels)).astype(dtype)
        cv2.imwrite(str(path), image if channels != 2 else image[..., 0])
        return f"{w}x{h}x{channels} {np.dtype(dtype).name}", path
    data = bytearray(seeds.mask.read_bytes())  # a header declaring an enormous image
    data[16:24] = int(rng.integers(1, 2**31)).to_bytes(4, "big") + int(rng.integers(1, 2**31)).to_bytes(4, "big")
    path.write_bytes(bytes(data))
    return "forged size", path


def load_mask_file(path: Path) -> None:
    """Reads a painted mask as `swap --mask` does."""
    from anr_studio.avatar.tryon import load_mask

    mask = load_mask(path, 32)
    assert mask.shape == (32, 32) and np.isfinite(mask).all()


# -- configs -------------------------------------------------------------------------------------

def make_config(seeds: Seeds, rng: np.random.Generator, folder: Path) -> tuple[str, Path]:
    """Returns (label, path): a run description (run.json) with a damaged config, damaged JSON, or an override."""
    run = {"format": "anr-run", "captures": ["a.h5"], "identities": ["a"], "renderer": "anr", "config": seeds.config}
    kind = int(rng.integers(3))
    if kind == 0:
        label, run["config"] = M.mutate_tree(rng, seeds.config)
        (folder / "run.json").write_text(json.dumps(run, allow_nan=True))
        return f"config {label}", folder / "run.json"
    if kind == 1:
        label, text = M.mutate_json_text(rng, json.dumps(run))
        (folder / "run.json").write_text(text)
        return f"run.json {label}", folder / "run.json"
    key = _config_key(seeds.config, rng)
    value = M.random_value(rng)
    text = f"{key}={json.dumps(value, allow_nan=True) if rng.random() < 0.7 else value}"
    (folder / "override.txt").write_text(text)
    return f"override {text[:40]}", folder / "override.txt"


def _config_key(config: dict, rng: np.random.Generator) -> str:
    keys = [f"{group}.{k}" for group, values in config.items() if isinstance(values, dict) for k in values]
    keys += [k for k, v in config.items() if not isinstance(v, dict)] + ["nope.key", "data", "", "model.r1.depth.x"]
    return keys[int(rng.integers(len(keys)))]


def load_config(path: Path) -> None:
    """Reads an override as `train --set` does, or a run description as `train --resume` does."""
    from anr_studio.train.config import TrainConfig
    from anr_studio.train.presets import preset
    from anr_studio.train.rundir import read_run_info

    if path.name == "override.txt":
        preset("tiny").with_overrides([path.read_text()])
        return
    info = read_run_info(path.parent)
    TrainConfig.from_dict(info["config"])
