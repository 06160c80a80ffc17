"""Quality benchmark: held-out fidelity, sharpness, flicker, periodic artefacts and try-on of trained avatars.

    OUT=/tmp/q python benchmarks/quality.py --device cuda --baseline-tree OLD_CHECKOUT        # one H200, ~7 min
    python benchmarks/quality.py --device cpu --out /tmp/q --size 64 --frames 24 --preset tiny \\
        --time-budget 5 --eval-frames 2 --orbit-frames 4                                        # miniature (tests)

Steps:
1. Synthetic people of the benchmark's own seeds (`anr-studio synth`, one camera, like a phone video):
   a motion that turns all the way round in place, walks a circle and lifts the arms; the last 15 % of
   the frames (arm movements never seen in training) are held out. Then `anr-studio keyframes`.
2. Trains every variant (`--variant NAME|TREE|TRAIN ARGS`: the code in folder TREE, e.g. a checkout of
   the main branch as the baseline) with the same `--time-budget` of training seconds, one after the other
   (on CUDA after an unscored `WARM_UP_S` run that compiles and caches the kernels for all of them).
3. Renders, in a process running the variant's own code (`Avatar.load` + `Avatar.render`): held-out and
   training frames with the tracked (stored, noisy) poses and with the true poses; held-out poses on white;
   a slow orbit (0.5 degrees a frame) around a held-out pose; a try-on: the `upper` region of A's texture
   onto B, with A (in B's shape), B and the swap rendered in B's held-out poses and views. The held-out
   frames are also rendered after test-time pose refinement (`--refine-poses` steps per frame fitting
   the tracked pose and translation to the frame's mask: `anr_studio.avatar.refine`).
4. Scores them: PSNR, SSIM, FLIP, LPIPS (when its weights exist), mask IoU; sharpness (high-frequency
   energy inside the person relative to the truth's); flicker (mean second temporal difference on the
   orbit, beside that of the true person rendered on the same orbit); the periodic-artefact check
   (lattice peaks in the spectrum of render - truth inside the mask, and of renders on white); try-on
   fidelity and leakage per view (scores.tryon_scores).
5. Writes OUT/results.md (the tables, commands, device), OUT/results.json, OUT/contact.png (held-out
   frames: truth | each variant), OUT/white.png (held-out poses on white, full resolution crops) and
   OUT/tryon.png (B | A | swap per variant).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SEEDS = (21, 22)
"""The benchmark's people: seed 21 wears a skirt, 22 wide trousers (tops, colours, hair by seed)."""
MOTION = ("turn", "walk", "arms")
"""Built-in clips played one after the other: a full turn in place, a walk round a circle, arm lifts."""
ORBIT_STEP_DEG = 0.5
REGION = "upper"
WARM_UP_S = 15.0
"""Seconds of the unscored training run that warms the kernel caches before the variants (CUDA)."""


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# -- captures ------------------------------------------------------------------------------------
def write_motion(path: Path, frames: int) -> Path:
    """Writes the benchmark motion (`MOTION` clips in a row, resampled to ``frames``) as an SMPL npz."""
    parts, offset = [], np.zeros(3, np.float32)
    trans_parts = []
    for name in MOTION:
        data = np.load(ROOT / "resources" / "motions" / f"{name}.npz")
        trans = data["trans"].astype(np.float32)
        trans_parts.append(trans - trans[0] + offset)
        offset = trans_parts[-1][-1]
        parts.append(data["poses"].astype(np.float32))
    poses, trans = np.concatenate(parts), np.concatenate(trans_parts)
    pick = np.linspace(0, len(poses) - 1, frames).round().astype(int)
    np.savez(path, poses=poses[pick], trans=trans[pick], fps=np.float32(30.0))
    return path


def anr_command(tree: Path, argv: list[str]) -> list[str]:
    """Returns the command line running ``anr-studio argv`` with the code on PYTHONPATH (`tree_env`).

    Run it outside any checkout (``cwd``): ``python -c`` puts the working folder first on sys.path."""
    return [sys.executable, "-c", "import sys, anr_studio.cli as c; sys.exit(c.main(sys.argv[1:]))", *argv]


