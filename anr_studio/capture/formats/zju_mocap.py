"""ZJU-MoCap sequences: ``annots.npy`` with the cameras and image lists, SMPL ``.npy`` per frame.

Layout (zju3dv/neuralbody ``lib/datasets/light_stage/tpose_dataset.py``; JiahuiLei/GART
``lib_data/zju_mocap.py`` for the instant-nvr copy ``my_377``): ``annots.npy`` is ``np.save`` of a
dict: ``cams`` with per camera ``K`` (3,3), ``D`` (5,1) distortion, ``R`` (3,3) and ``T`` (3,1)
**millimetres**, world-to-camera; ``ims``, per frame ``{"ims": [image path per camera]}``. The
SMPL fit of a frame is ``params/<i>.npy`` (``new_params/``, ``smpl_params/`` in later copies),
``np.save`` of ``{"poses": (1,72), "Rh": (1,3), "Th": (1,3), "shapes": (1,10)}``, ``i`` the image's
number (``000123.jpg``; CoreView_313/315 name ``..._Camera_(1)_0001_...jpg``: the fifth field).
Masks: ``mask/<image path>.png`` and ``mask_cihp/<image path>.png`` (part labels: non-zero is the
person; their union is used, as neuralbody does), or the image path with ``images`` -> ``mask``.

``Rh``/``Th`` rotate about SMPL's origin, as EasyMocap's (:func:`easymocap.rh_th_to_smpl`);
``R`` is projected onto a rotation (the stored values are rounded, GART notes). Both are read with
the restricted unpickler. Frames and masks are undistorted with ``D``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from anr_studio.capture.formats import Probe, ReadOptions, ToolImport
from anr_studio.capture.formats.easymocap import rh_th_to_smpl
from anr_studio.capture.formats.sources import numbers, person_mask, require, undistorted
from anr_studio.capture.importers import read_image
from anr_studio.errors import AnrError

NAME = "zju-mocap"
LAYOUT = "a ZJU-MoCap folder: annots.npy (cams K, D, R, T; ims) and params/<frame>.npy SMPL fits"
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


def _rotation(R: np.ndarray) -> np.ndarray:
    u, _, vt = np.linalg.svd(R)
    return u @ vt


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
    R = _rotation(numbers(lists["R"][view], label, f"cams R[{view}]", (3, 3)))
    t = numbers(lists["T"][view], label, f"cams T[{view}]", (3, 1)).reshape(3) / 1000.0  # millimetres
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
    rows, rh, th, shapes = [], [], [], []
    for image in images:
        path = param_dir / f"{_frame_number(image)}.npy"
        if not path.is_file():
            raise AnrError(f"{path}: does not exist, expected the SMPL fit of {image}")
        fit, where = probe.npy(path), str(path)
        expected = "poses, Rh, Th and shapes"
        rows.append(numbers(require(fit, "poses", where, expected), where, "poses", (1, 72))[0])
        rh.append(numbers(require(fit, "Rh", where, expected), where, "Rh", (1, 3))[0])
        th.append(numbers(require(fit, "Th", where, expected), where, "Th", (1, 3))[0])
        shapes.append(numbers(require(fit, "shapes", where, expected), where, "shapes", (1, -1))[0])
    betas = np.mean(shapes, 0)
    pose, trans = rh_th_to_smpl(np.stack(rows), np.stack(rh), np.stack(th), options.pelvis(betas))
    E = np.eye(4)
    E[:3, :3], E[:3, 3] = R, t
    raw = {"poses": pose, "trans": trans, "betas": betas, "K": K, "E": E}
    camera = [(K, D)] * len(images)
    frames = (read_image(_existing(src / p)) for p in images)
    return ToolImport(raw, len(images), label, undistorted(frames, camera),
                      _masks(src, images, camera), identity=src.name)


def _view(view: str | None, ims, count: int, label: str) -> int:
    if view is None:
        return 0
    if view.isdigit() and int(view) < count:
        return int(view)
    names = [Path(str(p)).parent.name for p in ims[0]["ims"]] if ims and isinstance(ims[0], dict) else []
    if view in names:
        return names.index(view)
    raise AnrError(f"--view: {view!r} is not a camera of {label}, expected 0..{count - 1} or a camera folder name")


def _existing(path: Path) -> Path:
    if not path.is_file():
        raise AnrError(f"{path}: does not exist, expected the image annots.npy lists")
    return path


def _mask_paths(src: Path, image: str) -> list[Path]:
    rel = Path(image).with_suffix(".png")
    candidates = [src / "mask" / rel, src / "mask_cihp" / rel, src / str(rel).replace("images", "mask", 1)]
    return [p for p in dict.fromkeys(candidates) if p.is_file()]


def _masks(src: Path, images: list[str], camera):
    found = [_mask_paths(src, image) for image in images]
    if not any(found):
        return None
    missing = [image for image, paths in zip(images, found) if not paths]
    if missing:
        raise AnrError(f"{src / 'mask'}: has no mask for {missing[0]}, expected one per frame")

    def union(paths: list[Path]) -> np.ndarray:
        out = person_mask(paths[0])
        for p in paths[1:]:
            part = person_mask(p)
            if part.shape != out.shape:
                raise AnrError(f"{p}: is {part.shape[1]}x{part.shape[0]}, expected the size of {paths[0].name} "
                               f"({out.shape[1]}x{out.shape[0]})")
            out = np.maximum(out, part)
        return out

    return undistorted((union(paths) for paths in found), camera)
