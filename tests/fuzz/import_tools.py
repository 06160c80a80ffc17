"""The fitting tools' layouts that the import fuzz target draws from, written by the tools' own format
tests: 4D-Humans / PHALP, EasyMocap, ZJU-MoCap, ROMP, BEV, WHAM, GLAMR and SMPLer-X; and the damage
for their pickles (an edit of the tree they hold, or a pickle that would run a command).

Each layout lies in ``seeds/<tool>/`` with its frames (a folder or a video) and its fits; ``TOOLS``
says which is the source, which the ``--poses`` file and which camera (``--view``) to import.
"""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import numpy as np

from tests.fuzz import mutate as M

# tool: (source, poses beside it or None, view or None)
TOOLS = {
    "phalp": ("img", "demo_clip.pkl", None),
    "easymocap": ("easymocap_seq", None, "02"),
    "zju": ("CoreView_377", None, "Camera_B2"),
    "romp": ("dance.mp4", "video_results.npz", None),
    "bev": ("frames", "bev_frames", None),
    "wham": ("clip.mp4", "wham_output.pkl", None),
    "glamr": ("basketball.mp4", "basketball_seed1.pkl", None),
    "smplerx": ("frames", "smplerx_out", None),
}


def write_tool_seeds(folder: Path) -> None:
    """Writes every tool's layout under ``folder/<tool>/`` as the tools' format tests do (3 frames of 128x96)."""
    from anr_studio.capture.formats.camera_frame import SMPLX_PELVIS
    from anr_studio.capture.smpl_convert import SMPL_PELVIS, smpl_joints
    from tests.capture import test_format_camera_frame as cf
    from tests.capture import test_format_multiview as mv
    from tests.capture import test_format_phalp as phalp
    from tests.capture.tool_scene import (H, N, W, camera_frame_fits, frame_images, write_images, write_joblib,
                                          write_video)

    tool = {name: folder / name for name in TOOLS}
    for path in tool.values():
        path.mkdir()
    phalp._scene(tool["phalp"])
    world, E0, E1 = mv._cameras()
    recorded = np.zeros((N, H, W), bool)
    recorded[:, 20:80, 40:90] = True
    mv._easymocap(tool["easymocap"], world, E0, E1, recorded)
    mv._zju(tool["zju"], world, E0, E1, recorded, labels=np.uint8(12))

    fits = camera_frame_fits()
    write_video(tool["romp"] / "dance.mp4", frame_images())
    np.savez(tool["romp"] / "video_results.npz",
             results={f"{i:08d}.png": r for i, r in enumerate(cf._romp_results(fits))}, sequence_results={})
    (tool["bev"] / "bev_frames").mkdir()
    for i, r in enumerate(cf._bev_results(fits)):
        np.savez(tool["bev"] / "bev_frames" / f"{i:08d}.npz", results=r)
    write_images(tool["bev"] / "frames", frame_images(), "{:08d}.jpg")

    write_video(tool["wham"] / "clip.mp4", frame_images())
    wham = {0: dict(pose=fits["pose"].reshape(N, 72).astype(np.float32), trans=fits["trans"].astype(np.float32),
                    betas=np.zeros((N, 10), np.float32), frame_ids=np.arange(N))}
    write_joblib(wham, tool["wham"] / "wham_output.pkl")

    K = np.array([[120.0, 0, W / 2], [0, 120.0, H / 2], [0, 0, 1]])
    write_video(tool["glamr"] / "basketball.mp4", frame_images())
    person = {"smpl_orient_cam": fits["pose"][:, 0], "smpl_pose": fits["pose"][:, 1:].reshape(N, 69),
              "smpl_beta": np.zeros((N, 10)), "root_trans_cam": smpl_joints(fits["pose"], fits["trans"])[:, 0],
              "cam_K": np.repeat(K[None], N, 0), "visible": np.ones(N), "frames": np.arange(N)}
    (tool["glamr"] / "basketball_seed1.pkl").write_bytes(
        pickle.dumps({"seq_name": "basketball", "person_data": {0: person}, "meta": {"num_fr": N}}))

    write_images(tool["smplerx"] / "frames", frame_images(N), "{:06d}.jpg", start=1)
    out = tool["smplerx"] / "smplerx_out"
    (out / "smplx").mkdir(parents=True)
    (out / "meta").mkdir()
    for i in range(N):
        k = i + 1
        np.savez(out / "smplx" / f"{k:05}_0.npz", global_orient=fits["pose"][i, :1], body_pose=fits["pose"][i, 1:22],
                 left_hand_pose=np.zeros((15, 3)), right_hand_pose=np.zeros((15, 3)), jaw_pose=np.zeros((1, 3)),
                 leye_pose=np.zeros((1, 3)), reye_pose=np.zeros((1, 3)), betas=np.zeros((1, 10)),
                 expression=np.zeros((1, 10)), transl=(fits["trans"][i] + SMPL_PELVIS - SMPLX_PELVIS)[None])
        (out / "meta" / f"{k:05}_0.json").write_text(json.dumps(
            {"focal": [110.0, 115.0], "princpt": [60.0, 50.0], "bbox": [0, 0, W, H], "bbox_id": 0,
             "img_path": f"frames/{k:06d}.jpg"}))