def tree_env(tree: Path, threads: int | None = None) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tree)] + [p for p in [os.environ.get("PYTHONPATH")] if p]),
               PYTHONUNBUFFERED="1")
    if threads:
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    return env


def make_captures(folder: Path, args) -> list[str]:
    """Returns the capture paths, synthesized in parallel with the current tree (one process per person)."""
    folder.mkdir(parents=True, exist_ok=True)
    motion = write_motion(folder / "motion.npz", args.frames)
    threads = max(1, (os.cpu_count() or 2) // len(args.seeds))
    paths = [folder / f"person-{seed}.h5" for seed in args.seeds]
    procs = [subprocess.Popen(anr_command(ROOT, ["synth", "--out", str(p), "--seed", str(seed), "--frames",
                                                 str(args.frames), "--size", str(args.size), "--motion", str(motion),
                                                 "--quiet"]), env=tree_env(ROOT, threads), stdout=subprocess.DEVNULL, cwd=folder)
             for seed, p in zip(args.seeds, paths)]
    if any(p.wait() for p in procs):
        raise SystemExit("anr-studio synth failed")
    procs = [subprocess.Popen(anr_command(ROOT, ["keyframes", str(p)]), env=tree_env(ROOT, threads),
                              stdout=subprocess.DEVNULL, cwd=folder) for p in paths]
    if any(p.wait() for p in procs):
        raise SystemExit("anr-studio keyframes failed")
    return [str(p) for p in paths]


# -- render jobs (run inside the variant's own code) -----------------------------------------------
def render_worker(spec_path: str) -> int:
    """Renders the jobs of ``spec_path`` (JSON + inputs npz) with the tree on PYTHONPATH; writes outputs npz."""
    import torch
    from anr_studio.avatar import Avatar
    from anr_studio.avatar.tryon import region_mask, swap_textures
    from anr_studio.render import PerspectiveCamera

    spec = json.loads(Path(spec_path).read_text())
    inputs = np.load(spec["inputs"])
    avatar = Avatar.load(spec["avatar"], device=spec["device"])
    if spec.get("swap"):
        a, b = spec["swap"]["from"], spec["swap"]["to"]
        mask = region_mask(avatar.body, spec["swap"]["region"], int(avatar.texture(b).shape[-1]))
        avatar.add_identity("swap", swap_textures(avatar.texture(a), avatar.texture(b), mask),
                            avatar.identity_betas(b))
    outputs = {}
    for job in spec["jobs"]:
        name, size = job["name"], tuple(job["size"])
        pose = inputs[f"{name}.pose"]
        if job["kind"] == "orbit":
            camera = avatar.default_camera(size, job["identity"], azimuth_deg=torch.as_tensor(inputs[f"{name}.azimuth"]))
            transl = None
            outputs.update({f"{name}.{k}": getattr(camera, k).cpu().numpy() for k in ("K", "R", "t")})
        else:
            camera = PerspectiveCamera(*(torch.from_numpy(inputs[f"{name}.{k}"]) for k in ("K", "R", "t")))
            transl = inputs[f"{name}.transl"]
        background = inputs[f"{name}.background"] if f"{name}.background" in inputs else (255, 255, 255)
        betas = inputs[f"{name}.betas"] if f"{name}.betas" in inputs else None
        if job.get("refine"):
            if not hasattr(avatar, "refine_poses"):
                continue  # code from before test-time pose refinement: the set is left out
            from anr_studio.avatar.refine import PoseRefinement

            pose, transl = avatar.refine_poses(job["identity"], inputs[f"{name}.masks"], pose, transl, camera, betas=betas,
                                               config=PoseRefinement(steps=job["refine"]))
        image, mask = avatar.render(job["identity"], pose, camera, betas=betas, transl=transl, size=size,
                                    background=background, batch_size=4)
        outputs[f"{name}.image"] = image
        outputs[f"{name}.mask"] = (np.clip(mask, 0, 1) * 255).round().astype(np.uint8)
    np.savez(spec["outputs"], **outputs)
    return 0


def pick(frames: np.ndarray, n: int) -> np.ndarray:
    return frames[np.linspace(0, frames.size - 1, min(n, frames.size)).round().astype(int)]


def plan_jobs(captures: list, args) -> tuple[list[dict], dict[str, np.ndarray], dict]:
    """Returns (jobs, inputs, truth) for one variant: what to render and the reference images to score against."""
    jobs, inputs, truth = [], {}, {}
    h, w = captures[0].image_size
    for cap in captures:
        ident = cap.identity
        for split in ("test", "train"):
            frames = pick(cap.split(split), args.eval_frames)
            cams = [cap.camera(int(i)) for i in frames]
            for source in ("tracked", "true"):
                name = f"{ident}.{split}.{source}"
                pose = np.stack([cap.pose(int(i)) if source == "tracked" else cap.truth("pose")[i] for i in frames])
                transl = np.stack([cap.transl(int(i)) if source == "tracked" else cap.truth("transl")[i] for i in frames])
                inputs.update({f"{name}.pose": pose.astype(np.float32), f"{name}.transl": transl.astype(np.float32),
                               f"{name}.K": np.stack([c[0] for c in cams]), f"{name}.R": np.stack([c[1] for c in cams]),
                               f"{name}.t": np.stack([c[2] for c in cams]),
                               f"{name}.background": np.repeat(cap.background[None], len(frames), 0)})
                jobs.append({"name": name, "identity": ident, "kind": "frames", "size": [h, w]})
                truth[name] = {"frames": [cap.frame(int(i)) for i in frames], "masks": [cap.mask(int(i)) for i in frames]}
            inputs[f"{ident}.{split}.index"] = frames
        truth[f"{ident}.train.fitted"] = truth[f"{ident}.train.tracked"]
        if args.refine_poses:
            tracked, name = f"{ident}.test.tracked", f"{ident}.test.refined"
            inputs.update({f"{name}.{k}": inputs[f"{tracked}.{k}"] for k in ("pose", "transl", "K", "R", "t", "background")})
            inputs[f"{name}.masks"] = np.stack(truth[tracked]["masks"])
            jobs.append({"name": name, "identity": ident, "kind": "frames", "size": [h, w], "refine": args.refine_poses})
            truth[name] = truth[tracked]
        white = f"{ident}.white"
        for k in ("pose", "transl", "K", "R", "t"):
            inputs[f"{white}.{k}"] = inputs[f"{ident}.test.true.{k}"]
        jobs.append({"name": white, "identity": ident, "kind": "frames", "size": [h, w]})
        orbit = f"{ident}.orbit"
        inputs[f"{orbit}.pose"] = np.repeat(cap.truth("pose")[cap.split("test")[0]][None], args.orbit_frames, 0)
        inputs[f"{orbit}.azimuth"] = (np.arange(args.orbit_frames) * ORBIT_STEP_DEG + 30.0).astype(np.float32)
        jobs.append({"name": orbit, "identity": ident, "kind": "orbit", "size": [h, w]})
    a, b = captures[0], captures[1]
    for who in ("A", "B", "swap"):
        name = f"tryon.{who}"
        for k in ("pose", "transl", "K", "R", "t"):
            inputs[f"{name}.{k}"] = inputs[f"{b.identity}.test.true.{k}"]
        inputs[f"{name}.betas"] = b.betas.astype(np.float32)
        jobs.append({"name": name, "identity": {"A": a.identity, "B": b.identity, "swap": "swap"}[who],
                     "kind": "frames", "size": [h, w]})
    return jobs, inputs, truth


# -- scoring (this tree) ------------------------------------------------------------------------
def fitted_jobs(run: Path, captures: list, inputs: dict) -> tuple[list[dict], dict[str, np.ndarray]]:
    """Returns (jobs, inputs) of the set "training, as trained": the training frames in the poses the trainer fitted
    to the masks before training (kept in the run folder), where it fitted them."""
    from anr_studio.train.data import fitted_poses_path

    jobs, extra = [], {}
    for cap in captures:
        path = fitted_poses_path(run, cap)
        if not path.is_file():
            continue
        tracked, name = f"{cap.identity}.train.tracked", f"{cap.identity}.train.fitted"
        frames = inputs[f"{cap.identity}.train.index"]
        with np.load(path) as fitted:
            extra.update({f"{name}.pose": fitted["pose"][frames], f"{name}.transl": fitted["transl"][frames]})
        extra.update({f"{name}.{k}": inputs[f"{tracked}.{k}"] for k in ("K", "R", "t", "background")})
        jobs.append({"name": name, "identity": cap.identity, "kind": "frames", "size": list(cap.image_size)})
    return jobs, extra


def truth_orbit(seed: int, pose: np.ndarray, cameras: dict, size: tuple[int, int]) -> tuple[list, list]:
    """Returns (frames, masks) of the synthetic person ``seed`` itself (no sensor noise) in ``pose`` (T,24,3) at the
    origin on white, seen by the orbit's ``cameras`` ("K", "R", "t" of T views): what the flicker of a perfect
    avatar on the same orbit would be measured from."""
    import torch

    from anr_studio.capture.synth.generate import BATCH, load_bodies, synthetic_person
    from anr_studio.capture.synth.shading import composite, render_people
    from anr_studio.render import PerspectiveCamera

    coarse, fine = load_bodies(None)
    person, _ = synthetic_person(coarse, fine, seed)
    white = np.full((*size, 3), 255, np.uint8)
    frames, masks = [], []
    for start in range(0, len(pose), BATCH):
        part = slice(start, start + BATCH)
        with torch.no_grad():
            verts = person.pose(torch.as_tensor(pose[part]), torch.zeros(len(pose[part]), 3))
        camera = PerspectiveCamera(*(torch.as_tensor(cameras[k][part]).float() for k in ("K", "R", "t")))
        colours, alphas = render_people(person, verts, camera, size)
        frames += [composite(c, a, white) for c, a in zip(colours, alphas)]
        masks += [(a * 255.0 + 0.5).astype(np.uint8) for a in alphas]
    return frames, masks


def orbit_truth_flicker(out: dict, captures: list, seeds: list[int], inputs: dict, cache: dict) -> float | None:
    """Returns the mean flicker of the true people on the orbits a variant rendered (`truth_orbit`), or None
    where its code does not report its orbit cameras."""
    from scores import flicker

    values = []
    for seed, cap in zip(seeds, captures):
        name = f"{cap.identity}.orbit"
        if f"{name}.K" not in out:
            return None
        cameras = {k: out[f"{name}.{k}"] for k in ("K", "R", "t")}
        key = b"".join(np.ascontiguousarray(v, np.float32).tobytes() for v in cameras.values()) + cap.identity.encode()
        if key not in cache:
            cache[key] = flicker(*truth_orbit(seed, inputs[f"{name}.pose"], cameras, cap.image_size))
        values.append(cache[key])
    return _mean(values)


def score_frame(pred: np.ndarray, target: np.ndarray, pred_mask: np.ndarray, target_mask: np.ndarray) -> dict:
    from anr_studio.metrics import compute_metrics
    from scores import high_frequency_ratio, lattice_peak_ratio

    row = compute_metrics(pred, target, pred_mask, target_mask)
    row["sharpness"] = high_frequency_ratio(pred, target, target_mask)
    residual = pred.astype(np.float64) - target.astype(np.float64)
    row["artefact"] = lattice_peak_ratio(residual @ np.array([0.299, 0.587, 0.114]) / 255.0, target_mask)
    return row


def tryon_regions(capture, inputs: dict, device: str) -> np.ndarray:
    """Returns S (N,H,W) bool: B's coarse-body pixels whose UV lies in `REGION`, in the try-on views."""
    import torch
    import torch.nn.functional as F

    from anr_studio.avatar.forward import body_maps
    from anr_studio.avatar.tryon import region_mask
    from anr_studio.body import load_body
    from anr_studio.render import PerspectiveCamera

    body = load_body(model_id=capture.body_model_id, device=device)
    camera = PerspectiveCamera(*(torch.from_numpy(inputs[f"tryon.B.{k}"]).to(device) for k in ("K", "R", "t")))
    n = inputs["tryon.B.pose"].shape[0]
    maps = body_maps(body, torch.from_numpy(inputs["tryon.B.pose"]).to(device),
                     torch.from_numpy(capture.betas[None].repeat(n, 0)).to(device),
                     torch.from_numpy(inputs["tryon.B.transl"]).to(device), camera, capture.image_size)
    mask = torch.from_numpy(region_mask(body, REGION, 256)).to(device)[None, None].expand(n, -1, -1, -1)
    inside = F.grid_sample(mask, maps.uv.float(), mode="bilinear", padding_mode="zeros", align_corners=False)
    return ((inside[:, 0] > 0.5) & (maps.mask[:, 0] > 0.5)).cpu().numpy()


def score_variant(out: dict, truth: dict, captures: list, inputs: dict, pool: ProcessPoolExecutor, device: str) -> dict:
    from scores import ARTEFACT_RATIO, flicker, lattice_peak_ratio, tryon_scores

    result: dict = {"sets": {}}
    futures = {}
    for name, ref in truth.items():
        if f"{name}.image" not in out:
            continue  # a set the variant's code cannot render
        images, masks = out[f"{name}.image"], out[f"{name}.mask"]
        futures[name] = [pool.submit(score_frame, images[k], ref["frames"][k], masks[k], ref["masks"][k])
                         for k in range(len(ref["frames"]))]
    for name, fs in futures.items():
        rows = [f.result() for f in fs]
        keys = rows[0].keys()
        _, split, source = name.split(".")
        entry = result["sets"].setdefault(f"{split}.{source}", {"rows": []})
        entry["rows"] += rows
        result.setdefault("per_identity", {}).setdefault(name.split(".")[0], {})[f"{split}.{source}"] = {
            k: _mean([r[k] for r in rows]) for k in keys}
    for key, entry in result["sets"].items():
        rows = entry.pop("rows")
        entry.update({k: _mean([r[k] for r in rows]) for k in rows[0]})
        entry["artefact_max"] = max(r["artefact"] for r in rows)
        entry["artefact_flagged"] = sum(r["artefact"] > ARTEFACT_RATIO for r in rows) / len(rows)
    white, flick = [], []
    for cap in captures:
        ident = cap.identity
        for image, mask in zip(out[f"{ident}.white.image"], out[f"{ident}.white.mask"]):
            white.append(lattice_peak_ratio(image, mask))
        flick.append(flicker(list(out[f"{ident}.orbit.image"]), list(out[f"{ident}.orbit.mask"])))
    result["white_artefact"] = {"median": float(np.median(white)), "max": float(max(white)),
                                "flagged": sum(v > ARTEFACT_RATIO for v in white) / len(white)}
    result["flicker"] = _mean(flick)
    regions = tryon_regions(captures[1], inputs, device)
    views = [tryon_scores(s, a, b, r) for s, a, b, r in
             zip(out["tryon.swap.image"], out["tryon.A.image"], out["tryon.B.image"], regions)]
    fid = [v["fidelity"] for v in views if v["fidelity"] is not None]
    leak = [v["leakage"] for v in views if v["leakage"] is not None]
    result["tryon"] = {"fidelity_min": min(fid) if fid else None, "fidelity_mean": _mean(fid),
                       "leakage_mean": _mean(leak), "leakage_max": max(leak) if leak else None, "views": views}
    return result


def _mean(values):
    vals = [v for v in values if v is not None and np.isfinite(v)]
    return float(np.mean(vals)) if vals else None


# -- pictures ---------------------------------------------------------------------------------------
def labelled(image: np.ndarray, text: str) -> np.ndarray:
    import cv2

    strip = np.full((max(18, image.shape[0] // 16), image.shape[1], 3), 255, np.uint8)
    cv2.putText(strip, text, (4, int(strip.shape[0] * 0.75)), cv2.FONT_HERSHEY_SIMPLEX, strip.shape[0] / 30,
                (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([strip, image], 0)


def write_sheet(path: Path, rows: list[list[tuple[str, np.ndarray]]], scale: float = 1.0) -> None:
    import cv2

    lines = [np.concatenate([labelled(img, text) for text, img in row], 1) for row in rows]
    sheet = np.concatenate(lines, 0)
    if scale != 1.0:
        sheet = cv2.resize(sheet, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(path), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))


def crop_person(image: np.ndarray, mask: np.ndarray, side: int) -> tuple[slice, slice]:
    ys, xs = np.nonzero(mask > 127)
    cy, cx = (int(ys.mean()), int(xs.mean())) if ys.size else (image.shape[0] // 2, image.shape[1] // 2)
    top = int(np.clip(cy - side // 2, 0, max(image.shape[0] - side, 0)))
    left = int(np.clip(cx - side // 2, 0, max(image.shape[1] - side, 0)))
    return slice(top, top + side), slice(left, left + side)


# -- the benchmark ------------------------------------------------------------------------------------
def parse_variant(text: str) -> tuple[str, Path, list[str]]:
    name, tree, *rest = text.split("|")
    return name, (ROOT if tree in ("", ".") else Path(tree).resolve()), (rest[0].split() if rest else [])


def fmt(v, digits=3):
    return "-" if v is None else (f"{v:.{digits}f}" if isinstance(v, float) else str(v))


SET_NAMES = {"test.tracked": "held-out, tracked", "test.refined": "held-out, tracked + test-time refinement",
             "test.true": "held-out, true", "train.tracked": "training, tracked",
             "train.fitted": "training, as trained (poses fitted before training)", "train.true": "training, true"}


def report(args, device: str, rows: dict, commands: list[str], timings: dict, lpips: str) -> str:
    lines = [f"Device: {device}. {len(args.seeds)} synthetic people (seeds {', '.join(map(str, args.seeds))}), "
             f"{args.frames} frames at {args.size}² each, one camera; motion {' + '.join(MOTION)}; the last 15 % "
             f"held out. Preset `{args.preset}`, {args.time_budget:g} s of training per variant. LPIPS: {lpips}.", ""]
    head = "| variant | steps | set | PSNR ↑ | SSIM ↑ | FLIP ↓ | LPIPS ↓ | mask IoU ↑ | sharpness (1 = truth) | artefact peak (flagged) |"
    lines += [head, "|---" * (head.count("|") - 1) + "|"]
    for name, r in rows.items():
        keys = [k for k in SET_NAMES if k in r["sets"]]
        for k, key in enumerate(keys):
            s = r["sets"][key]
            lines.append(f"| {name if k == 0 else ''} | {r['steps'] if k == 0 else ''} | {SET_NAMES[key]} | "
                         f"{fmt(s['psnr'], 2)} | {fmt(s['ssim'])} | {fmt(s['flip'])} | {fmt(s['lpips'])} | "
                         f"{fmt(s['mask_iou'])} | {fmt(s['sharpness'], 2)} | {fmt(s['artefact_max'], 0)} "
                         f"({s['artefact_flagged']:.0%}) |")
    lines += ["", "| variant | flicker (levels; the truth's) | on white: artefact peak median / max (flagged) | try-on fidelity min / mean ↑ "
              "| leakage mean / max ↓ |", "|---|---|---|---|---|"]
    for name, r in rows.items():
        w, t = r["white_artefact"], r["tryon"]
        lines.append(f"| {name} | {fmt(r['flicker'], 2)} ({fmt(r.get('flicker_truth'), 2)}) | {w['median']:.0f} / {w['max']:.0f} ({w['flagged']:.0%}) | "
                     f"{fmt(t['fidelity_min'], 2)} / {fmt(t['fidelity_mean'], 2)} | {fmt(t['leakage_mean'], 2)} / "
                     f"{fmt(t['leakage_max'], 2)} |")
    lines += ["", "Timings: " + ", ".join(f"{k} {v} s" for k, v in timings.items()), "", "```"] + commands + ["```", ""]
    return "\n".join(lines)


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[1] == "--render-worker":
        return render_worker(sys.argv[2])
    sys.path.insert(0, str(ROOT))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=os.environ.get("OUT", "quality"), help="output folder (default $OUT)")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument("--frames", type=int, default=360, help="frames per person")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--preset", default="fast")
    parser.add_argument("--time-budget", type=float, default=60.0, help="training seconds per variant")
    parser.add_argument("--eval-frames", type=int, default=12, help="frames per person, split and pose source")
    parser.add_argument("--orbit-frames", type=int, default=24)
    parser.add_argument("--refine-poses", type=int, default=30, metavar="STEPS",
                        help="steps of test-time pose refinement for the extra set 'held-out, tracked + test-time "
                        "refinement' (0 = leave it out)")
    parser.add_argument("--total-s", type=float, default=0.0, help="wall-clock limit of the whole benchmark: variants "
                        "that would not finish inside it (training, rendering, scoring) are left out, and said so (0 = none)")
    parser.add_argument("--baseline-tree", help="folder holding the baseline's anr_studio, e.g. an older checkout "
                        "(adds variants 'baseline' and 'dnr' trained with it; with no --variant, 'anr' is this checkout)")
    parser.add_argument("--variant", action="append", default=[], metavar="NAME|TREE|ARGS",
                        help="a variant: name, code folder ('.' = this checkout), extra train arguments")
    args = parser.parse_args()
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    variants = [parse_variant(v) for v in args.variant]
    if args.baseline_tree:
        tree = Path(args.baseline_tree).resolve()
        variants = [("baseline", tree, []), ("dnr", tree, ["--baseline", "dnr"])] + (variants or [("anr", ROOT, [])])
    if not variants:
        variants = [("anr", ROOT, []), ("dnr", ROOT, ["--baseline", "dnr"])]
    t_start = time.perf_counter()
    timings, commands = {}, []
    log(f"synthesizing {len(args.seeds)} people, {args.frames} frames at {args.size}²")
    paths = make_captures(out / "captures", args)
    timings["captures_s"] = round(time.perf_counter() - t_start, 1)
    from anr_studio.capture import Capture
    from anr_studio.metrics import lpips_status
    from anr_studio.model.weights import set_offline

    captures = [Capture(p) for p in paths]
    jobs, inputs, truth = plan_jobs(captures, args)
    np.savez(out / "inputs.npz", **inputs)
    rows, renders = {}, {}
    skipped = []
    if args.device == "cuda":
        # Kernel compilation (Triton, cuDNN autotuning) is cached on disk by the first training process:
        # an unscored short run first gives every variant the same warm caches.
        log("warming up the kernel caches")
        argv = ["train", "--captures", *paths, "--preset", args.preset, "--out", str(out / "runs" / "warm-up"),
                "--time-budget", str(WARM_UP_S), "--no-progress", "--device", args.device, *variants[0][2]]
        subprocess.run(anr_command(variants[0][1], argv), env=tree_env(variants[0][1]), cwd=out, check=True)
    for name, tree, extra in variants:
        needed = args.time_budget + 60.0 + 25.0 * (len(rows) + 1)  # start-up and rendering; scoring of all so far
        if args.total_s and time.perf_counter() - t_start + needed > args.total_s:
            skipped.append(name)
            log(f"left out {name}: it would not finish inside --total-s {args.total_s:g}")
            continue
        run = out / "runs" / name
        argv = ["train", "--captures", *paths, "--preset", args.preset, "--out", str(run), "--time-budget",
                str(args.time_budget), "--steps", "100000000", "--checkpoint-every", "100000000", "--no-progress",
                "--device", args.device, *extra]
        commands.append(f"PYTHONPATH={tree} anr-studio " + " ".join(argv))
        log(f"training {name}")
        t0 = time.perf_counter()
        if subprocess.run(anr_command(tree, argv), env=tree_env(tree), cwd=out).returncode:
            raise SystemExit(f"training {name} failed")
        timings[f"train_{name}_s"] = round(time.perf_counter() - t0, 1)
        extra_jobs, extra = fitted_jobs(run, captures, inputs)
        if extra:
            np.savez(run / "inputs.npz", **inputs, **extra)
        spec = {"avatar": str(run / "avatar.anr"), "device": args.device,
                "inputs": str(run / "inputs.npz" if extra else out / "inputs.npz"),
                "outputs": str(run / "renders.npz"), "jobs": jobs + extra_jobs,
                "swap": {"from": captures[0].identity, "to": captures[1].identity, "region": REGION}}
        (run / "render.json").write_text(json.dumps(spec))
        t0 = time.perf_counter()
        if subprocess.run([sys.executable, str(Path(__file__).resolve()), "--render-worker", str(run / "render.json")],
                          env=tree_env(tree), cwd=out).returncode:
            raise SystemExit(f"rendering {name} failed")
        timings[f"render_{name}_s"] = round(time.perf_counter() - t0, 1)
        renders[name] = dict(np.load(run / "renders.npz"))
        last = json.loads((run / "log.jsonl").read_text().splitlines()[-1])
        rows[name] = {"steps": last.get("step"), "train_time_s": last.get("elapsed_s")}
    log("scoring")
    t0 = time.perf_counter()
    lpips = lpips_status()  # one download attempt here; the scoring processes do not each try again
    if lpips != "available":
        set_offline()
    with ProcessPoolExecutor(max(1, min(12, (os.cpu_count() or 2) - 1))) as pool:
        for name in rows:
            rows[name].update(score_variant(renders[name], truth, captures, inputs, pool, "cpu"))
    truth_flicker: dict[bytes, float | None] = {}  # by the orbit cameras (the same for every variant of one body)
    for name in rows:
        rows[name]["flicker_truth"] = orbit_truth_flicker(renders[name], captures, args.seeds, inputs, truth_flicker)
    timings["scoring_s"] = round(time.perf_counter() - t0, 1)
    write_pictures(out, captures, truth, renders, args)
    timings["total_s"] = round(time.perf_counter() - t_start, 1)
    if skipped:
        commands.append(f"# left out to fit --total-s: {', '.join(skipped)}")
    import torch

    device = torch.cuda.get_device_name(0) if args.device == "cuda" else "CPU"
    text = report(args, device, rows, commands, timings, lpips)
    (out / "results.md").write_text(text)
    (out / "results.json").write_text(json.dumps({"rows": rows, "timings": timings, "args": vars(args)}, indent=1))
    print(text)
    return 0


def write_pictures(out: Path, captures: list, truth: dict, renders: dict, args) -> None:
    """Writes contact.png (truth | variants, held-out, tracked poses), white.png and tryon.png."""
    rows = []
    for cap in captures:
        name = f"{cap.identity}.test.tracked"
        for k in range(0, len(truth[name]["frames"]), max(1, len(truth[name]["frames"]) // 3))[:3]:
            rows.append([("truth", truth[name]["frames"][k])] +
                        [(v, renders[v][f"{name}.image"][k]) for v in renders])
    write_sheet(out / "contact.png", rows, scale=0.5 if args.size > 256 else 1.0)
    side = min(args.size, 256)
    rows = []
    for cap in captures:
        name = f"{cap.identity}.white"
        k = len(renders[next(iter(renders))][f"{name}.image"]) - 1
        first = next(iter(renders))
        ys, xs = crop_person(renders[first][f"{name}.image"][k], renders[first][f"{name}.mask"][k], side)
        rows.append([(v, renders[v][f"{name}.image"][k][ys, xs]) for v in renders])
    write_sheet(out / "white.png", rows)
    rows = []
    for v in renders:
        k = 0
        ys, xs = crop_person(renders[v]["tryon.B.image"][k], renders[v]["tryon.B.mask"][k], side)
        rows.append([(f"{v}: B", renders[v]["tryon.B.image"][k][ys, xs]), ("A", renders[v]["tryon.A.image"][k][ys, xs]),
                     ("swap", renders[v]["tryon.swap.image"][k][ys, xs])])
    write_sheet(out / "tryon.png", rows)


if __name__ == "__main__":
    sys.exit(main())
