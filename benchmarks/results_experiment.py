"""GPU experiment: DNR vs 1-stage ANR vs 2-stage ANR without split vs full ANR, same time budget each.

    python benchmarks/results_experiment.py --device cuda --out /tmp/exp --total-s 500   # one GPU, < 10 min (docs/results.md)
    python benchmarks/results_experiment.py --device cpu --out /tmp/mini \\
        --captures a.h5 b.h5 --body-model body.safetensors --preset tiny --time-budget 5 --eval-every 2   # miniature

Steps (each timed and reported):
1. Two synthetic identities at 512² with `anr-studio synth` (one process per identity, the CPU
   cores split between them), then `anr-studio keyframes` on each. Skipped with --captures.
2. `anr-studio train` for each variant with `--time-budget` seconds of training (the same for
   all), recording held-out PSNR every `--eval-every` steps (`OUT/runs/<variant>/heldout_psnr.json`).
3. `anr-studio eval`-equivalent metrics on the held-out poses (split/test) of every identity.
4. Time to reach a held-out PSNR threshold with and without split optimization.
5. Writes OUT/results.md (tables, commands, timings), OUT/results.json and sample images
   OUT/samples/<identity>_<k>.png (truth | ANR | DNR, held-out frames).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from anr_studio import cli  # noqa: E402
from anr_studio.train.evaluate import evaluate  # noqa: E402

VARIANTS = [  # name, extra train flags, description
    ("dnr", ["--baseline", "dnr"], "DNR (one U-Net, no mask, no normals)"),
    ("anr-1stage", ["--one-stage"], "ANR, one stage"),
    ("anr-nosplit", ["--no-split"], "ANR, two stages, no split optimization"),
    ("anr", [], "ANR (full: two stages + split optimization)"),
]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def make_captures(folder: Path, args) -> tuple[list[str], dict]:
    """Returns the synthetic capture paths, written in parallel (or reused when complete), and the timings."""
    from anr_studio.capture import Capture

    folder.mkdir(parents=True, exist_ok=True)
    cores = os.cpu_count() or 2
    env = dict(os.environ, OMP_NUM_THREADS=str(max(1, cores // args.identities)),
               MKL_NUM_THREADS=str(max(1, cores // args.identities)))
    paths = [folder / f"synth-{seed}-{args.size}-{args.frames}.h5" for seed in range(args.identities)]
    try:
        if all(Capture(p).keyframes is not None for p in paths):
            log(f"reusing the captures in {folder}")
            return [str(p) for p in paths], {"synth_s": 0.0, "keyframes_s": 0.0}
    except Exception:  # missing or incomplete: write them again
        pass
    t0 = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-m", "anr_studio.cli", "synth", "--out", str(p), "--seed", str(seed),
                               "--frames", str(args.frames), "--size", str(args.size), "--motion", args.motion, "--quiet"],
                              env=env, stdout=subprocess.DEVNULL)
             for seed, p in enumerate(paths)]
    for p in procs:
        if p.wait() != 0:
            raise SystemExit("anr-studio synth failed")
    t_synth = time.perf_counter() - t0
    t0 = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-m", "anr_studio.cli", "keyframes", str(p)], env=env,
                              stdout=subprocess.DEVNULL) for p in paths]
    for p in procs:
        if p.wait() != 0:
            raise SystemExit("anr-studio keyframes failed")
    return [str(p) for p in paths], {"synth_s": round(t_synth, 1), "keyframes_s": round(time.perf_counter() - t0, 1)}


def train_args(name: str, flags: list[str], captures: list[str], out: Path, args) -> list[str]:
    argv = ["train", "--captures", *captures, "--preset", args.preset, "--out", str(out / "runs" / name),
            "--time-budget", str(args.time_budget), "--steps", "100000000", "--checkpoint-every", "100000000",
            "--eval-every", str(args.eval_every), "--eval-frames", str(args.eval_frames), "--no-progress",
            "--device", args.device, *flags]
    if args.body_model:
        argv += ["--body-model", args.body_model]
    for s in args.set:
        argv += ["--set", s]
    return argv


def time_to(history: list[dict], threshold: float) -> float | None:
    for h in history:
        if h["psnr"] is not None and h["psnr"] >= threshold:
            return h["train_time_s"]
    return None


def labelled(image: np.ndarray, text: str) -> np.ndarray:
    strip = np.full((max(18, image.shape[0] // 16), image.shape[1], 3), 255, np.uint8)
    scale = strip.shape[0] / 30
    cv2.putText(strip, text, (4, int(strip.shape[0] * 0.75)), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([strip, image], 0)


def save_samples(out: Path, anr: dict, dnr: dict) -> list[str]:
    folder = out / "samples"
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for identity, frames in anr["images"].items():
        for k, (a, d) in enumerate(zip(frames, dnr["images"][identity])):
            row = np.concatenate([labelled(a["truth"], "truth"), labelled(a["composite"], "ANR"),
                                  labelled(d["composite"], "DNR")], 1)
            path = folder / f"{identity}_{k}.png"
            cv2.imwrite(str(path), cv2.cvtColor(row, cv2.COLOR_RGB2BGR))
            written.append(str(path.relative_to(out)))
    return written


def plot_curves(path: Path, histories: dict, threshold: float) -> None:
    """Writes held-out PSNR against training seconds for every variant (a small PNG, no matplotlib)."""
    w, h, m = 720, 420, 50
    img = np.full((h, w, 3), 255, np.uint8)
    points = [(p["train_time_s"], p["psnr"]) for hist in histories.values() for p in hist if p["psnr"] is not None]
    if not points:
        return
    t_max = max(t for t, _ in points) or 1.0
    lo, hi = min(v for _, v in points) - 0.5, max(v for _, v in points) + 0.5

    def xy(t: float, v: float) -> tuple[int, int]:
        return int(m + t / t_max * (w - 2 * m)), int(h - m - (v - lo) / (hi - lo) * (h - 2 * m))

    cv2.rectangle(img, (m, m), (w - m, h - m), (0, 0, 0), 1)
    for k in range(5):
        v = lo + (hi - lo) * k / 4
        cv2.putText(img, f"{v:.1f}", (4, xy(0, v)[1] + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, f"training s (0..{t_max:.0f})", (w // 2 - 60, h - 15), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1)
    cv2.putText(img, "held-out PSNR dB", (m, m - 15), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1)
    if np.isfinite(threshold) and lo < threshold < hi:
        cv2.line(img, xy(0, threshold), xy(t_max, threshold), (160, 160, 160), 1)
    colours = {"dnr": (200, 0, 0), "anr-1stage": (0, 160, 0), "anr-nosplit": (0, 140, 255), "anr": (0, 0, 220)}
    for i, (name, hist) in enumerate(histories.items()):
        pts = [xy(p["train_time_s"], p["psnr"]) for p in hist if p["psnr"] is not None]
        colour = colours.get(name, (0, 0, 0))
        if len(pts) > 1:
            cv2.polylines(img, [np.array(pts, np.int32)], False, colour, 2, cv2.LINE_AA)
        cv2.putText(img, name, (w - m - 110, m + 20 + 18 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.5, colour, 1, cv2.LINE_AA)
    cv2.imwrite(str(path), img[..., ::-1])


def fmt(v, digits=3):
    return "-" if v is None else (f"{v:.{digits}f}" if isinstance(v, float) else str(v))


def report(out: Path, args, timings: dict, rows: dict, histories: dict, threshold: float, samples: list[str],
           commands: list[str]) -> str:
    device = torch.cuda.get_device_name(0) if args.device == "cuda" else "cpu"
    lines = [f"# ANR vs DNR on {args.identities} identities ({args.size}², preset `{args.preset}`)", "",
             f"Device: {device}; the same training-time budget per variant: {args.time_budget:g} s "
             f"(held-out evaluation during training not counted). Metrics on held-out poses (split/test), "
             f"composited over the background plate; LPIPS: {rows['anr']['lpips']}.", "",
             "| variant | PSNR ↑ | SSIM ↑ | FLIP ↓ | LPIPS ↓ | mask IoU ↑ | steps | train s |",
             "|---|---|---|---|---|---|---|---|"]
    for name, _, desc in VARIANTS:
        o = rows[name]["overall"]
        lines.append(f"| {desc} | {fmt(o['psnr'], 2)} | {fmt(o['ssim'])} | {fmt(o['flip'])} | {fmt(o['lpips'])} | "
                     f"{fmt(o['mask_iou'])} | {rows[name]['step']} | {rows[name]['train_time_s']:.0f} |")
    lines += ["", "Per identity (PSNR / SSIM):", "", "| variant | " + " | ".join(rows["anr"]["per_identity"]) + " |",
              "|---|" + "---|" * len(rows["anr"]["per_identity"])]
    for name, _, desc in VARIANTS:
        cells = [f"{fmt(v['psnr'], 2)} / {fmt(v['ssim'])}" for v in rows[name]["per_identity"].values()]
        lines.append(f"| {desc} | " + " | ".join(cells) + " |")
    lines += ["", f"Time to reach held-out PSNR {threshold:.2f} dB (training seconds; evaluated every "
              f"{args.eval_every} steps on {args.eval_frames} held-out frames per identity):", "",
              "| variant | seconds | best PSNR during training |", "|---|---|---|"]
    for name, _, desc in VARIANTS:
        hist = histories.get(name, [])
        t = time_to(hist, threshold)
        best = max((h["psnr"] for h in hist if h["psnr"] is not None), default=None)
        lines.append(f"| {desc} | {fmt(t, 1) if t is not None else 'not reached'} | {fmt(best, 2)} |")
    t_split, t_nosplit = time_to(histories.get("anr", []), threshold), time_to(histories.get("anr-nosplit", []), threshold)
    if t_split and t_nosplit:
        lines += ["", f"Split optimization reached the threshold {t_nosplit / t_split:.2f}x as fast as without it."]
    lines += ["", "Samples (held-out frames, truth | ANR | DNR): " + ", ".join(f"`{s}`" for s in samples[:6]), "",
              "Timings: " + ", ".join(f"{k} {v} s" for k, v in timings.items()), "", "Commands:", "", "```"]
    lines += commands + ["```", ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=os.environ.get("OUT", "experiment"), help="output folder (default $OUT)")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--captures", nargs="+", help="use these captures instead of synthesizing")
    parser.add_argument("--captures-dir", help="where synthetic captures are written and reused from when complete "
                        "(default OUT/captures; a folder outside OUT keeps them for later runs)")
    parser.add_argument("--synth-only", action="store_true", help="only write the captures (split a long run in two)")
    parser.add_argument("--body-model", help="body model file for --captures not tracked with the built-in body")
    parser.add_argument("--identities", type=int, default=2)
    parser.add_argument("--frames", type=int, default=150, help="frames per synthetic identity")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--motion", default="dance")
    parser.add_argument("--preset", default="fast")
    parser.add_argument("--time-budget", type=float, default=75.0, help="training seconds per variant")
    parser.add_argument("--total-s", type=float, default=540.0, help="wall-clock limit of the whole experiment: "
                        "the per-variant budget shrinks (equally for all) to fit it after synthesis")
    parser.add_argument("--overhead-s", type=float, default=30.0, help="expected start-up + evaluation seconds per variant")
    parser.add_argument("--eval-every", type=int, default=150, help="steps between held-out PSNR checks")
    parser.add_argument("--eval-frames", type=int, default=4)
    parser.add_argument("--test-frames", type=int, default=16, help="held-out frames per identity in the final eval")
    parser.add_argument("--threshold", type=float, default=0.0, help="PSNR threshold (0: the best PSNR both "
                        "ANR variants reached, minus 0.25 dB)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config overrides for all variants")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    commands = []
    if args.captures:
        from anr_studio.capture import Capture

        captures = [str(Path(c).resolve()) for c in args.captures]
        args.identities, args.size = len(captures), Capture(captures[0]).image_size[0]
    else:
        log(f"synthesizing {args.identities} identities at {args.size}²")
        captures, t = make_captures(Path(args.captures_dir) if args.captures_dir else out / "captures", args)
        timings.update(t)
        if args.synth_only:
            log(f"captures written: {' '.join(captures)}")
            return 0
        commands += [f"anr-studio synth --out {c} --seed {i} --frames {args.frames} --size {args.size} --motion {args.motion}"
                     for i, c in enumerate(captures)] + [f"anr-studio keyframes {c}" for c in captures]
    left = args.total_s - (time.perf_counter() - t_start)
    fitted = min(args.time_budget, left / len(VARIANTS) - args.overhead_s)
    if fitted < min(20.0, args.time_budget):
        raise SystemExit(f"only {left:.0f} s left for {len(VARIANTS)} variants: use fewer --frames or a larger --total-s")
    if fitted < args.time_budget:
        log(f"time budget per variant lowered from {args.time_budget:g} s to {fitted:.0f} s to fit --total-s")
        args.time_budget = round(fitted)
    rows, histories = {}, {}
    for name, flags, _ in VARIANTS:
        argv = train_args(name, flags, captures, out, args)
        commands.append("anr-studio " + " ".join(argv))
        log(f"training {name}")
        t0 = time.perf_counter()
        if cli.main(argv) != 0:
            raise SystemExit(f"training {name} failed")
        timings[f"train_{name}_wall_s"] = round(time.perf_counter() - t0, 1)
        run = out / "runs" / name
        histories[name] = json.loads((run / "heldout_psnr.json").read_text())["history"]
        t0 = time.perf_counter()
        keep = 3 if name in ("anr", "dnr") else 0
        result = evaluate(run, captures, "test", device=args.device, max_frames=args.test_frames, keep_images=keep,
                          body_path=args.body_model)
        timings[f"eval_{name}_s"] = round(time.perf_counter() - t0, 1)
        result["train_time_s"] = json.loads((run / "log.jsonl").read_text().splitlines()[-1])["elapsed_s"]
        rows[name] = result
        images = result.pop("images", None)
        (run / "metrics.json").write_text(json.dumps(result, indent=1))
        result["images"] = images
        commands.append(f"anr-studio eval {run} --captures {' '.join(captures)} --split test "
                        f"--max-frames {args.test_frames} --out {run / 'metrics.json'}")
        log(f"{name}: PSNR {result['overall']['psnr']:.2f} dB after {result['step']} steps")
    best = [max((h["psnr"] for h in histories[n] if h["psnr"] is not None), default=None) for n in ("anr", "anr-nosplit")]
    if args.threshold:
        threshold = args.threshold
    elif None in best:
        threshold = float("nan")
        log("no held-out PSNR was recorded during training: lower --eval-every for time-to-threshold")
    else:
        threshold = min(best) - 0.25
    samples = save_samples(out, rows["anr"], rows["dnr"])
    plot_curves(out / "heldout_psnr.png", histories, threshold)
    samples.append("heldout_psnr.png")
    timings["total_s"] = round(time.perf_counter() - t_start, 1)
    text = report(out, args, timings, rows, histories, threshold, samples, commands)
    (out / "results.md").write_text(text)
    for r in rows.values():
        r.pop("images", None)
    (out / "results.json").write_text(json.dumps({"metrics": rows, "heldout_psnr": histories, "threshold": threshold,
                                                  "timings": timings, "args": vars(args)}, indent=1))
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
