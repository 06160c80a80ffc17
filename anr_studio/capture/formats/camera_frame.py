"""Camera-frame fits: WHAM, GLAMR and SMPLer-X write SMPL(-X) parameters in the camera's frame.

All three put the body in camera coordinates (OpenCV axes: x right, y down, z forward), so the
capture's extrinsics are the identity; each stores or implies its intrinsics differently.

- WHAM (yohanshin/WHAM ``demo.py``, ``joblib.dump(results, "wham_output.pkl")``): a dict by
  subject id of ``pose (F,72)`` (camera-frame root), ``trans (F,3)`` (SMPL's ``transl``: ``demo.py``
  subtracts the hip offset its SMPL wrapper adds, ``lib/models/smpl.py``), ``betas (F,10)`` and
  ``frame_ids (F,)``, the video frames the subject is seen in. Intrinsics
  (``lib/utils/imutils.py`` ``compute_cam_intrinsics``, also ``lib/vis/run_vis.py``): focal length
  ``sqrt(width^2 + height^2)``, principal point the image centre.
- GLAMR (NVlabs/GLAMR ``global_recon/run_demo.py``, ``pickle.dump`` to ``grecon/<seq>_seed<k>.pkl``;
  keys from ``global_recon/models/global_recon_model.py``): ``person_data[id]`` holds
  ``smpl_orient_cam (F,3)``, ``smpl_pose (F,69)``, ``smpl_beta (F,10)``, ``root_trans_cam (F,3)``
  (the pelvis joint's position, not SMPL's ``transl``: ``trans = root_trans - J0(betas)``) and
  ``cam_K (F,3,3)``, over every frame of the video; ``visible (F,)`` marks the frames the person
  is seen in (the others are infilled), and only those are imported. ``cam_K`` is for the video
  GLAMR ran on (its principal point at the centre): for frames of the same video at another
  size it is scaled by their width over twice its ``cx``.
- SMPLer-X (caizhongang/SMPLer-X ``main/inference.py``): per frame and person,
  ``smplx/<frame:05>_<person>.npz`` with ``global_orient (1,3)``, ``body_pose (21,3)``,
  ``betas (1,10)``, ``transl (1,3)`` (the camera translation the model adds to SMPL-X), and
  ``meta/<frame:05>_<person>.json`` with ``focal [fx, fy]`` and ``princpt [cx, cy]`` in the
  frame's pixels. SMPL-X's rest pelvis is not SMPL's; ``trans`` is moved so the pelvis stays put.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from anr_studio.capture.formats import Probe, ReadOptions, ToolImport
from anr_studio.capture.formats.phalp import PICKLE_SUFFIXES
from anr_studio.capture.formats.sources import numbers, open_frames, require
from anr_studio.errors import AnrError

# SMPL-X's neutral rest pelvis joint (metres, SMPL-X's frame at zero shape): its origin is not at
# the pelvis, which sits about 0.35 m below it (SMPL's sits 0.22 m below its own).
SMPLX_PELVIS = np.array([0.0031, -0.3514, 0.0120])


def _pick(counts: dict, person: int | None, label: str, what: str):
    if not counts:
        raise AnrError(f"{label}: holds no {what}, expected at least one person")
    if person is None:
        return min(counts, key=lambda k: (-counts[k], str(k)))
    matching = [k for k in counts if str(k) == str(person)]
    if not matching:
        raise AnrError(f"{label}: has no {what} {person}, expected one of {', '.join(map(str, counts))}")
    return matching[0]


class Wham:
    """WHAM's ``wham_output.pkl`` (module docstring)."""

    NAME = "wham"
    LAYOUT = "WHAM's wham_output.pkl (subject -> pose, trans, betas, frame_ids) with the video as SRC"

    @staticmethod
    def _subjects(data) -> bool:
        return (isinstance(data, dict) and bool(data)
                and all(isinstance(v, dict) and {"pose", "trans", "frame_ids"} <= set(v) for v in data.values()))

    @staticmethod
    def matches(src: Path, poses: Path | None, probe: Probe) -> bool:
        return (poses is not None and poses.is_file() and poses.suffix.lower() in PICKLE_SUFFIXES
                and Wham._subjects(probe.pickle(poses)))

    @staticmethod
    def read(src: Path, options: ReadOptions, probe: Probe) -> ToolImport:
        if options.poses is None:
            raise AnrError(f"{src}: WHAM results need their file, expected --poses wham_output.pkl")
        label = str(options.poses)
        data = probe.pickle(options.poses)
        if not Wham._subjects(data):
            raise AnrError(f"{label}: is not WHAM output, expected subject ids mapping to pose, trans, betas, frame_ids")
        sid = _pick({k: len(np.atleast_1d(v["frame_ids"])) for k, v in data.items()}, options.person, label, "subject")
        subject, where = data[sid], f"{label}: subject {sid}"
        ids = numbers(subject["frame_ids"], where, "frame_ids", (-1,)).astype(int)
        n = len(ids)
        pose = numbers(_unbatched(subject["pose"]), where, "pose", (n, 72))
        trans = numbers(_unbatched(subject["trans"]), where, "trans", (n, 3))
        betas = numbers(_unbatched(require(subject, "betas", where, "betas (F,10)")), where, "betas", (n, -1))
        video = open_frames(src, indices=list(ids))
        h, w = video.size
        f = float(np.hypot(w, h))
        K = np.array([[f, 0, w / 2], [0, f, h / 2], [0, 0, 1.0]])
        raw = {"poses": pose, "trans": trans, "betas": betas, "K": K, "E": np.eye(4)}
        return ToolImport(raw, n, label, video.frames, fps=video.fps)


