"""ROMP / BEV results (``--format romp``; the layout and both cameras are in docs/capture_import.md).

As Arthur151/ROMP ``simple_romp/romp/utils.py`` writes them (``<frame>.npz`` with an object member
``results``, or ``video_results.npz`` by frame name, a video's frames named ``<index:08d>``), drawn on
the frame padded to a square. Cameras: ``simple_romp/romp/post_parser.py`` (ROMP) and
``simple_romp/bev/post_parser.py`` (BEV, hips at the origin).
"""

from __future__ import annotations

import zipfile
from collections import Counter
from pathlib import Path

import numpy as np

from anr_studio.capture.formats import Probe, ReadOptions, ToolImport
from anr_studio.capture.formats.sources import field, intrinsics, open_frames, padded_square, pick, require
from anr_studio.capture.images import list_images
from anr_studio.errors import AnrError

NAME = "romp"


def _files(poses: Path | None) -> list[Path]:
    if poses is None:
        return []
    if poses.is_dir():
        return sorted(p for p in poses.glob("*.npz") if p.name != "video_results.npz") or (
            [poses / "video_results.npz"] if (poses / "video_results.npz").is_file() else [])
    return [poses] if poses.is_file() and poses.suffix.lower() == ".npz" else []


def matches(src: Path, poses: Path | None, probe: Probe) -> bool:
    """Returns whether ``poses`` holds ROMP / BEV results (an .npz with an object member ``results``)."""
    files = _files(poses)
    if not files:
        return False
    try:
        with zipfile.ZipFile(files[0]) as archive:
            return "results.npy" in archive.namelist()
    except (OSError, zipfile.BadZipFile):
        return False


def _frames(poses: Path, probe: Probe) -> dict[str, dict]:
    """Returns the per-frame result dicts by frame name (stem)."""
    files = _files(poses)
    if len(files) == 1 and (files[0].name == "video_results.npz" or "sequence_results" in probe.npz(files[0])):
        results = require(probe.npz(files[0]), "results", str(files[0]), "ROMP's results by frame name")
        if not isinstance(results, dict):
            raise AnrError(f"{files[0]}: results is a {type(results).__name__}, expected a dict by frame name")
        return {Path(str(k)).stem: v for k, v in results.items()}
    return {p.stem: require(probe.npz(p), "results", str(p), "ROMP's per-frame results") for p in files}


def read(src: Path, options: ReadOptions, probe: Probe) -> ToolImport:
    """Returns one person's fits from ROMP / BEV results, with the frames of ``src``."""
    if not _files(options.poses):
        raise AnrError(f"{options.poses or src}: holds no ROMP results, expected --poses video_results.npz or "
                       "the folder of per-frame .npz files")
    label = str(options.poses)
    by_name = _frames(options.poses, probe)
    names = sorted(by_name)
    tracked = all(isinstance(by_name[k], dict) and "track_ids" in by_name[k] for k in names)
    track = options.person if tracked else None
    if tracked and track is None:
        track = pick(Counter(int(t) for k in names for t in np.atleast_1d(by_name[k]["track_ids"])), None, label, "track")
    rows, cams, betas = [], [], []
    for name in names:
        where = f"{label}: frame {name}"
        result = by_name[name]
        cam = field(result, "cam", where, (-1, 3), "cam (P,3) = (s, tx, ty)")
        thetas = field(result, "smpl_thetas", where, (len(cam), 72), "smpl_thetas (P,72)")
        shape = field(result, "smpl_betas", where, (len(cam), len(betas[0]) if betas else -1), "smpl_betas (P,10)")
        if track is not None:
            ids = [int(t) for t in np.atleast_1d(result["track_ids"])]
            if track not in ids:
                raise AnrError(f"{where}: has no person of track {track}, expected the person in every frame "
                               "(cut the clip, or choose another track with --person)")
            i = ids.index(track)
        elif options.person is not None:
            if options.person >= len(cam):
                raise AnrError(f"{where}: has {len(cam)} people, expected person {options.person}")
            i = options.person
        else:
            i = int(np.argmax(cam[:, 0]))  # the largest person, as ROMP's --show_largest picks
        if cam[i, 0] <= 0:
            raise AnrError(f"{where}: cam scale is {cam[i, 0]:g}, expected a positive scale (the person's size)")
        rows.append(thetas[i])
        cams.append(cam[i])
        betas.append(shape[i])
    _check_frames(src, names, label)
    video = open_frames(src)
    side, left, top = padded_square(*video.size)
    pose, cam = np.stack(rows), np.stack(cams)
    bev = np.stack(betas).shape[1] >= 11
    trans, f = _bev_camera(pose, cam, side) if bev else _romp_camera(cam, side)
    K = intrinsics(f, f, side / 2 - left, side / 2 - top)
    raw = {"poses": pose, "trans": trans, "betas": np.stack(betas)[:, :10], "K": K, "E": np.eye(4)}
    return ToolImport(raw, len(rows), label, video.frames, fps=video.fps)


def _romp_camera(cam: np.ndarray, side: int) -> tuple[np.ndarray, float]:
    """Returns SMPL's ``trans (N,3)`` and the focal length for ROMP's weak-perspective ``cam (N,3)``."""
    s, tx, ty = cam.T
    return np.stack([tx / s, ty / s, 2.0 / s], 1), float(side)


TAN_FOV = np.tan(np.radians(30.0))  # BEV's 60 degree field of view


def _bev_camera(pose: np.ndarray, cam: np.ndarray, side: int) -> tuple[np.ndarray, float]:
    """Returns SMPL's ``trans (N,3)`` and the focal length for BEV's ``cam (N,3)`` and ``pose (N,72)``."""
    from anr_studio.capture.smpl_convert import smpl_joints

    depth = 1.0 / (cam[:, 0] * TAN_FOV + 1e-3)
    root = np.stack([cam[:, 2] * depth * TAN_FOV, cam[:, 1] * depth * TAN_FOV, depth], 1)
    hips = smpl_joints(pose.reshape(-1, 24, 3), np.zeros((len(pose), 3)))[:, [1, 2]].mean(1)
    return root - hips, 443.4 * side / 512.0


def _check_frames(src: Path, names: list[str], label: str) -> None:
    """Checks that ROMP has a result for every frame of ``src`` (by image name, or ``<index:08d>`` for a video)."""
    if src.is_dir():
        stems, known = [p.stem for p in list_images(src)], set(names)
        extra = sorted(known - set(stems))
        if extra:
            raise AnrError(f"{src}: has no image named {extra[0]}, expected the frames ROMP ran on")
        missing = [k for k in stems if k not in known]
    else:
        bad = [k for k in names if not k.isdigit()]
        if bad:
            raise AnrError(f"{src}: ROMP frame {bad[0]!r} is not a frame number, expected <index:08d> names for a video "
                           "(or give the folder of frames ROMP ran on as SRC)")
        found = {int(k) for k in names}
        missing = [f"{i:08d}" for i in range(max(found) + 1) if i not in found]
    if missing:
        raise AnrError(f"{label}: has no result for frame {missing[0]}, expected one per frame (ROMP found nobody "
                       "there: cut the clip to the frames with the person)")
