"""ZJU-MoCap sequences (``--format zju-mocap``; the layout is in docs/capture_import.md).

As zju3dv/neuralbody ``lib/datasets/light_stage/tpose_dataset.py`` reads them: ``annots.npy`` (``cams``
K, D, R, T in millimetres; ``ims`` per frame per camera), ``params/<i>.npy`` EasyMocap fits, ``mask/`` and
``mask_cihp/`` part labels united. ``R`` is projected onto a rotation (the stored values are rounded).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from anr_studio.capture.formats import Probe, ReadOptions, ToolImport
from anr_studio.capture.formats.sources import (existing, extrinsics, numbers, person_masks, require, rh_th_fits,
                                                undistorted)
from anr_studio.capture.images import read_image
from anr_studio.errors import AnrError

NAME = "zju-mocap"
_PARAM_FOLDERS = ("smpl_params", "new_params", "params")


def matches(src: Path, poses: Path | None, probe: Probe) -> bool:
    """Returns whether ``src`` is a ZJU-MoCap sequence folder."""
    return src.is_dir() and (src / "annots.npy").is_file()


def _frame_number(image: str) -> int:
    stem = Path(image).stem
    if stem.isdigit():
        return int(stem)
    parts = stem.split("_")
    if len(parts) > 4 and parts[4].isdigit():  # CoreView_313_Camera_(1)_0001_2019-08-23_...
        return int(parts[4])
    raise AnrError(f"{image}: has no frame number in its name, expected <number>.jpg")


def read(src: Path, options: ReadOptions, probe: Probe) -> ToolImport:
    """Returns one camera's frames of a ZJU-MoCap sequence with its SMPL fits."""
    label = str(src / "annots.npy")
    annots = probe.npy(src / "annots.npy")
    cams = require(annots, "cams", label, "cams with K, D, R, T per camera")
    ims = require(annots, "ims", label, "ims: per frame the image of each camera")
    lists = {key: require(cams, key, f"{label}: cams", "K, D, R and T per camera") for key in ("K", "D", "R", "T")}
    count = len(lists["K"])
    view = _view(options.view, ims, count, label)
    K = numbers(lists["K"][view], label, f"cams K[{view}]", (3, 3))
    D = numbers(lists["D"][view], label, f"cams D[{view}]", (-1, -1)).reshape(-1)
    u, _, vt = np.linalg.svd(numbers(lists["R"][view], label, f"cams R[{view}]", (3, 3)))
    t = numbers(lists["T"][view], label, f"cams T[{view}]", (3, 1)) / 1000.0  # millimetres
    if not isinstance(ims, list) or not ims:
        raise AnrError(f"{label}: ims is empty, expected one entry per frame")
    images = []
    for i, frame in enumerate(ims):
        paths = require(frame, "ims", f"{label}: ims[{i}]", "the image path of each camera")
        if len(paths) <= view:
            raise AnrError(f"{label}: ims[{i}] has {len(paths)} images, expected camera {view}")
        images.append(str(paths[view]))
    param_dir = next((src / d for d in _PARAM_FOLDERS if (src / d).is_dir()), None) if options.poses is None else options.poses
    if param_dir is None:
        raise AnrError(f"{src}: has no SMPL fits ({', '.join(_PARAM_FOLDERS)}/), expected <frame>.npy per frame")
    fits = (existing(param_dir / f"{_frame_number(image)}.npy", f"the SMPL fit of {image}") for image in images)
    raw = rh_th_fits(((probe.npy(path), str(path)) for path in fits), "poses, Rh, Th and shapes", options.pelvis)
    raw.update(K=K, E=extrinsics(u @ vt, t))
    frames = (read_image(existing(src / p, "the image annots.npy lists")) for p in images)
    return ToolImport(raw, len(images), label, undistorted(frames, K, D), _masks(src, images, K, D), identity=src.name)


def _view(view: str | None, ims, count: int, label: str) -> int:
    if view is None:
        return 0
    if view.isdigit() and int(view) < count:
        return int(view)
    names = [Path(str(p)).parent.name for p in ims[0]["ims"]] if ims and isinstance(ims[0], dict) else []
    if view in names:
        return names.index(view)
    raise AnrError(f"--view: {view!r} is not a camera of {label}, expected 0..{count - 1} or a camera folder name")


def _masks(src: Path, images: list[str], K: np.ndarray, D: np.ndarray):
    found = []
    for image in images:
        rel = Path(image).with_suffix(".png")
        candidates = [src / "mask" / rel, src / "mask_cihp" / rel, src / str(rel).replace("images", "mask", 1)]
        found.append([p for p in dict.fromkeys(candidates) if p.is_file()])
    if not any(found):
        return None
    missing = [image for image, paths in zip(images, found) if not paths]
    if missing:
        raise AnrError(f"{src / 'mask'}: has no mask for {missing[0]}, expected one per frame")
    return undistorted(person_masks(found), K, D)