def source_of(src: Path) -> tuple[Path | None, str | None]:
    """Returns (poses, view) to import ``src`` with: those of its tool's layout, or (None, None)."""
    layout = TOOLS.get(src.parent.name)
    if layout is None or src.name != layout[0]:
        return None, None
    return (src.with_name(layout[1]) if layout[1] else None), layout[2]


class _Command:
    """What a hostile pickle builds: ``os.system`` on a command that leaves a marker file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _pickled(path: Path) -> tuple[str, object] | None:
    """Returns (how it is written, tree) of a seed file that holds a pickle (``.pkl``, object ``.npy`` or
    ``.npz``), or None for any other file."""
    from anr_studio.capture.formats import safe_pickle

    if path.suffix == ".pkl":
        return ("joblib" if path.name == "wham_output.pkl" else "pkl"), safe_pickle.read(path, "a seed")
    if path.suffix == ".npy":
        tree = safe_pickle.read_npy(path, "a seed")
        return None if isinstance(tree, np.ndarray) else ("npy", tree)
    if path.suffix == ".npz":
        tree = safe_pickle.read_npz(path, "a seed")
        return ("npz", tree) if any(not isinstance(v, np.ndarray) for v in tree.values()) else None
    return None


def holds_pickle(path: Path) -> bool:
    """Returns whether the seed file ``path`` holds a pickle (a tool's ``.pkl``, object ``.npy`` or ``.npz``)."""
    return path.suffix in (".pkl", ".npy", ".npz") and _pickled(path) is not None


def _write(how: str, tree, path: Path) -> None:
    from tests.capture.tool_scene import write_joblib

    if how == "joblib":
        write_joblib(tree, path)
    elif how == "pkl":
        path.write_bytes(pickle.dumps(tree))
    elif how == "npy":
        np.save(path, tree, allow_pickle=True)
    else:
        np.savez(path, **{k: v if isinstance(v, np.ndarray) else _boxed(v) for k, v in tree.items()})


def _boxed(value) -> np.ndarray:
    """Returns ``value`` in a 0-d object array, as ``np.savez`` stores a dict."""
    box = np.empty((), object)
    box[()] = value
    return box


def mutate_pickle(rng: np.random.Generator, path: Path, folder: Path) -> str | None:
    """Returns the label of an edit of the pickle in ``path`` (None for a file without one, or to let
    byte-level damage happen instead): a node of its tree changed or removed, or the pickle replaced by
    one that would run a command leaving ``folder/ran`` (a case must leave no new file)."""
    found = _pickled(path)
    if found is None:
        return None
    how, tree = found
    roll = rng.random()
    if roll < 0.2:
        command = _Command(folder / "ran")
        _write(how, {"results": np.array([command], object)} if how == "npz" else command, path)
        return "a pickle calling os.system"
    if roll < 0.7:
        label, tree = _edit(rng, tree)
        _write(how, tree if how != "npz" or isinstance(tree, dict) else {"results": tree}, path)
        return label
    return None


def _edit(rng: np.random.Generator, tree):
    """Returns (label, tree) with one node of a tree of dicts, lists and arrays changed or removed."""
    paths, stack = [], [((), tree)]
    while stack:
        prefix, node = stack.pop()
        paths.append(prefix)
        if isinstance(node, dict):
            stack += [(prefix + (k,), v) for k, v in node.items()]
        elif isinstance(node, (list, tuple)):
            stack += [(prefix + (i,), v) for i, v in enumerate(node[:4])]
    path = paths[int(rng.integers(1, len(paths)))] if len(paths) > 1 else ()
    if not path:
        return "root replaced", M.random_value(rng)
    parent = tree
    for key in path[:-1]:
        parent = parent[key]
    key, label = path[-1], "/".join(str(p) for p in path)
    if isinstance(parent, tuple):
        return f"{label} kept (a tuple)", tree
    if isinstance(parent, dict) and rng.random() < 0.25:
        del parent[key]
        return f"{label} removed", tree
    if isinstance(parent[key], np.ndarray) and rng.random() < 0.8:
        what, parent[key] = M.mutate_array(rng, parent[key])
        return f"{label} {what}", tree
    parent[key] = M.random_value(rng)
    return f"{label} = {str(parent[key])[:40]!r}", tree
