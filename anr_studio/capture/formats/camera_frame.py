"""Camera-frame fits (``--format wham``, ``glamr``, ``smpler-x``; layouts in docs/capture_import.md).

All three write SMPL(-X) parameters in the camera's frame (OpenCV axes), so the capture's
extrinsics are the identity; each implies its intrinsics differently. Sources:

- WHAM: yohanshin/WHAM ``demo.py`` (``joblib.dump`` of ``wham_output.pkl``; ``trans`` is SMPL's
  ``transl``: the hip offset its SMPL wrapper adds, ``lib/models/smpl.py``, is subtracted), focal
  length ``sqrt(width^2 + height^2)`` (``lib/utils/imutils.py`` ``compute_cam_intrinsics``).
- GLAMR: NVlabs/GLAMR ``global_recon/run_demo.py`` and ``global_recon/models/global_recon_model.py``
  (``root_trans_cam`` is where the pelvis joint is; ``visible`` marks the frames not infilled).
- SMPLer-X: caizhongang/SMPLer-X ``main/inference.py`` (``smplx/<frame:05>_<person>.npz`` and
  ``meta/<frame:05>_<person>.json``); SMPL-X's rest pelvis is not SMPL's, so ``trans`` is moved.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from anr_studio.capture.formats import Probe, ReadOptions, ToolImport
from anr_studio.capture.formats.sources import (field, intrinsics, numbers, open_frames, pick, read_arrays, read_json,
                                                require, result_pickle, tool_pickle)
from anr_studio.capture.images import list_images
from anr_studio.errors import AnrError

# SMPL-X's neutral rest pelvis joint (metres, SMPL-X's frame at zero shape): its origin is not at
# the pelvis, which sits about 0.35 m below it (SMPL's sits 0.22 m below its own).
SMPLX_PELVIS = np.array([0.0031, -0.3514, 0.0120])


class Wham:
    """WHAM's ``wham_output.pkl`` (module docstring)."""

    NAME = "wham"

    def _subjects(self, data) -> bool:
        return (isinstance(data, dict) and bool(data)
                and all(isinstance(v, dict) and {"pose", "trans", "frame_ids"} <= set(v) for v in data.values()))

    def matches(self, src: Path, poses: Path | None, probe: Probe) -> bool:
        return self._subjects(result_pickle(poses, probe))

    def read(self, src: Path, options: ReadOptions, probe: Probe) -> ToolImport:
        label, data = tool_pickle(src, options.poses, probe, "WHAM", "wham_output.pkl")
        if not self._subjects(data):
            raise AnrError(f"{label}: is not WHAM output, expected subject ids mapping to pose, trans, betas, frame_ids")
        sid = pick({k: len(np.atleast_1d(v["frame_ids"])) for k, v in data.items()}, options.person, label, "subject")
        subject, where = data[sid], f"{label}: subject {sid}"
        ids = numbers(subject["frame_ids"], where, "frame_ids", (-1,)).astype(int)
        n = len(ids)
        pose = numbers(_unbatched(subject["pose"]), where, "pose", (n, 72))
        trans = numbers(_unbatched(subject["trans"]), where, "trans", (n, 3))
        betas = numbers(_unbatched(require(subject, "betas", where, "betas (F,10)")), where, "betas", (n, -1))
        video = open_frames(src, indices=list(ids))
        h, w = video.size
        f = float(np.hypot(w, h))
        raw = {"poses": pose, "trans": trans, "betas": betas, "K": intrinsics(f, f, w / 2, h / 2), "E": np.eye(4)}
        return ToolImport(raw, n, label, video.frames, fps=video.fps)


