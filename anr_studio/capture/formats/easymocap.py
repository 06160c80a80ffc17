"""EasyMocap datasets and fits: ``intri.yml`` / ``extri.yml``, ``images/<cam>/``, SMPL json per frame.

Layout (zju3dv/EasyMocap ``easymocap/mytools/camera_utils.py`` ``read_camera``; OpenCV
FileStorage YAML): ``intri.yml`` holds ``names`` (the cameras) and per camera ``K_<cam>`` (3,3)
and ``dist_<cam>`` (1,5) (or ``D_<cam>``); ``extri.yml`` holds ``Rot_<cam>`` (3,3) (or ``R_<cam>``
(3,1) Rodrigues) and ``T_<cam>`` (3,1) metres, world-to-camera. Frames are
``images/<cam>/<frame:06d>.jpg``, masks (optional) ``mask/<cam>/<frame>.png`` (non-zero = person).
Fits (``output/smpl/<frame:06d>.json``, ``easymocap/mytools/file_utils.py`` ``write_smpl``): a list
of people ``{"id", "Rh": [[3]], "Th": [[3]], "poses": [[72]], "shapes": [[10]]}``.

EasyMocap's body model (``easymocap/smplmodel/body_model.py``) rotates the posed body about
SMPL's origin, not its pelvis: ``v = R(Rh) v_smpl(poses, shapes) + Th``. SMPL's own parameters
are ``R_root = R(Rh) R(poses[:3])`` and ``trans = Th + R(Rh) J0 - J0`` (J0: SMPL's rest pelvis
for the shape). Frames and masks are undistorted with the camera's distortion.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from anr_studio.capture.formats import Probe, ReadOptions, ToolImport
from anr_studio.capture.formats.sources import (axis_angle_to_rotations, numbers, open_frames, person_mask, require,
                                                rotations_to_axis_angle, undistorted)
from anr_studio.capture.importers import list_images
from anr_studio.errors import AnrError

NAME = "easymocap"
LAYOUT = "an EasyMocap folder: intri.yml, extri.yml, images/<camera>/, and SMPL json per frame (output/smpl/)"
_FIT_FOLDERS = ("output/smpl", "output-smpl-3d/smpl", "smpl")


def matches(src: Path, poses: Path | None, probe: Probe) -> bool:
    """Returns whether ``src`` is an EasyMocap dataset folder."""
    return src.is_dir() and (src / "intri.yml").is_file() and (src / "extri.yml").is_file()


def rh_th_to_smpl(poses: np.ndarray, rh: np.ndarray, th: np.ndarray, pelvis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Returns SMPL's ``pose (N,72)`` and ``trans (N,3)`` for EasyMocap's ``poses (N,72)``, ``Rh (N,3)``,
    ``Th (N,3)`` (the body rotated about SMPL's origin), ``pelvis (3,)`` SMPL's rest pelvis joint."""
    r = axis_angle_to_rotations(rh)
    pose = np.asarray(poses, np.float64).copy()
    pose[:, :3] = rotations_to_axis_angle(r @ axis_angle_to_rotations(pose[:, :3]))
    trans = th + r @ pelvis - pelvis
    return pose, trans


def _node(fs: cv2.FileStorage, key: str, label: str, expected: str, required: bool = True):
    node = fs.getNode(key)
    if node.empty():
        if required:
            raise AnrError(f"{label}: has no {key}, expected {expected}")
        return None
    return node


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
    try:
        return _cameras(intri, extri, il, el)
    except (cv2.error, SystemError):  # OpenCV raises on a node of another type than the one read
        raise AnrError(f"{il} / {el}: a camera's node is not of the type EasyMocap writes, expected names (a list), "
                       "K_, dist_, Rot_ or R_ and T_ matrices of every camera") from None


def _cameras(intri: cv2.FileStorage, extri: cv2.FileStorage, il: str, el: str) -> dict[str, dict[str, np.ndarray]]:
    names_node = _node(intri, "names", il, "the list of camera names")
    names = [names_node.at(i).string() for i in range(names_node.size())]
    cams = {}
    for cam in names:
        K = numbers(_node(intri, f"K_{cam}", il, f"K_{cam} (3,3)").mat(), il, f"K_{cam}", (3, 3))
        d = _node(intri, f"dist_{cam}", il, "", False) or _node(intri, f"D_{cam}", il, f"dist_{cam} (1,5)")
        D = numbers(d.mat(), il, f"dist_{cam}", (-1, -1)).reshape(-1)
        rot = _node(extri, f"Rot_{cam}", el, "", False)
        if rot is not None:
            R = numbers(rot.mat(), el, f"Rot_{cam}", (3, 3))
        else:
            rvec = numbers(_node(extri, f"R_{cam}", el, f"Rot_{cam} (3,3) or R_{cam} (3,1)").mat(), el, f"R_{cam}", (3, 1))
            R = cv2.Rodrigues(rvec)[0]
        t = numbers(_node(extri, f"T_{cam}", el, f"T_{cam} (3,1) metres").mat(), el, f"T_{cam}", (3, 1)).reshape(3)
        cams[cam] = {"K": K, "D": D, "R": R, "t": t}
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
    image_dir = src / "images" / view
    images = {p.stem: p for p in list_images(image_dir)} if image_dir.is_dir() else {}
    missing = [p.stem for p in files if p.stem not in images]
    if missing:
        raise AnrError(f"{image_dir}: has no image {missing[0]}, expected one per fit in {fits}")
    rows, rh, th, shapes = [], [], [], []
    for p in files:
        person = _person(p, options.person)
        where = f"{p}"
        expected = "EasyMocap's Rh, Th, poses and shapes"
        rows.append(numbers(require(person, "poses", where, expected), where, "poses", (1, -1)).reshape(-1)[:72])
        if len(rows[-1]) != 72:
            raise AnrError(f"{where}: poses has {len(rows[-1])} values, expected 72 (SMPL)")
        rh.append(numbers(require(person, "Rh", where, expected), where, "Rh", (1, 3))[0])
        th.append(numbers(require(person, "Th", where, expected), where, "Th", (1, 3))[0])
        shapes.append(numbers(require(person, "shapes", where, expected), where, "shapes", (1, -1))[0])
    betas = np.mean(shapes, 0)
    pose, trans = rh_th_to_smpl(np.stack(rows), np.stack(rh), np.stack(th), options.pelvis(betas))
    E = np.eye(4)
    E[:3, :3], E[:3, 3] = cam["R"], cam["t"]
    raw = {"poses": pose, "trans": trans, "betas": betas, "K": cam["K"], "E": E}
    order = [images[p.stem] for p in files]
    frames = open_frames(image_dir, indices=[list_images(image_dir).index(f) for f in order])
    camera = [(cam["K"], cam["D"])] * len(files)
    mask_dir = next((src / m / view for m in ("mask", "masks") if (src / m / view).is_dir()), None)
    masks = None
    if mask_dir is not None:
        by_stem = {q.stem: q for q in list_images(mask_dir)}
        absent = [p.stem for p in files if p.stem not in by_stem]
        if absent:
            raise AnrError(f"{mask_dir}: has no mask {absent[0]}.png, expected one per frame")
        masks = undistorted((person_mask(by_stem[p.stem]) for p in files), camera)
    return ToolImport(raw, len(files), str(fits), undistorted(frames.frames, camera), masks, identity=src.name)


def _person(path: Path, person: int | None) -> dict:
    try:
        people = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else exc
        raise AnrError(f"{path}: cannot read it as JSON ({reason}), expected EasyMocap's list of people") from None
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
