"""Benchmark: rasterize (and interpolate) a posed body at 512^2 and 1024^2, batch 1 and 8; LBS time.

    python benchmarks/bench_raster.py                       # CPU, all threads torch uses
    python benchmarks/bench_raster.py --threads 2           # CPU, 2 threads
    python benchmarks/bench_raster.py --device cuda --repeats 20 --warmup 5 --json gpu.json
    OMP_WAIT_POLICY=PASSIVE python benchmarks/bench_raster.py --threads 2 --json cpu.json   # docs/benchmarks.md

Uses ``BodyModel.default()`` when resources/body/anr_body.safetensors exists, else a built-in
stand-in of the same size (icospheres and capsules, ~1.8k vertices / 3.6k faces, skinned to the
SMPL joints) run through the same BodyModel code; the output says which. The body fills about
90% of the image height (a training framing), cameras orbit around it across the batch.
Prints a markdown table; ``--json`` also writes the figures.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from anr_studio.body import BodyModel  # noqa: E402
from anr_studio.body.model import DEFAULT_BODY_PATH  # noqa: E402
from anr_studio.body.skeleton import SMPL_PARENTS  # noqa: E402
from anr_studio.render import interpolate_normals, interpolate_uv, orbit_camera, rasterize  # noqa: E402


def stand_in_body() -> BodyModel:
    """Returns a BodyModel of ~1.8k vertices / 3.6k faces built from primitives (one joint per part)."""
    import trimesh

    tf = trimesh.transformations
    # (joint index, mesh, transform): a person 1.75 m tall standing in a loose A-pose, facing +z.
    limb = trimesh.creation.capsule(height=0.32, radius=0.055, count=(14, 10))
    parts = [
        (3, trimesh.creation.icosphere(subdivisions=3).apply_scale((0.17, 0.3, 0.11)), tf.translation_matrix((0, 1.2, 0))),
        (15, trimesh.creation.icosphere(subdivisions=2, radius=0.1), tf.translation_matrix((0, 1.64, 0.01))),
    ]
    for side, (shoulder, elbow, hip, knee) in ((1, (16, 18, 1, 4)), (-1, (17, 19, 2, 5))):
        arm = tf.rotation_matrix(np.radians(90 - 15), (0, 0, side)) @ tf.rotation_matrix(np.radians(90), (1, 0, 0))
        parts.append((shoulder, limb, tf.translation_matrix((side * 0.33, 1.38, 0)) @ arm))
        parts.append((elbow, limb, tf.translation_matrix((side * 0.63, 1.3, 0)) @ arm))
        leg = tf.rotation_matrix(np.radians(90), (1, 0, 0))
        parts.append((hip, limb, tf.translation_matrix((side * 0.1, 0.72, 0)) @ leg))
        parts.append((knee, limb, tf.translation_matrix((side * 0.1, 0.3, 0)) @ leg))
    vertices, faces, weights, uvs = [], [], [], []
    offset = 0
    for k, (joint, mesh, transform) in enumerate(parts):
        mesh = mesh.copy().apply_transform(transform)
        v = np.asarray(mesh.vertices)
        centred = v - v.mean(0)
        # A cylindrical UV chart per part, laid out on a 4x4 atlas.
        u = (np.arctan2(centred[:, 0], centred[:, 2]) / (2 * np.pi) + 0.5) * 0.24 + (k % 4) * 0.25
        w = (centred[:, 1] - centred[:, 1].min()) / np.ptp(centred[:, 1]) * 0.24 + (k // 4) * 0.25
        vertices.append(v)
        faces.append(np.asarray(mesh.faces) + offset)
        uvs.append(np.stack([u, w], 1))
        wk = np.zeros((len(v), 24))
        wk[:, joint] = 1.0
        weights.append(wk)
        offset += len(v)
    v = np.concatenate(vertices)
    rng = np.random.default_rng(0)
    joints = np.zeros((24, 3))
    for j, parent in enumerate(SMPL_PARENTS):  # a plausible chain: children below/beside their parents
        joints[j] = (0.0, 0.95, 0.0) if parent < 0 else joints[parent] + rng.normal(0, 0.1, 3)
    regressor = np.zeros((24, len(v)))
    regressor[np.arange(24), np.argmin(((v[None] - joints[:, None]) ** 2).sum(-1), axis=1)] = 1.0
    f = np.concatenate(faces)
    return BodyModel(
        v_template=v, faces=f, lbs_weights=np.concatenate(weights), J_regressor=regressor,
        shapedirs=rng.normal(0, 1e-3, (len(v), 3, 10)), uv=np.concatenate(uvs), uv_faces=f,
        model_id="bench-stand-in", source="benchmark stand-in body",
    )


def load_body(choice: str) -> tuple[BodyModel, str]:
    """Returns (body, description) for ``choice`` in {auto, default, stand-in}."""
    if choice == "default" or (choice == "auto" and DEFAULT_BODY_PATH.is_file()):
        return BodyModel.default(), "BodyModel.default() (resources/body/anr_body.safetensors)"
    return stand_in_body(), "stand-in body (icospheres + capsules; resources/body/anr_body.safetensors absent)"


def timed(fn, device: torch.device, warmup: int, repeats: int) -> tuple[list[float], list[float]]:
    """Returns (wall ms, process CPU ms) of ``repeats`` calls after ``warmup`` calls, synchronised on CUDA.

    Process CPU time sums all threads; on a shared machine it shows what the call costs when
    wall time is inflated by other processes.
    """
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for _ in range(warmup):
        fn()
    sync()
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        sync()
        wall.append((time.perf_counter() - start) * 1e3)
        cpu.append((time.process_time() - start_cpu) * 1e3)
    return wall, cpu


def _row(op: str, size: str, batch: int, times: tuple[list[float], list[float]], **extra) -> dict:
    wall, cpu = times
    return {"op": op, "size": size, "batch": batch, "median_ms": statistics.median(wall), "min_ms": min(wall),
            "cpu_median_ms": statistics.median(cpu), **extra}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 1024], help="square image sizes")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed calls first (default 3 CPU, 10 CUDA)")
    parser.add_argument("--repeats", type=int, default=None, help="timed calls (default 10 CPU, 50 CUDA)")
    parser.add_argument("--body", choices=["auto", "default", "stand-in"], default="auto")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)

    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    warmup = args.warmup if args.warmup is not None else (10 if device.type == "cuda" else 3)
    repeats = args.repeats if args.repeats is not None else (50 if device.type == "cuda" else 10)
    body, body_desc = load_body(args.body)
    body = body.to(device)
    faces, face_uvs = body.faces, body.face_uvs
    device_name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"

    from anr_studio.render.rasterizer import _triton_raster

    path = " (Triton)" if device.type == "cuda" and _triton_raster() is not None else ""
    rows = []
    for batch in args.batches:
        generator = torch.Generator().manual_seed(batch)
        pose = (torch.randn(batch, 24, 3, generator=generator) * 0.15).to(device)
        betas = torch.zeros(batch, body.num_betas, device=device)
        with torch.no_grad():
            lbs_ms = timed(lambda: body(pose=pose, betas=betas), device, warmup, repeats)
            vertices = body(pose=pose, betas=betas).vertices
        rows.append(_row("LBS", "-", batch, lbs_ms))
        for size in args.sizes:
            camera = orbit_camera(torch.linspace(0.0, 315.0, batch), 5.0, 3.6, target=(0.0, 0.9, 0.0), image_size=(size, size), fov_deg=30, device=device)

            def maps():
                fragments = rasterize(vertices, faces, camera, (size, size))
                return interpolate_uv(fragments, face_uvs), interpolate_normals(fragments, vertices, faces, camera)

            raster_ms = timed(lambda: rasterize(vertices, faces, camera, (size, size)), device, warmup, repeats)
            maps_ms = timed(maps, device, warmup, repeats)
            coverage = float(rasterize(vertices, faces, camera, (size, size)).mask.float().mean())
            timings = [(f"rasterize{path}", raster_ms), ("rasterize + UV + normals", maps_ms)]
            if path:
                # A max_pairs argument selects the vectorised torch path (the one the CPU runs).
                torch_ms = timed(lambda: rasterize(vertices, faces, camera, (size, size), max_pairs=2**24), device, warmup, repeats)
                timings.insert(1, ("rasterize (torch path)", torch_ms))
            for op, ms in timings:
                rows.append(_row(op, f"{size}x{size}", batch, ms, coverage=coverage))

    header = [
        f"Device: {device_name}; torch {torch.__version__}; body: {body_desc}, "
        f"{body.v_template.shape[0]} vertices, {faces.shape[0]} faces; warmup {warmup}, repeats {repeats}.",
        "",
        "| op | image | batch | median ms | min ms | process CPU ms (median) | body pixels |",
        "|---|---|---|---|---|---|---|",
    ]
    lines = []
    for r in rows:
        coverage = f"{100 * r['coverage']:.1f}%" if "coverage" in r else ""
        lines.append(f"| {r['op']} | {r['size']} | {r['batch']} | {r['median_ms']:.2f} | {r['min_ms']:.2f} | {r['cpu_median_ms']:.2f} | {coverage} |")
    print("\n".join(header + lines))
    if args.json:
        args.json.write_text(json.dumps({"device": device_name, "torch": torch.__version__, "body": body_desc,
                                         "vertices": int(body.v_template.shape[0]), "faces": int(faces.shape[0]), "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