class Glamr:
    """GLAMR's ``grecon/<seq>_seed<k>.pkl`` (module docstring)."""

    NAME = "glamr"

    def matches(self, src: Path, poses: Path | None, probe: Probe) -> bool:
        data = result_pickle(poses, probe)
        return isinstance(data, dict) and isinstance(data.get("person_data"), dict)

    def read(self, src: Path, options: ReadOptions, probe: Probe) -> ToolImport:
        label, data = tool_pickle(src, options.poses, probe, "GLAMR", "grecon/<seq>_seed1.pkl")
        people = require(data, "person_data", label, "GLAMR's person_data")
        if not isinstance(people, dict):
            raise AnrError(f"{label}: person_data is a {type(people).__name__}, expected a dict by person id")
        visible = {k: _seen_frames(v) for k, v in people.items()}
        pid = pick(visible, options.person, label, "person")
        person, where = people[pid], f"{label}: person_data[{pid}]"
        expected = "GLAMR's smpl_orient_cam, smpl_pose, smpl_beta, root_trans_cam, cam_K"
        orient = field(person, "smpl_orient_cam", where, (-1, 3), expected)
        n = len(orient)
        body = field(person, "smpl_pose", where, (n, 69), expected)
        beta = field(person, "smpl_beta", where, (n, -1), expected)
        root = field(person, "root_trans_cam", where, (n, 3), expected)
        K = field(person, "cam_K", where, (n, 3, 3), expected)
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
    _FILE = re.compile(r"^(\d+)_(\d+)$")

    def _folder(self, poses: Path | None) -> Path | None:
        if poses is None or not poses.is_dir():
            return None
        return poses if (poses / "smplx").is_dir() and (poses / "meta").is_dir() else None

    def matches(self, src: Path, poses: Path | None, probe: Probe) -> bool:
        return self._folder(poses) is not None

    def read(self, src: Path, options: ReadOptions, probe: Probe) -> ToolImport:
        out = self._folder(options.poses)
        if out is None:
            raise AnrError(f"{options.poses or src}: has no smplx/ and meta/ folders, expected --poses SMPLer-X's output folder")
        by_person: dict[int, dict[int, Path]] = {}
        for p in sorted((out / "smplx").glob("*.npz")):
            m = self._FILE.match(p.stem)
            if m:
                by_person.setdefault(int(m.group(2)), {})[int(m.group(1))] = p
        person = pick({k: len(v) for k, v in by_person.items()}, options.person, str(out / "smplx"), "person")
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
            params = read_arrays(files[f], "SMPLer-X's parameters")
            expected = "SMPLer-X's global_orient, body_pose, betas, transl"
            root = field(params, "global_orient", label, (3,), expected, flat=True)
            body = field(params, "body_pose", label, (63,), expected, flat=True)
            shape = field(params, "betas", label, (len(betas[0]) if betas else -1,), expected, flat=True)
            transl = field(params, "transl", label, (3,), expected, flat=True)
            rows.append(np.concatenate([root, body]))
            betas.append(shape)
            trans.append(transl + offset)
            K.append(_meta_intrinsics(out / "meta" / f"{files[f].stem}.json"))
        video = open_frames(src, indices=_frame_indices(src, frames))
        label = str(out / "smplx")
        raw = {"poses": np.stack(rows), "trans": np.stack(trans), "betas": np.stack(betas), "K": np.stack(K), "E": np.eye(4)}
        return ToolImport(raw, len(rows), label, video.frames, fps=video.fps)


def _seen_frames(person) -> int:
    """Returns how many frames GLAMR's ``person`` entry is seen in (0 when it is not a dict of numbers)."""
    if not isinstance(person, dict):
        return 0
    try:
        return int(np.sum(np.asarray(person.get("visible", [1]), dtype=float)))
    except (TypeError, ValueError, OverflowError):
        return 0  # refused with its field's name if this person is the one imported


def _frame_indices(src: Path, numbers_: list[int]) -> list[int]:
    """Returns the positions in ``src`` of SMPLer-X's frame numbers (``<k:06d>.jpg``, numbered from 1)."""
    if not src.is_dir():
        return [k - 1 for k in numbers_]
    position = {p.stem: i for i, p in enumerate(list_images(src))}
    missing = [k for k in numbers_ if f"{k:06d}" not in position]
    if missing:
        raise AnrError(f"{src}: has no image {missing[0]:06d}.jpg, expected the frames SMPLer-X ran on")
    return [position[f"{k:06d}"] for k in numbers_]


def _scaled_to(K: np.ndarray, size: tuple[int, int], where: str) -> np.ndarray:
    """Returns intrinsics ``K (N,3,3)`` scaled to frames of ``size`` (H, W) (its principal point is the centre)."""
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


def _meta_intrinsics(path: Path) -> np.ndarray:
    label, meta = str(path), read_json(path, "SMPLer-X's focal and princpt")
    f = field(meta, "focal", label, (2,), "focal [fx, fy] in pixels")
    c = field(meta, "princpt", label, (2,), "princpt [cx, cy] in pixels")
    return intrinsics(f[0], f[1], c[0], c[1])


FORMATS = (Wham(), Glamr(), SmplerX())
