"""What the fuzz suite hands `import`: capture folders (images/, masks/, a background, an .npz or
metadata.json of SMPL parameters and cameras), videos with a pose .npz, a 4D-Humans / PHALP result
pickle, a People-Snapshot folder and the layouts of EasyMocap, ZJU-MoCap, ROMP, BEV, WHAM, GLAMR and
SMPLer-X (tests/fuzz/import_tools.py), each damaged, seeded; the tools' pickles get tree edits and
pickles that would run a command besides byte-level damage.

A case's loader imports into a file outside the case folder, reads back every frame and mask of
what it wrote, and checks that a refused import left no output behind.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import cv2
import numpy as np

from tests.fuzz import mutate as M
from tests.fuzz.import_tools import TOOLS, holds_pickle, mutate_pickle, source_of, write_tool_seeds

H, W, N = 16, 16, 3


def _params(n: int = N) -> dict:
    rng = np.random.default_rng(0)
    K = np.array([[20.0, 0, W / 2], [0, 20.0, H / 2], [0, 0, 1]])
    E = np.eye(4)
    E[:3, 3] = [0.0, 0.2, 3.0]
    return dict(poses=rng.normal(0, 0.2, (n, 72)), trans=rng.normal(0, 0.1, (n, 3)), betas=np.zeros(10), K=K, E=E,
                fps=np.array(25.0))


def _tool_seeds(folder: Path) -> None:
    """Writes what the fitting tools leave: their layouts under ``folder/<tool>/`` (see
    tests/fuzz/import_tools.py) and a People-Snapshot folder (``snapshot/``)."""
    from tests.capture import test_format_people_snapshot as snapshot
    from tests.capture.tool_scene import N as TOOL_N, world_scene

    write_tool_seeds(folder)
    world, E = world_scene()
    masks = np.zeros((TOOL_N, *snapshot.frame_images().shape[1:3]), bool)
    masks[:, 20:80, 40:90] = True
    snapshot._processed(folder, world, E, masks).rename(folder / "snapshot")


def write_import_seeds(folder: Path) -> Path:
    """Returns ``folder`` holding the valid sources every case starts from: ``clip/`` (images, masks,
    background, params.npz), ``meta/`` (images and metadata.json), ``clip.mp4`` with ``poses.npz``,
    and the fitting tools' layouts (``snapshot/`` and one folder for each of ``TOOLS``)."""
    _tool_seeds(folder)
    frames = [np.full((H, W, 3), (40 * i, 90, 200 - 30 * i), np.uint8) for i in range(N)]
    for name in ("clip", "meta"):
        (folder / name / "images").mkdir(parents=True)
        for i, frame in enumerate(frames):
            cv2.imwrite(str(folder / name / "images" / f"{i:03d}.png"), frame)
    (folder / "clip" / "masks").mkdir()
    for i in range(N):
        mask = np.zeros((H, W), np.uint8)
        mask[4:12, 4 + i:10 + i] = 255
        cv2.imwrite(str(folder / "clip" / "masks" / f"{i:03d}.png"), mask)
    cv2.imwrite(str(folder / "clip" / "background.png"), np.full((H, W, 3), 60, np.uint8))
    params = _params()
    np.savez(folder / "clip" / "params.npz", **params)
    meta = {"K": params["K"].tolist(), "E": params["E"].tolist(), "betas": params["betas"].tolist(), "fps": 24,
            "frames": [{"file": f"{i:03d}.png", "poses": params["poses"][i].tolist(), "trans": params["trans"][i].tolist()}
                       for i in range(N)]}
    (folder / "meta" / "metadata.json").write_text(json.dumps(meta))
    video = cv2.VideoWriter(str(folder / "clip.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 12, (W, H))
    for frame in frames:
        video.write(frame)
    video.release()
    np.savez(folder / "poses.npz", **{k: v for k, v in params.items() if k != "fps"})
    return folder


def make_import_source(seeds: Path, rng: np.random.Generator, folder: Path) -> tuple[str, Path]:
    """Returns (label, source): a copy of a seed folder or video with one file damaged, removed or added."""
    roots = ["clip", "meta", "", "snapshot", *TOOLS]
    kind = int(rng.integers(len(roots)))
    if kind == 2:  # a video and its poses
        src = folder / "clip.mp4"
        shutil.copy(seeds / "clip.mp4", src)
        shutil.copy(seeds / "poses.npz", folder / "poses.npz")
        target = src if rng.random() < 0.5 else folder / "poses.npz"
    else:
        root = folder / roots[kind]
        shutil.copytree(seeds / root.name, root)
        src = root / TOOLS[root.name][0] if root.name in TOOLS else root  # a tool's frames, its fits beside them
        files = sorted(p for p in root.rglob("*") if p.is_file())
        target = files[int(rng.integers(len(files)))]
        action = int(rng.integers(8))
        if action == 0:
            target.unlink()
            return f"{target.relative_to(folder)} removed", src
        if action == 1 and target.suffix == ".png":  # an image of another size, channel count or bit depth
            h, w = (int(x) for x in rng.integers(1, 40, 2))
            channels = int(rng.choice([1, 3, 4]))
            dtype = rng.choice([np.uint8, np.uint16])
            image = rng.integers(0, np.iinfo(dtype).max, (h, w, channels)).astype(dtype)
            cv2.imwrite(str(target), image)
            return f"{target.relative_to(folder)} {w}x{h}x{channels} {np.dtype(dtype).name}", src
        if action == 2 and target.suffix == ".png":  # a header declaring an enormous image
            data = bytearray(target.read_bytes())
            data[16:24] = int(rng.integers(1, 2**31)).to_bytes(4, "big") + int(rng.integers(1, 2**31)).to_bytes(4, "big")
            target.write_bytes(bytes(data))
            return f"{target.relative_to(folder)} forged size", src
        if action == 3:  # an extra frame or mask
            extra = target.parent / "zzz.png"
            shutil.copy(target, extra)
            return f"{extra.relative_to(folder)} added", src
    pickled = holds_pickle(target)
    label = mutate_pickle(rng, target, folder) if pickled else None
    if label is not None:
        return f"{target.relative_to(folder)} {label}", src
    if target.suffix == ".npy" and not pickled and rng.random() < 0.6:
        label, value = M.mutate_array(rng, np.load(target))
        np.save(target, value, allow_pickle=True)  # object arrays can only be saved pickled: never to be loaded
        return f"{target.relative_to(folder)} {label}", src
    if target.suffix == ".npz" and not pickled and rng.random() < 0.6:
        with np.load(target) as f:
            arrays = {k: f[k] for k in f.files}
        key = list(arrays)[int(rng.integers(len(arrays)))]
        label, arrays[key] = M.mutate_array(rng, arrays[key])
        np.savez(target, **arrays)
        return f"{target.relative_to(folder)} {key} {label}", src
    if target.suffix == ".json":
        label, text = M.mutate_json_text(rng, target.read_text())
        target.write_text(text)
        return f"{target.relative_to(folder)} {label}", src
    label, data = M.mutate_bytes(rng, target.read_bytes())
    target.write_bytes(data)
    return f"{target.relative_to(folder)} {label}", src


def load_import_source(src: Path) -> None:
    """Imports ``src`` as `anr-studio import` does and reads back every frame and mask of the capture."""
    from anr_studio.capture import Capture, validate
    from anr_studio.capture.importers import import_capture
    from anr_studio.errors import AnrError

    outputs = Path(tempfile.mkdtemp(prefix="anr-import-fuzz-"))
    out = outputs / "out.h5"
    try:
        poses, view = source_of(src)
        if poses is None and src.suffix == ".mp4":
            poses = src.with_name("poses.npz")
        try:
            import_capture(src, out, poses=poses, view=view)
        except AnrError:
            assert not any(outputs.iterdir()), "a refused import left a file behind"
            raise
        assert validate(out) == []
        cap = Capture(out)
        for i in range(len(cap)):
            cap.frame(i)
            if cap.has_masks:
                cap.mask(i)
    finally:
        shutil.rmtree(outputs, ignore_errors=True)
