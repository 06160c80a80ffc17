"""GPU check and profile: Triton vs torch rasterizer (agreement + time), LBS time, torch.profiler summaries.

    python benchmarks/gpu_profile.py --out $OUT            # CUDA only
    python benchmarks/gpu_profile.py --out $OUT --skip-train --skip-avatar

Writes ``raster_check.json`` (pixel agreement of the two rasterizer paths and timings) and
``trace_<what>.txt`` (the top kernels by device time, and the step's wall vs summed device time:
wall >> device time means launch- or sync-bound) for a training step and an avatar frame.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from anr_studio.body import BodyModel  # noqa: E402
from anr_studio.render import interpolate_normals, interpolate_uv, orbit_camera, rasterize  # noqa: E402
from anr_studio.render import rasterizer as raster_mod  # noqa: E402


def timed(fn, warmup: int = 5, repeats: int = 30) -> float:
    """Returns the median ms of ``fn`` (synchronised)."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def with_path(path: str, fn):
    """Runs ``fn`` with the rasterizer forced to ``path`` ("torch" or "triton")."""
    saved = raster_mod._TRITON
    if path == "torch":
        raster_mod._TRITON = False
    else:
        raster_mod._TRITON = None
        raster_mod._triton_raster()
    try:
        return fn()
    finally:
        raster_mod._TRITON = saved


def raster_check(out: Path) -> None:
    dev = torch.device("cuda")
    body = BodyModel.default(dev)
    faces, face_uvs = body.faces, body.face_uvs
    rows = []
    for batch in (1, 8):
        g = torch.Generator().manual_seed(batch)
        pose = (torch.randn(batch, 24, 3, generator=g) * 0.15).to(dev)
        with torch.no_grad():
            verts = body(pose=pose).vertices
            lbs_ms = timed(lambda: body(pose=pose))
        rows.append({"op": "LBS", "batch": batch, "ms": lbs_ms})
        for size in (512, 1024):
            cam = orbit_camera(torch.linspace(0.0, 315.0, batch), 5.0, 3.6, target=(0.0, 0.9, 0.0), image_size=(size, size),
                               fov_deg=30, device=dev)
            ref = with_path("torch", lambda: rasterize(verts, faces, cam, (size, size)))
            new = with_path("triton", lambda: rasterize(verts, faces, cam, (size, size)))
            same = ref.face_id == new.face_id
            both = (ref.face_id >= 0) & same
            check = {"size": size, "batch": batch, "face_id_agree": float(same.float().mean()),
                     "covered_ref": int((ref.face_id >= 0).sum()), "covered_new": int((new.face_id >= 0).sum()),
                     "bary_max_diff": float((ref.bary - new.bary).abs()[both].max()) if both.any() else 0.0,
                     "depth_max_diff": float((ref.depth - new.depth).abs()[both].max()) if both.any() else 0.0}
            for path in ("torch", "triton"):
                def maps():
                    f = rasterize(verts, faces, cam, (size, size))
                    return interpolate_uv(f, face_uvs), interpolate_normals(f, verts, faces, cam)
                check[f"raster_ms_{path}"] = with_path(path, lambda: timed(lambda: rasterize(verts, faces, cam, (size, size))))
                check[f"maps_ms_{path}"] = with_path(path, lambda: timed(maps))
            rows.append(check)
            print(json.dumps(check), flush=True)
    (out / "raster_check.json").write_text(json.dumps(rows, indent=1))
    # Where the time of raster + maps goes now (the default path).
    size, batch = 1024, 8
    pose = torch.zeros(batch, 24, 3, device=dev)
    cam = orbit_camera(torch.linspace(0.0, 315.0, batch), 5.0, 3.6, target=(0.0, 0.9, 0.0), image_size=(size, size), fov_deg=30, device=dev)

    def pipeline():
        with torch.no_grad():
            v = body(pose=pose).vertices
            f = rasterize(v, faces, cam, (size, size))
            return interpolate_uv(f, face_uvs), interpolate_normals(f, v, faces, cam)
    profile(pipeline, out / "trace_lbs_raster_maps_1024_b8.txt", steps=10)


