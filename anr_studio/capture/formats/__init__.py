"""Importers for the layouts that body-fitting tools and avatar datasets write (docs/capture_import.md): each
returns a :class:`ToolImport` of SMPL parameters (as ``importers.parse_parameters`` reads them), frames and masks."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from anr_studio.errors import AnrError

# The generic folder/video layout of `anr-studio import` (importers.py).
GENERIC = "folder"


@dataclass
class ReadOptions:
    """What the user chose: the tool's result file or folder, which person, which camera view."""

    poses: Path | None
    person: int | None
    view: str | None
    # SMPL's rest pelvis joint (3,) for shape coefficients (K,): tools that rotate the body about
    # SMPL's origin, or store the pelvis position, need it to give SMPL's `trans`.
    pelvis: Callable[[np.ndarray], np.ndarray]


@dataclass
class ToolImport:
    """A tool's result read into the generic layout, and where the frames and masks come from."""

    raw: dict[str, Any]  # poses (N,72) ..., trans (N,3), betas, K, E: as parse_parameters reads them
    n: int | None  # frames (None: one per row of poses)
    label: str  # the parameter file, for messages
    frames: Iterator[np.ndarray]  # (H,W,3) uint8 RGB, n of them
    masks: Iterator[np.ndarray] | None = None  # (H,W) uint8 0..255
    fps: float | None = None
    identity: str | None = None
    background: Path | None = None  # a clean plate image


class Probe:
    """Loads result files (pickle / joblib, .npz, .npy: :mod:`safe_pickle`) once for detection and reading:
    ``probe.pickle(path)``, ``probe.npz(path)`` (arrays by name), ``probe.npy(path)``."""

    def __init__(self) -> None:
        from anr_studio.capture.formats import safe_pickle

        self.pickle = cache(lambda path: safe_pickle.read(path, "a result pickle"))
        self.npz = cache(lambda path: safe_pickle.read_npz(path, "an .npz of results"))
        self.npy = cache(lambda path: safe_pickle.read_npy(path, "an .npy of results"))


@lru_cache(maxsize=1)
def formats() -> dict[str, Any]:
    """Returns the format modules by name (each has ``NAME``, ``matches`` and ``read``)."""
    from anr_studio.capture.formats import camera_frame, easymocap, people_snapshot, phalp, romp, zju_mocap

    modules = [people_snapshot, phalp, romp, easymocap, zju_mocap, *camera_frame.FORMATS]
    return {m.NAME: m for m in modules}


ALIASES = {"instant-avatar": "people-snapshot", "instantavatar": "people-snapshot", "gart": "people-snapshot",
           "4d-humans": "phalp", "4dhumans": "phalp", "bev": "romp", "zju": "zju-mocap", "smplerx": "smpler-x"}


def names() -> list[str]:
    """Returns the layout names ``--format`` lists: the generic layout and the formats (it accepts their aliases too)."""
    return [GENERIC, *formats()]


def resolve(src: Path, poses: Path | None, name: str | None, probe: Probe) -> str:
    """Returns the format of ``src`` (+ ``poses``): ``name``, else the one layout that matches, else the generic one."""
    if name is not None:
        key = ALIASES.get(name.lower(), name.lower())
        if key != GENERIC and key not in formats():
            raise AnrError(f"--format: {name!r} is not a known layout, expected one of {', '.join(names())}")
        return key
    found = [n for n, m in formats().items() if m.matches(src, poses, probe)]
    if len(found) > 1:
        raise AnrError(f"{poses or src}: matches the layouts of {' and '.join(found)}, expected one: "
                       f"choose with --format {found[0]}")
    return found[0] if found else GENERIC

