"""EasyMocap datasets and fits (``--format easymocap``; the layout is in docs/capture_import.md).

Cameras as zju3dv/EasyMocap ``easymocap/mytools/camera_utils.py`` reads them (``intri.yml``, ``extri.yml``);
fits as ``easymocap/mytools/file_utils.py`` writes them (``output/smpl/<frame>.json``).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from anr_studio.capture.formats import Probe, ReadOptions, ToolImport
from anr_studio.capture.formats.sources import (by_stem, extrinsics, numbers, person_masks, read_json, rh_th_fits,
                                                undistorted)
from anr_studio.capture.images import read_image
from anr_studio.errors import AnrError

NAME = "easymocap"
_FIT_FOLDERS = ("output/smpl", "output-smpl-3d/smpl", "smpl")


def matches(src: Path, poses: Path | None, probe: Probe) -> bool:
    """Returns whether ``src`` is an EasyMocap dataset folder."""
    return src.is_dir() and (src / "intri.yml").is_file() and (src / "extri.yml").is_file()


def _node(fs: cv2.FileStorage, key: str, label: str, expected: str, required: bool = True):
    node = fs.getNode(key)
    if node.empty() and required:
        raise AnrError(f"{label}: has no {key}, expected {expected}")
    return None if node.empty() else node


def _open_yaml(path: Path) -> cv2.FileStorage:
    """Returns the OpenCV YAML file ``path`` opened for reading; AnrError when it does not parse."""
    try:
        fs = cv2.FileStorage(str(path), cv2.FILE_STORAGE_READ)
        opened = fs.isOpened()
    except (cv2.error, SystemError):  # OpenCV's parser raises on damaged YAML
        opened = False
    if not opened:
        raise AnrError(f"{path}: cannot read it as OpenCV YAML, expected EasyMocap's camera file")
    return fs


def read_cameras(src: Path) -> dict[str, dict[str, np.ndarray]]:
    """Returns EasyMocap's cameras by name: ``K (3,3)``, ``D (k,)``, ``R (3,3)``, ``t (3,)`` metres."""
    intri_path, extri_path = src / "intri.yml", src / "extri.yml"
    intri, extri = _open_yaml(intri_path), _open_yaml(extri_path)
    il, el = str(intri_path), str(extri_path)
    cams = {}
    try:
        names_node = _node(intri, "names", il, "the list of camera names")
        for cam in [names_node.at(i).string() for i in range(names_node.size())]:
            K = numbers(_node(intri, f"K_{cam}", il, f"K_{cam} (3,3)").mat(), il, f"K_{cam}", (3, 3))
            d = _node(intri, f"dist_{cam}", il, "", False) or _node(intri, f"D_{cam}", il, f"dist_{cam} (1,5)")
            D = numbers(d.mat(), il, f"dist_{cam}", (-1, -1)).reshape(-1)
            rot = _node(extri, f"Rot_{cam}", el, "", False)
            if rot is not None:
                R = numbers(rot.mat(), el, f"Rot_{cam}", (3, 3))
            else:
                rvec = _node(extri, f"R_{cam}", el, f"Rot_{cam} (3,3) or R_{cam} (3,1)").mat()
                R = cv2.Rodrigues(numbers(rvec, el, f"R_{cam}", (3, 1)))[0]
            t = numbers(_node(extri, f"T_{cam}", el, f"T_{cam} (3,1) metres").mat(), el, f"T_{cam}", (3, 1)).reshape(3)
            cams[cam] = {"K": K, "D": D, "R": R, "t": t}
    except (cv2.error, SystemError):  # OpenCV raises on a node of another type than the one read
        raise AnrError(f"{il} / {el}: a camera's node is not of the type EasyMocap writes, expected names (a list), "
                       "K_, dist_, Rot_ or R_ and T_ matrices of every camera") from None
    return cams


def _fits_folder(src: Path, poses: Path | None) -> Path:
    if poses is not None:
        return poses
    for rel in _FIT_FOLDERS:
        if (src / rel).is_dir():
            return src / rel
    raise AnrError(f"{src}: has no SMPL fits ({', '.join(_FIT_FOLDERS)}), expected EasyMocap's output/smpl/ "
                   "json files or --poses FOLDER")


def read(src: Path, options: ReadOptions, probe: Probe) -> ToolImport:
    """Returns one camera's frames of an EasyMocap dataset with the fitted person."""
    cams = read_cameras(src)
    if not cams:
        raise AnrError(f"{src / 'intri.yml'}: names lists no camera, expected at least one")
    view = options.view if options.view is not None else next(iter(cams))
    if view not in cams:
        raise AnrError(f"--view: {view!r} is not a camera of {src / 'intri.yml'}, expected one of {', '.join(cams)}")
    cam = cams[view]
    fits = _fits_folder(src, options.poses)
    files = sorted(fits.glob("*.json"))
    if not files:
        raise AnrError(f"{fits}: holds no .json fits, expected EasyMocap's <frame>.json per frame")
    stems = [p.stem for p in files]
    image_dir = src / "images" / view
    images = by_stem(image_dir, stems, "image")
    raw = rh_th_fits(((_person(p, options.person), str(p)) for p in files), "EasyMocap's Rh, Th, poses and shapes",
                     options.pelvis)
    raw.update(K=cam["K"], E=extrinsics(cam["R"], cam["t"]))
    frames = undistorted((read_image(p) for p in images), cam["K"], cam["D"])
    mask_dir = next((src / m / view for m in ("mask", "masks") if (src / m / view).is_dir()), None)
    masks = None if mask_dir is None else undistorted(
        person_masks([p] for p in by_stem(mask_dir, stems, "mask")), cam["K"], cam["D"])
    return ToolImport(raw, len(files), str(fits), frames, masks, identity=src.name)


def _person(path: Path, person: int | None) -> dict:
    people = read_json(path, "EasyMocap's list of people")
    if isinstance(people, dict) and "annots" in people:
        people = people["annots"]
    if not isinstance(people, list) or not people or not all(isinstance(p, dict) for p in people):
        raise AnrError(f"{path}: holds no people, expected a list of {{id, Rh, Th, poses, shapes}}")
    if person is None:
        return min(people, key=lambda p: p.get("id", 0))
    found = [p for p in people if p.get("id") == person]
    if not found:
        raise AnrError(f"{path}: has no person with id {person}, expected the person in every frame "
                       "(cut the sequence, or choose another id with --person)")
    return found[0]