def profile(fn, path: Path, steps: int = 10, warmup: int = 5) -> None:
    """Writes the top ops by device time of ``steps`` calls of ``fn`` and wall vs device time per call."""
    from torch.profiler import ProfilerActivity, profile as tprofile

    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    with tprofile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        for _ in range(steps):
            fn()
        torch.cuda.synchronize()
    wall = (time.perf_counter() - t0) / steps * 1e3
    events = prof.key_averages()
    device_us = sum(e.self_device_time_total for e in events) / steps
    kernels = sum(e.count for e in events if e.self_device_time_total > 0) / steps
    head = (f"wall per call (profiled): {wall:.2f} ms; summed device time per call: {device_us / 1e3:.2f} ms; "
            f"device ops per call: {kernels:.0f}\n\n")
    table = events.table(sort_by="self_device_time_total", row_limit=45, max_name_column_width=70)
    path.write_text(head + table)
    print(path.name, head, flush=True)


def train_profile(out: Path, name: str, overrides: list[str]) -> None:
    from benchmarks.bench_train import load_body, write_capture
    from anr_studio.train.presets import preset
    from anr_studio.train.trainer import Trainer

    dev = torch.device("cuda")
    body, _ = load_body(dev)
    with tempfile.TemporaryDirectory() as tmp:
        cap = Path(tmp) / "c.h5"
        config = preset(name)
        write_capture(cap, config.data.resolution, 12, body, dev)
        config = config.with_overrides(["optim.steps=1000", "data.workers=4", "data.cache_in_memory=true", "optim.preview_every=0",
                                        *overrides])
        tr = Trainer(config, [str(cap)], Path(tmp) / "run", device="cuda", body=body, warn=lambda m: None)
        it = iter(tr.loader)
        batches = [next(it) for _ in range(4)]
        state = {"i": 0}

        def step():
            b = batches[state["i"] % len(batches)]
            state["i"] += 1
            tr.train_step(b)
            tr.step += 1
        tag = "-".join(o.split("=")[0].split(".")[-1] + "_" + o.split("=")[1] for o in overrides) or "default"
        profile(step, out / f"trace_train_{name}_{tag}.txt", steps=8, warmup=6)


def avatar_profile(out: Path, preset_name: str, size: int) -> None:
    import numpy as np

    from benchmarks.bench_avatar import make_avatar

    dev = torch.device("cuda")
    avatar = make_avatar(preset_name, dev, "bf16-cl")
    camera = avatar.default_camera(size, "A")
    pose = np.zeros((24, 3), np.float32)
    profile(lambda: avatar.render("A", pose, camera, size=size), out / f"trace_avatar_{preset_name}_{size}.txt", steps=20)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--skip-raster", action="store_true")
    parser.add_argument("--skip-train", action="store_true")
    parser.add_argument("--skip-avatar", action="store_true")
    parser.add_argument("--train", nargs="*", default=["fast:", "paper:"],
                        help="PRESET:OVERRIDE,OVERRIDE... profiles of the training step")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    torch.backends.cudnn.benchmark = True
    if not args.skip_raster:
        raster_check(args.out)
    if not args.skip_avatar:
        for p, s in (("paper", 512), ("paper", 1024)):
            try:
                avatar_profile(args.out, p, s)
            except Exception as exc:  # keep the other profiles
                print(f"avatar profile {p} {s} failed: {exc!r}", flush=True)
    if not args.skip_train:
        for spec in args.train:
            name, _, ov = spec.partition(":")
            try:
                train_profile(args.out, name, [o for o in ov.split(",") if o])
            except Exception as exc:
                print(f"train profile {spec} failed: {exc!r}", flush=True)
            torch.cuda.empty_cache()
    return 0


if __name__ == "__main__":
    sys.exit(main())