class Glamr:
    """GLAMR's ``grecon/<seq>_seed<k>.pkl`` (module docstring)."""

    NAME = "glamr"
    LAYOUT = "GLAMR's grecon/<seq>_seed1.pkl (person_data -> smpl_orient_cam, smpl_pose, root_trans_cam, cam_K)"

    @staticmethod
    def matches(src: Path, poses: Path | None, probe: Probe) -> bool:
        if poses is None or not poses.is_file() or poses.suffix.lower() not in PICKLE_SUFFIXES:
            return False
        data = probe.pickle(poses)
        return isinstance(data, dict) and isinstance(data.get("person_data"), dict)

    @staticmethod
    def read(src: Path, options: ReadOptions, probe: Probe) -> ToolImport:
        if options.poses is None:
            raise AnrError(f"{src}: GLAMR results need their file, expected --poses grecon/<seq>_seed1.pkl")
        label = str(options.poses)
        people = require(probe.pickle(options.poses), "person_data", label, "GLAMR's person_data")
        if not isinstance(people, dict):
            raise AnrError(f"{label}: person_data is a {type(people).__name__}, expected a dict by person id")
        visible = {k: _seen_frames(v) for k, v in people.items()}
        pid = _pick(visible, options.person, label, "person")
        person, where = people[pid], f"{label}: person_data[{pid}]"
        expected = "GLAMR's smpl_orient_cam, smpl_pose, smpl_beta, root_trans_cam, cam_K"
        orient = numbers(require(person, "smpl_orient_cam", where, expected), where, "smpl_orient_cam", (-1, 3))
        n = len(orient)
        body = numbers(require(person, "smpl_pose", where, expected), where, "smpl_pose", (n, 69))
        beta = numbers(require(person, "smpl_beta", where, expected), where, "smpl_beta", (n, -1))
        root = numbers(require(person, "root_trans_cam", where, expected), where, "root_trans_cam", (n, 3))
        K = numbers(require(person, "cam_K", where, expected), where, "cam_K", (n, 3, 3))
        betas = beta.mean(0)
        trans = root - options.pelvis(betas)[None]  # GLAMR stores where the pelvis joint is
        # GLAMR infills the frames where the person is not seen: only the seen ones are imported
        seen = np.arange(n)
        if "visible" in person:
            seen = np.flatnonzero(numbers(person["visible"], where, "visible", (n,)) > 0.5)
            if not len(seen):
                raise AnrError(f"{where}: visible is 0 in every frame, expected the person seen in some")
        video = open_frames(src, indices=None if len(seen) == n else list(seen))
        K = _scaled_to(K, video.size, where)
        raw = {"poses": np.concatenate([orient, body], 1)[seen], "trans": trans[seen], "betas": betas, "K": K[seen],
               "E": np.eye(4)}
        return ToolImport(raw, len(seen), label, video.frames, fps=video.fps)


