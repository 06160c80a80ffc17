"""Importers: a folder of images or a video, plus SMPL poses and cameras, into a capture file (no file on failure).

Layouts (docs/capture_import.md): (a) a folder with ``images/``, optional ``masks/`` and ``background.png``, and
``metadata.json`` or one ``.npz``; (b) a video with a pose ``.npz``; (c) those of :mod:`anr_studio.capture.formats`.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from anr_studio.capture import formats
from anr_studio.capture.formats.sources import PICKLE_SUFFIXES, existing, numbers, read_arrays, read_json
from anr_studio.capture.images import VIDEO_EXTS, folder_masks, list_images, read_image, video_frames, video_info
from anr_studio.capture.reader import Capture
from anr_studio.capture.store import CaptureWriter
from anr_studio.errors import AnrError
from anr_studio.motion.clip import MAX_FPS, MIN_FPS
from anr_studio.motion.smpl_npz import body_pose_from_rows

DEFAULT_FPS = 30.0
DEFAULT_BETAS = 10


# -- parameters ----------------------------------------------------------------------------
def _per_frame(raw: dict[str, Any], key: str, tail: tuple[int, ...], n: int, label: str) -> np.ndarray:
    """Returns ``raw[key]`` as static ``tail`` or per frame ``(n, *tail)`` float32 (column vectors (..., 3, 1)
    as (..., 3)); AnrError otherwise."""
    array = numbers(raw[key], label, key)
    if tail == (3,) and array.shape[-2:] == (3, 1):
        array = array[..., 0]
    if array.shape == tail or array.shape == (n,) + tail:
        return array.astype(np.float32)
    want = " or ".join(str(s) for s in (tail, (n,) + tail))
    raise AnrError(f"{label}: {key} has shape {array.shape}, expected {want} (one per frame)")


def parse_parameters(raw: dict[str, Any], n: int | None, label: str) -> dict[str, Any]:
    """Returns ``pose (n,24,3)``, ``transl (n,3)``, ``betas (K,)``, ``K``, ``R``, ``t`` (static or per frame)
    and ``fps`` (or None) from ``raw`` for ``n`` frames (None: one per row of poses)."""
    if n is not None and n < 1:
        raise AnrError(f"{label}: describes {n} frames, expected at least one")
    if "poses" in raw:
        poses = numbers(raw["poses"], label, "poses")
        flat = _rows(raw, "poses", label) if poses.ndim >= 2 else poses.reshape(1, -1)
    elif "global_orient" in raw and "body_pose" in raw:
        root, body = _rows(raw, "global_orient", label), _rows(raw, "body_pose", label)
        if len(root) != len(body):
            raise AnrError(f"{label}: global_orient has {len(root)} rows and body_pose {len(body)}, expected one per frame in both")
        flat = np.concatenate([root, body], 1)
    else:
        raise AnrError(f"{label}: no poses found (keys: {', '.join(sorted(raw)) or 'none'}), expected 'poses' (N,72)")
    n = flat.shape[0] if n is None else n
    if flat.shape[0] != n:
        raise AnrError(f"{label}: poses has {flat.shape[0]} rows, expected {n} (one per frame)")
    pose = body_pose_from_rows(flat.astype(np.float32), label, "poses")
    tkey = next((k for k in ("trans", "transl") if k in raw), None)
    transl = np.zeros((n, 3), np.float32) if tkey is None else numbers(raw[tkey], label, tkey, (n, 3)).astype(np.float32)
    betas = numbers(raw.get("betas", np.zeros(DEFAULT_BETAS)), label, "betas")
    if betas.ndim == 2:  # per-frame fits of one person: their mean is the person's shape
        betas = betas.mean(axis=0)
    if betas.ndim != 1:
        raise AnrError(f"{label}: betas has shape {betas.shape}, expected (K,) or (N, K)")
    if "K" not in raw:
        raise AnrError(f"{label}: K is missing, expected camera intrinsics (3,3) or (N,3,3)")
    K = _per_frame(raw, "K", (3, 3), n, label)
    if "E" in raw:
        E = _per_frame(raw, "E", (4, 4), n, label)
        if np.abs(E[..., 3, :] - np.array([0, 0, 0, 1])).max() > 1e-4:
            raise AnrError(f"{label}: E has a last row other than [0, 0, 0, 1], expected 4x4 rigid world-to-camera matrices")
        R, t = E[..., :3, :3], E[..., :3, 3]
    elif "R" in raw and "t" in raw:
        R, t = _per_frame(raw, "R", (3, 3), n, label), _per_frame(raw, "t", (3,), n, label)
    else:
        raise AnrError(f"{label}: E is missing, expected world-to-camera extrinsics (4,4) or (N,4,4) (or R and t)")
    if K.ndim == 3 or R.ndim == 3 or t.ndim == 2:  # one of them moves: store all per frame
        K, R, t = (np.broadcast_to(a, (n, *tail)).copy() for a, tail in zip((K, R, t), ((3, 3), (3, 3), (3,))))
    return {"pose": pose, "transl": transl, "betas": betas.astype(np.float32), "K": K, "R": R, "t": t,
            "fps": None if raw.get("fps") is None else _frame_rate(raw["fps"], label)}


def _rows(raw: dict[str, Any], key: str, label: str) -> np.ndarray:
    """Returns ``raw[key]`` as (rows, values); AnrError for a single value or no values."""
    array = numbers(raw[key], label, key)
    if array.ndim == 0 or array.size == 0:
        raise AnrError(f"{label}: {key} has shape {array.shape}, expected one row of values per frame")
    return array.reshape(array.shape[0], -1)


def _frame_rate(value: Any, label: str) -> float:
    """Returns the frame rate in ``value`` (one number); AnrError otherwise."""
    fps = numbers(value, label, "fps")
    if fps.size != 1 or not MIN_FPS <= float(fps.reshape(-1)[0]) <= MAX_FPS:
        shown = fps.reshape(-1)[:3].tolist()
        raise AnrError(f"{label}: fps is {shown}, expected one number from {MIN_FPS:g} to {MAX_FPS:g} (frames per second)")
    return float(fps.reshape(-1)[0])


def read_parameter_file(path: Path) -> tuple[dict[str, Any], list[str] | None]:
    """Returns the raw parameters of an .npz or metadata.json, and the per-frame file names (json ``frames``) or None."""
    label = path.name
    if path.suffix.lower() == ".npz":
        return read_arrays(path, "SMPL parameters and cameras"), None
    meta = read_json(path, "the capture parameters", label)
    if not isinstance(meta, dict):
        raise AnrError(f"{label}: top level is a {type(meta).__name__}, expected an object with poses, K, E")
    if "frames" not in meta:
        return meta, None
    frames = meta["frames"]
    if not isinstance(frames, list) or not all(isinstance(f, dict) for f in frames):
        raise AnrError(f"{label}: frames is not a list of objects, expected one object per frame")
    raw = {k: v for k, v in meta.items() if k != "frames"}
    for key in ("poses", "trans", "transl", "K", "E", "R", "t", "global_orient", "body_pose"):
        if any(key in f for f in frames):
            missing = [i for i, f in enumerate(frames) if key not in f]
            if missing:
                raise AnrError(f"{label}: frames[{missing[0]}] has no {key}, expected it in every frame")
            raw[key] = [f[key] for f in frames]
    names = [f.get("file") for f in frames]
    return raw, names if all(isinstance(x, str) for x in names) else None


def body_parameters(params: dict[str, Any], smpl) -> dict[str, Any]:
    """Returns ``pose``, ``transl``, ``betas`` and ``body_model`` (an id) from SMPL ``params``: converted to the
    built-in body, or kept as they are for the SMPL-format body ``smpl`` (its id is the file's sha256)."""
    if smpl is None:
        from anr_studio.body import BodyModel
        from anr_studio.capture.smpl_convert import convert_smpl_fit

        return {**convert_smpl_fit(params["pose"], params["transl"], BodyModel.default()), "body_model": "default"}
    betas = params["betas"]
    if len(betas) > smpl.num_betas:
        if np.abs(betas[smpl.num_betas:]).max() > 1e-6:
            raise AnrError(f"{smpl.source}: has {smpl.num_betas} shape coefficients, expected at least the "
                           f"{len(betas)} the fit's betas use")
        betas = betas[: smpl.num_betas]
    return {"pose": params["pose"], "transl": params["transl"], "betas": betas, "body_model": smpl.model_id}


# -- frames and masks ----------------------------------------------------------------------
def _mask_source(masks: Path | None, image_files: list[Path] | None) -> Iterator[np.ndarray] | None:
    if masks is None:
        return None
    if masks.is_dir():
        return folder_masks(masks, stems=None if image_files is None else [p.stem for p in image_files])
    if masks.is_file():
        return video_frames(masks, gray=True)
    raise AnrError(f"{masks}: does not exist, expected a masks folder or a mask video")


# -- import --------------------------------------------------------------------------------
def import_capture(src: str | os.PathLike, out: str | os.PathLike, *, poses: str | os.PathLike | None = None,
                   masks: str | os.PathLike | None = None, background: str | os.PathLike | None = None,
                   identity: str | None = None, fps: float | None = None,
                   body_model: str | os.PathLike | None = None,
                   progress: Callable[[int, int], None] | None = None, fmt: str | None = None,
                   person: int | None = None, view: str | None = None) -> Capture:
    """Returns the capture written to ``out`` from a folder or a video ``src`` (layouts in the module docstring).

    ``body_model``: the SMPL-format file the parameters were fitted with (None: convert to the built-in
    body). ``progress(done, total)`` after each frame (an exception it raises ends the import, nothing
    written). ``fmt``: the layout (None: detected); ``person``: which person or track; ``view``: which camera.
    """
    src, out = Path(src), Path(out)
    poses, masks = (Path(p) if p else None for p in (poses, masks))
    if not src.exists():
        raise AnrError(f"{src}: does not exist, expected a capture folder or a video file")
    if poses is not None and not poses.exists():
        raise AnrError(f"{poses}: does not exist, expected the fits' file or folder")
    from anr_studio.body import load_body

    smpl = None if body_model is None else load_body(body_model, source="import")
    probe = formats.Probe()
    name = formats.resolve(src, poses, fmt, probe)
    if name != formats.GENERIC:
        found = formats.formats()[name].read(src, formats.ReadOptions(poses, person, view, _pelvis(smpl)), probe)
        if masks:
            found.masks = _mask_source(masks, None)
    elif poses is not None and poses.suffix.lower() in PICKLE_SUFFIXES:
        raise AnrError(f"{poses}: is not a result file of a known tool, expected 4D-Humans / PHALP, WHAM or GLAMR "
                       f"output (or choose the layout with --format: {', '.join(formats.names())})")
    else:
        found = _read_generic(src, poses, masks)
    params = parse_parameters(found.raw, found.n, found.label)
    params.update(body_parameters(params, smpl))
    plate = Path(background) if background else found.background
    return _write(out, src, found.frames, found.masks, None if plate is None else read_image(plate), params,
                  fps or params["fps"] or found.fps or DEFAULT_FPS, identity or found.identity or src.stem, progress)


def _read_generic(src: Path, poses: Path | None, masks: Path | None) -> formats.ToolImport:
    """Returns the ToolImport of the generic layouts: (a) a folder with images/, (b) a video with its poses."""
    plate = video_fps = None
    if src.is_dir():
        image_files, param_path = _folder_source(src, poses)
        mask_path = masks or (src / "masks" if (src / "masks").is_dir() else None)
        plate = next((p for p in (src / "background.png", src / "background.jpg") if p.is_file()), None)
    elif src.suffix.lower() in VIDEO_EXTS:
        if poses is None:
            raise AnrError(f"{src}: a video needs its poses, expected --poses FILE.npz (one row per frame)")
        image_files, param_path, mask_path, video_fps = None, poses, masks, video_info(src)[1]
    else:
        raise AnrError(f"{src}: is neither a folder nor a video ({', '.join(sorted(VIDEO_EXTS))}), expected one of them")
    raw, json_names = read_parameter_file(param_path)
    if image_files is not None and json_names is not None:
        by_name = {p.name: p for p in image_files}
        missing = [x for x in json_names if x not in by_name]
        if missing:
            raise AnrError(f"{param_path.name}: frames name {missing[0]!r}, expected a file in images/")
        image_files = [by_name[x] for x in json_names]
    frames = video_frames(src) if image_files is None else (read_image(p) for p in image_files)
    n = None if image_files is None else len(image_files)  # a video: one frame per row of poses
    return formats.ToolImport(raw, n, param_path.name, frames, _mask_source(mask_path, image_files), video_fps, background=plate)


def _pelvis(smpl):
    """Returns SMPL's rest pelvis joint (3,) as a function of betas (K,): ``smpl``'s (None: the mean neutral body's)."""
    from anr_studio.capture.smpl_convert import SMPL_PELVIS

    def pelvis(betas: np.ndarray) -> np.ndarray:
        import torch

        b = np.zeros(smpl.num_betas) if not len(betas) else np.asarray(betas, np.float64)[: smpl.num_betas]
        with torch.no_grad():
            return smpl.rest_joints(torch.as_tensor(b[None], dtype=smpl.v_template.dtype))[0, 0].double().numpy()

    return (lambda betas: SMPL_PELVIS) if smpl is None else pelvis


def _folder_source(src: Path, poses: Path | None) -> tuple[list[Path], Path]:
    images_dir = src / "images"
    if not images_dir.is_dir():
        raise AnrError(f"{src}: has no images/ folder, expected images/, masks/ (optional) and metadata.json or an "
                       "SMPL .npz, or a tool's layout (see --format)")
    files = list_images(images_dir)
    if not files:
        raise AnrError(f"{images_dir}: holds no images, expected .png or .jpg frames")
    if poses is not None:
        param = poses
    elif (src / "metadata.json").is_file():
        param = src / "metadata.json"
    else:
        npz = sorted(src.glob("*.npz"))
        if len(npz) != 1:
            found = f"{len(npz)} .npz files ({', '.join(p.name for p in npz)})" if npz else "no parameter file"
            raise AnrError(f"{src}: holds {found}, expected the SMPL/camera parameters beside images/: metadata.json "
                           "or one SMPL .npz (or name the file with --poses)")
        param = npz[0]
    return files, existing(param, "the SMPL/camera parameter file")


def _write(out: Path, src: Path, frames: Iterator[np.ndarray], masks: Iterator[np.ndarray] | None,
           plate: np.ndarray | None, params: dict[str, Any], fps: float, identity: str,
           progress: Callable[[int, int], None] | None = None) -> Capture:
    n = len(params["pose"])
    first = next(frames, None)
    if first is None:
        raise AnrError(f"{src}: holds no frames, expected at least one")
    h, w = first.shape[:2]
    with CaptureWriter(out, identity, h, w, fps, betas=params["betas"], background=plate,
                       body_model=params["body_model"],
                       attrs={"source": str(src), "importer": "anr-studio import"}) as writer:
        writer.set_cameras(params["K"], params["R"], params["t"])
        writer.set_body(params["pose"], params["transl"])
        for i, frame in enumerate(itertools.chain([first], frames)):
            if i >= n:
                raise AnrError(f"{src}: has more than {n} frames, expected {n} (one per row of poses)")
            if frame.shape != (h, w, 3):
                raise AnrError(f"{src}: frame {i} is {frame.shape[1]}x{frame.shape[0]}, expected {w}x{h} like the first")
            mask = None if masks is None else next(masks, None)
            if masks is not None and mask is None:
                raise AnrError(f"{src}: masks end at frame {i}, expected one mask per frame")
            if mask is not None and mask.shape != (h, w):
                raise AnrError(f"{src}: mask {i} is {mask.shape[1]}x{mask.shape[0]}, expected {w}x{h} like the frames")
            writer.append(frame, mask=mask)
            if progress is not None:
                progress(i + 1, n)
        if writer.num_frames != n:
            raise AnrError(f"{src}: has {writer.num_frames} frames, expected {n} (one per row of poses)")
    return Capture(out)
