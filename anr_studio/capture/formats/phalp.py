"""4D-Humans / PHALP tracking results (``--format phalp``; the layout is in docs/capture_import.md).

``joblib.dump`` of ``final_visuals_dic`` (brjathu/PHALP ``phalp/trackers/PHALP.py``): per frame ``time``,
``tid``, ``tracked_ids`` and per person ``smpl`` rotations, ``camera`` (SMPL's translation in the camera
frame) and ``size``. The camera (``phalp/models/hmar/hmar.py``) sees the frame padded to a square and
resized to ``render.res = 256`` with a focal length of ``EXTRA.FOCAL_LENGTH = 5000``.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from anr_studio.capture.formats import Probe, ReadOptions, ToolImport
from anr_studio.capture.formats.sources import (field, intrinsics as pinhole, numbers, open_frames, padded_square, pick,
                                                require, result_pickle, rotations_to_axis_angle, tool_pickle)
from anr_studio.errors import AnrError

NAME = "phalp"
FOCAL_LENGTH = 5000.0  # PHALP's EXTRA.FOCAL_LENGTH
RENDER_RES = 256  # PHALP's render.res


def _frames_dict(data) -> bool:
    if not isinstance(data, dict) or not data:
        return False
    first = next(iter(data.values()))
    return isinstance(first, dict) and {"smpl", "camera", "tid"} <= set(first)


def matches(src: Path, poses: Path | None, probe: Probe) -> bool:
    """Returns whether ``poses`` is a PHALP / 4D-Humans result pickle."""
    return _frames_dict(result_pickle(poses, probe))


def read(src: Path, options: ReadOptions, probe: Probe) -> ToolImport:
    """Returns one tracked person's fits from a PHALP pickle, with the frames of ``src``."""
    label, data = tool_pickle(src, options.poses, probe, "PHALP", "outputs/results/NAME.pkl")
    if not _frames_dict(data):
        raise AnrError(f"{label}: is not a PHALP result (a dict of frames with smpl, camera, tid), "
                       "expected 4D-Humans / PHALP output")
    frames = sorted(data.items(), key=lambda kv: _time(kv[1], kv[0], label))
    tid = pick(Counter(t for _, f in frames for t in set(_observed(f))), options.person, label, "track")
    rows, trans, betas, K = [], [], [], []
    for name, frame in frames:
        if tid not in _observed(frame):
            raise AnrError(f"{label}: track {tid} is not seen in frame {name!r}, expected the person in every "
                           "frame (cut the clip, or choose another track with --person)")
        i = list(frame["tid"]).index(tid)
        where = f"{label}: frame {name!r}"
        smpl = _entry(frame, "smpl", i, where)
        root = field(smpl, "global_orient", where, (1, 3, 3), "global_orient (1,3,3)")
        body = field(smpl, "body_pose", where, (23, 3, 3), "body_pose (23,3,3)")
        rows.append(rotations_to_axis_angle(np.concatenate([root, body])).reshape(72))
        betas.append(field(smpl, "betas", where, (len(betas[0]) if betas else -1,), "betas (10,) in every frame"))
        trans.append(numbers(_entry(frame, "camera", i, where), where, "camera", (3,)))
        h, w = numbers(_entry(frame, "size", i, where), where, "size", (2,))
        K.append(intrinsics(int(h), int(w)))
    video = open_frames(src)
    if video.size != (int(h), int(w)):
        raise AnrError(f"{src}: frames are {video.size[1]}x{video.size[0]}, expected {int(w)}x{int(h)} as "
                       f"{options.poses.name} records (the frames PHALP ran on)")
    raw = {"poses": np.stack(rows), "trans": np.stack(trans), "betas": np.stack(betas), "K": np.stack(K), "E": np.eye(4)}
    return ToolImport(raw, len(rows), label, video.frames, fps=video.fps)


def intrinsics(h: int, w: int) -> np.ndarray:
    """Returns PHALP's camera (3,3) in the pixels of an ``h`` x ``w`` frame (module docstring)."""
    side, left, top = padded_square(h, w)
    f = FOCAL_LENGTH * side / RENDER_RES
    return pinhole(f, f, side / 2 - left, side / 2 - top)


def _time(frame, name, label: str) -> float:
    if not isinstance(frame, dict) or "time" not in frame:
        raise AnrError(f"{label}: frame {name!r} has no time, expected PHALP's per-frame dict")
    return float(frame["time"])


def _observed(frame) -> list:
    ids = frame.get("tracked_ids", frame.get("tid", []))
    return [int(t) for t in ids] if isinstance(ids, (list, tuple, np.ndarray)) else []


def _entry(frame, key: str, i: int, where: str):
    values = require(frame, key, where, f"{key} per tracked person")
    if not isinstance(values, (list, tuple)) or len(values) <= i:
        raise AnrError(f"{where}: {key} has no entry {i}, expected one per tracked person (as tid)")
    return values[i]