class SmplerX:
    """SMPLer-X's ``smplx/`` and ``meta/`` folders (module docstring)."""

    NAME = "smpler-x"
    LAYOUT = "SMPLer-X's output folder (smplx/<frame>_<person>.npz + meta/<frame>_<person>.json) with the frames as SRC"
    _FILE = re.compile(r"^(\d+)_(\d+)$")

    @staticmethod
    def _folder(poses: Path | None) -> Path | None:
        if poses is None or not poses.is_dir():
            return None
        return poses if (poses / "smplx").is_dir() and (poses / "meta").is_dir() else None

    @staticmethod
    def matches(src: Path, poses: Path | None, probe: Probe) -> bool:
        return SmplerX._folder(poses) is not None

    @staticmethod
    def read(src: Path, options: ReadOptions, probe: Probe) -> ToolImport:
        out = SmplerX._folder(options.poses)
        if out is None:
            raise AnrError(f"{options.poses or src}: has no smplx/ and meta/ folders, expected --poses SMPLer-X's output folder")
        by_person: dict[int, dict[int, Path]] = {}
        for p in sorted((out / "smplx").glob("*.npz")):
            m = SmplerX._FILE.match(p.stem)
            if m:
                by_person.setdefault(int(m.group(2)), {})[int(m.group(1))] = p
        person = _pick({k: len(v) for k, v in by_person.items()}, options.person, str(out / "smplx"), "person")
        files = by_person[person]
        frames = sorted(files)
        if frames != list(range(frames[0], frames[0] + len(frames))):
            gap = next(f + 1 for f, g in zip(frames, frames[1:]) if g != f + 1)
            raise AnrError(f"{out / 'smplx'}: person {person} has no fit for frame {gap}, expected one for every "
                           "frame (cut the clip, or choose another person with --person)")
        # keep SMPL-X's pelvis where it is, on SMPL's rest skeleton
        offset = SMPLX_PELVIS - options.pelvis(np.zeros(0))
        rows, trans, betas, K = [], [], [], []
        for f in frames:
            label = str(files[f])
            params = _npz(files[f])
            expected = "SMPLer-X's global_orient, body_pose, betas, transl"
            root = numbers(np.asarray(require(params, "global_orient", label, expected)).reshape(-1), label, "global_orient", (3,))
            body = numbers(np.asarray(require(params, "body_pose", label, expected)).reshape(-1), label, "body_pose", (63,))
            shape = numbers(np.asarray(require(params, "betas", label, expected)).reshape(-1), label, "betas", (-1,))
            transl = numbers(np.asarray(require(params, "transl", label, expected)).reshape(-1), label, "transl", (3,))
            if betas and len(shape) != len(betas[0]):
                raise AnrError(f"{label}: betas has {len(shape)} values, expected {len(betas[0])} as in "
                               f"{files[frames[0]].name}")
            rows.append(np.concatenate([root, body]))
            betas.append(shape)
            trans.append(transl + offset)
            K.append(_meta_intrinsics(out / "meta" / f"{files[f].stem}.json"))
        video = open_frames(src, indices=_frame_indices(src, frames))
        label = str(out / "smplx")
        raw = {"poses": np.stack(rows), "trans": np.stack(trans), "betas": np.stack(betas), "K": np.stack(K), "E": np.eye(4)}
        return ToolImport(raw, len(rows), label, video.frames, fps=video.fps)


def _seen_frames(person) -> int:
    """Returns how many frames GLAMR's ``person`` entry is seen in (0 for one that is not a dict of numbers)."""
    if not isinstance(person, dict):
        return 0
    try:
        return int(np.sum(np.asarray(person.get("visible", [1]), dtype=float)))
    except (TypeError, ValueError, OverflowError):
        return 0  # refused with its field's name if this person is the one imported


def _frame_indices(src: Path, numbers_: list[int]) -> list[int]:
    """Returns the positions in ``src`` of SMPLer-X's frame numbers: it reads ``<k:06d>.jpg`` (frames
    extracted from a video numbered from 1), so in a folder by name, in a video k - 1."""
    if not src.is_dir():
        return [k - 1 for k in numbers_]
    from anr_studio.capture.importers import list_images

    position = {p.stem: i for i, p in enumerate(list_images(src))}
    missing = [k for k in numbers_ if f"{k:06d}" not in position]
    if missing:
        raise AnrError(f"{src}: has no image {missing[0]:06d}.jpg, expected the frames SMPLer-X ran on")
    return [position[f"{k:06d}"] for k in numbers_]


def _scaled_to(K: np.ndarray, size: tuple[int, int], where: str) -> np.ndarray:
    """Returns intrinsics ``K (N,3,3)`` scaled to frames of ``size`` (H, W) when the tool ran on the
    same video at another resolution (its principal point, the image centre, tells which)."""
    h, w = size
    sx, sy = w / (2 * K[:, 0, 2].mean()), h / (2 * K[:, 1, 2].mean())
    if abs(sx - sy) > 0.01 * max(sx, sy):
        raise AnrError(f"{where}: cam_K is for {2 * K[:, 0, 2].mean():.0f}x{2 * K[:, 1, 2].mean():.0f} frames, expected "
                       f"the frames the tool ran on (these are {w}x{h}, another aspect ratio)")
    if abs(sx - 1) < 1e-3:
        return K
    K = K.copy()
    K[:, :2] *= sx
    return K


def _unbatched(value) -> np.ndarray:
    """Returns ``value`` without a leading batch axis of one ((1,F,k) -> (F,k))."""
    array = np.asarray(value)
    return array[0] if array.ndim == 3 and array.shape[0] == 1 else array


def _npz(path: Path) -> dict:
    from anr_studio.motion.safe_npz import NpzArchive

    with NpzArchive(path, "SMPLer-X's parameters") as data:  # each header checked before its data
        return {k: data.array(k) for k in data.keys}


def _meta_intrinsics(path: Path) -> np.ndarray:
    label = str(path)
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else exc
        raise AnrError(f"{label}: cannot read it as JSON ({reason}), expected SMPLer-X's focal and princpt") from None
    f = numbers(require(meta, "focal", label, "focal [fx, fy] in pixels"), label, "focal", (2,))
    c = numbers(require(meta, "princpt", label, "princpt [cx, cy] in pixels"), label, "princpt", (2,))
    return np.array([[f[0], 0, c[0]], [0, f[1], c[1]], [0, 0, 1.0]])


FORMATS = (Wham, Glamr, SmplerX)
