"""People-Snapshot, as InstantAvatar and GART preprocess it, and as it is released.

Preprocessed folder (tijiang13/InstantAvatar ``scripts/peoplesnapshot/preprocess_PeopleSnapshot.py``
writes it, ``instant_avatar/datasets/peoplesnapshot.py`` and ``custom.py`` read it; JiahuiLei/GART
``lib_data/instant_avatar_people_snapshot.py`` reads the same)::

    cameras.npz   intrinsic (3,3) pixels, extrinsic (4,4) world-to-camera (OpenCV axes), height, width
    poses.npz     betas (10,) or (1,10); thetas (N,72) or global_orient (N,3) + body_pose (N,69); transl (N,3)
    images/       image_0000.png ... (already undistorted), sorted by name
    masks/        mask_0000.npy (H,W) 0/1 (People-Snapshot) or *.png 0/255 (custom sequences)

Release (``male-3-casual/`` etc.; read by the same preprocessing script)::

    camera.pkl                camera_f (2,), camera_c (2,), camera_k (5,) distortion, camera_rt (3,)
                              Rodrigues, camera_t (3,), width, height
    reconstructed_poses.hdf5  betas (10,), pose (N,72), trans (N,3)
    masks.hdf5                masks (N,H,W) 0/1
    <subject>.mp4             the frames, distorted: frames and masks are undistorted with camera_k
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from anr_studio.capture.formats import Probe, ReadOptions, ToolImport
from anr_studio.capture.formats.sources import mask_from_array, numbers, open_frames, require, undistorted
from anr_studio.capture.importers import VIDEO_EXTS, list_images, read_mask
from anr_studio.errors import AnrError

NAME = "people-snapshot"
LAYOUT = ("a People-Snapshot folder: cameras.npz + poses.npz + images/ + masks/ (InstantAvatar, GART), "
          "or camera.pkl + reconstructed_poses.hdf5 + masks.hdf5 + the video")


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


def _npz(path: Path, expected: str) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise AnrError(f"{path}: does not exist, expected {expected}")
    from anr_studio.motion.safe_npz import NpzArchive

    with NpzArchive(path, expected) as data:  # each header checked before its data, damage is one sentence
        return {k: data.array(k) for k in data.keys}


def _read_processed(src: Path, options: ReadOptions) -> ToolImport:
    cam_path = src / "cameras.npz"
    cam = _npz(cam_path, "intrinsic, extrinsic, height and width")
    label = str(cam_path)
    K = numbers(require(cam, "intrinsic", label, "intrinsics (3,3) in pixels"), label, "intrinsic", (3, 3))
    E = numbers(require(cam, "extrinsic", label, "world-to-camera extrinsics (4,4)"), label, "extrinsic", (4, 4))
    height = int(numbers(require(cam, "height", label, "the image height"), label, "height", ()))
    width = int(numbers(require(cam, "width", label, "the image width"), label, "width", ()))
    pose_path = options.poses or src / "poses.npz"
    params = _npz(pose_path, "betas, thetas (N,72) and transl (N,3)")
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
    return ToolImport(raw, n, plabel, frames.frames, _masks(src / "masks", n), identity=src.name)


def _masks(folder: Path, n: int):
    if not folder.is_dir():
        return None
    npy = sorted(folder.glob("*.npy"))
    files = npy or list_images(folder)
    if len(files) != n:
        raise AnrError(f"{folder}: holds {len(files)} masks, expected {n} (one per frame)")
    if npy:
        return (mask_from_array(_load_mask_npy(p), str(p)) for p in npy)
    return (read_mask(p) for p in files)


def _load_mask_npy(path: Path) -> np.ndarray:
    from anr_studio.motion.safe_npz import load_npy

    return load_npy(path, "a NumPy mask of (H, W) 0/1 values")


def _read_release(src: Path, options: ReadOptions, probe: Probe) -> ToolImport:
    cam_path = src / "camera.pkl"
    cam = probe.pickle(cam_path)
    label = str(cam_path)
    f = numbers(require(cam, "camera_f", label, "focal lengths (2,)"), label, "camera_f", (2,))
    c = numbers(require(cam, "camera_c", label, "principal point (2,)"), label, "camera_c", (2,))
    dist = numbers(require(cam, "camera_k", label, "distortion (5,)"), label, "camera_k", (-1,))
    rt = numbers(require(cam, "camera_rt", label, "rotation (3,) Rodrigues"), label, "camera_rt", (3,))
    t = numbers(require(cam, "camera_t", label, "translation (3,)"), label, "camera_t", (3,))
    K = np.array([[f[0], 0, c[0]], [0, f[1], c[1]], [0, 0, 1.0]])
    E = np.eye(4)
    E[:3, :3], E[:3, 3] = cv2.Rodrigues(rt)[0], t
    pose_path = options.poses or src / "reconstructed_poses.hdf5"
    with _h5(pose_path, "betas, pose and trans") as h5:
        plabel = str(pose_path)
        raw = {key: np.asarray(require(h5, key, plabel, "betas (10,), pose (N,72) and trans (N,3)"))
               for key in ("betas", "pose", "trans")}
    raw = {"poses": raw["pose"], "trans": raw["trans"], "betas": raw["betas"].reshape(-1), "K": K, "E": E}
    n = len(raw["trans"])
    videos = sorted(p for p in src.iterdir() if p.suffix.lower() in VIDEO_EXTS)
    if len(videos) != 1:
        raise AnrError(f"{src}: holds {len(videos)} videos, expected the subject's one .mp4 next to camera.pkl")
    frames = open_frames(videos[0])
    masks = None
    if (src / "masks.hdf5").is_file():
        masks = _release_masks(src / "masks.hdf5", n)
    camera = [(K, dist)] * n
    return ToolImport(raw, n, plabel, undistorted(frames.frames, camera),
                      None if masks is None else undistorted(masks, camera), fps=frames.fps, identity=src.name)


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
