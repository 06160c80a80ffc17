"""People-Snapshot as InstantAvatar and GART preprocess it, and as it is released (``--format people-snapshot``).

Preprocessed (``cameras.npz``, ``poses.npz``, ``images/``, ``masks/``) as tijiang13/InstantAvatar
``scripts/peoplesnapshot/preprocess_PeopleSnapshot.py`` writes it from the release (``camera.pkl``,
``reconstructed_poses.hdf5``, ``masks.hdf5``, the distorted video); both in docs/capture_import.md.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import cv2
import numpy as np

from anr_studio.capture.formats import Probe, ReadOptions, ToolImport
from anr_studio.capture.formats.sources import extrinsics, field, intrinsics, open_frames, read_arrays, require, undistorted
from anr_studio.capture.images import VIDEO_EXTS, folder_masks, list_images, mask_from_array
from anr_studio.errors import AnrError

NAME = "people-snapshot"


def matches(src: Path, poses: Path | None, probe: Probe) -> bool:
    """Returns whether ``src`` is a preprocessed or released People-Snapshot folder."""
    if not src.is_dir():
        return False
    processed = (src / "cameras.npz").is_file() and (src / "images").is_dir()
    release = (src / "camera.pkl").is_file() and (src / "reconstructed_poses.hdf5").is_file()
    return processed or release


def read(src: Path, options: ReadOptions, probe: Probe) -> ToolImport:
    """Returns the capture contents of a People-Snapshot folder (module docstring)."""
    if (src / "cameras.npz").is_file():
        return _read_processed(src, options)
    return _read_release(src, options, probe)


def _read_processed(src: Path, options: ReadOptions) -> ToolImport:
    cam_path = src / "cameras.npz"
    cam = read_arrays(cam_path, "intrinsic, extrinsic, height and width")
    label = str(cam_path)
    K = field(cam, "intrinsic", label, (3, 3), "intrinsics (3,3) in pixels")
    E = field(cam, "extrinsic", label, (4, 4), "world-to-camera extrinsics (4,4)")
    height = int(field(cam, "height", label, (), "the image height"))
    width = int(field(cam, "width", label, (), "the image width"))
    pose_path = options.poses or src / "poses.npz"
    params = read_arrays(pose_path, "betas, thetas (N,72) and transl (N,3)")
    plabel = str(pose_path)
    raw: dict = {"betas": np.asarray(require(params, "betas", plabel, "betas (10,)")).reshape(-1),
                 "trans": require(params, "transl", plabel, "transl (N,3) in metres"), "K": K, "E": E}
    if "thetas" in params:  # InstantAvatar's load_smpl_param: thetas[..., :3] is the root
        raw["poses"] = params["thetas"]
    else:
        raw["global_orient"] = require(params, "global_orient", plabel, "thetas (N,72) or global_orient + body_pose")
        raw["body_pose"] = require(params, "body_pose", plabel, "body_pose (N,69)")
    n = len(np.atleast_1d(raw["trans"]))
    images = list_images(src / "images")
    if len(images) != n:
        raise AnrError(f"{src / 'images'}: holds {len(images)} images, expected {n} (one per row of {pose_path.name})")
    frames = open_frames(src / "images")
    if frames.size != (height, width):
        raise AnrError(f"{images[0]}: is {frames.size[1]}x{frames.size[0]}, expected {width}x{height} as {cam_path.name} says")
    masks = folder_masks(src / "masks", n) if (src / "masks").is_dir() else None
    return ToolImport(raw, n, plabel, frames.frames, masks, identity=src.name)


def _read_release(src: Path, options: ReadOptions, probe: Probe) -> ToolImport:
    cam_path = src / "camera.pkl"
    cam = probe.pickle(cam_path)
    label = str(cam_path)
    f = field(cam, "camera_f", label, (2,), "focal lengths (2,)")
    c = field(cam, "camera_c", label, (2,), "principal point (2,)")
    dist = field(cam, "camera_k", label, (-1,), "distortion (5,)")
    rt = field(cam, "camera_rt", label, (3,), "rotation (3,) Rodrigues")
    t = field(cam, "camera_t", label, (3,), "translation (3,)")
    K, E = intrinsics(f[0], f[1], c[0], c[1]), extrinsics(cv2.Rodrigues(rt)[0], t)
    pose_path = options.poses or src / "reconstructed_poses.hdf5"
    plabel = str(pose_path)
    with _h5(pose_path, "betas, pose and trans") as h5:
        betas, poses, trans = (np.asarray(require(h5, key, plabel, "betas (10,), pose (N,72) and trans (N,3)"))
                               for key in ("betas", "pose", "trans"))
    raw = {"poses": poses, "trans": trans, "betas": betas.reshape(-1), "K": K, "E": E}
    n = len(raw["trans"])
    videos = sorted(p for p in src.iterdir() if p.suffix.lower() in VIDEO_EXTS)
    if len(videos) != 1:
        raise AnrError(f"{src}: holds {len(videos)} videos, expected the subject's one .mp4 next to camera.pkl")
    frames = open_frames(videos[0])
    masks = _release_masks(src / "masks.hdf5", n) if (src / "masks.hdf5").is_file() else None
    # the first n frames: the video may run on past the fits
    return ToolImport(raw, n, plabel, undistorted(itertools.islice(frames.frames, n), K, dist),
                      None if masks is None else undistorted(masks, K, dist), fps=frames.fps, identity=src.name)


def _h5(path: Path, expected: str):
    import h5py

    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise AnrError(f"{path}: cannot read it as HDF5 ({exc}), expected {expected}") from None


def _release_masks(path: Path, n: int):
    with _h5(path, "masks (N,H,W)") as h5:
        masks = require(h5, "masks", str(path), "masks (N,H,W) 0/1")
        if masks.ndim != 3 or masks.shape[0] != n:
            raise AnrError(f"{path}: masks has shape {masks.shape}, expected ({n}, H, W)")
        data = np.asarray(masks)
    return (mask_from_array(m, f"{path}: masks[{i}]") for i, m in enumerate(data))
