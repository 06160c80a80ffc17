"""GPU experiment: which loss terms paint what? Trains one loss mix after another on the same captures.

    python benchmarks/results_experiment.py --device cuda --out /tmp/exp --synth-only     # two 512² dancers
    python benchmarks/loss_mixes.py --captures /tmp/exp/captures/synth-*-512-150.h5 --work /tmp/mix --out $OUT \\
        --steps 2500 --mixes default fm10 advonly nogan                                 # ~75 s per mix on an H100
    python benchmarks/loss_mixes.py --captures /tmp/exp/captures/synth-*-512-150.h5 --work /tmp/mix --out $OUT \\
        --steps 4000 --mixes default adv05 bilinear nogan --set optim.seed=1            # sixth session, one H200
    python benchmarks/loss_mixes.py --captures a.h5 b.h5 --work /tmp/mix --out /tmp/mix --preset tiny \\
        --device cpu --steps 10 --mixes default nogan                                   # smoke test

Each mix runs `anr-studio train` for ``--steps`` steps (held-out PSNR every 500 steps), then the
held-out (split/test) and training (split/train) PSNR and mask IoU of up to 16 frames per identity.
Writes one JSON line per mix to stdout and ``OUT/loss_mixes.json``, and ``OUT/loss_mixes_{test,train}.png``:
the first frame of that split of the first capture, truth then one column per mix, cropped to the figure.
The mask stays shielded from the discriminator (``loss.gan_mask_grad=false``, the default) in all mixes.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from anr_studio.train.evaluate import evaluate  # noqa: E402
from results_experiment import labelled  # noqa: E402  (this folder is on sys.path when run as a script)

MIXES = {  # name: (config overrides, label)
    "default": ([], "defaults"),
    "fm20": (["loss.feature_matching=20"], "FM 20 + adv 1"),
    "fm10": (["loss.feature_matching=10"], "FM 10 + adv 1"),
    "fm11adv01": (["loss.feature_matching=11", "loss.adversarial=0.1"], "FM 11 + adv 0.1"),
    "fmonly": (["loss.feature_matching=20", "loss.adversarial=0"], "FM 20 only"),
    "advonly": (["loss.feature_matching=0", "loss.adversarial=1"], "adv 1 only"),
    "nogan": (["loss.feature_matching=0", "loss.adversarial=0"], "none (L1 only)"),
    "adv05": (["loss.adversarial=0.5"], "adv 0.5"),
    "bilinear": (["model.r1.upsample=bilinear", "model.r2.upsample=bilinear"], "bilinear upsampling"),
}


def crop(image: np.ndarray) -> np.ndarray:
    """Returns the middle of a synthetic capture's frame, where the dancer is."""
    h, w = image.shape[:2]
    return image[int(h * .08):int(h * .94), int(w * .23):int(w * .78)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--captures", nargs="+", required=True)
    parser.add_argument("--work", required=True, help="run folders go here (checkpoints: keep it off $OUT)")
    parser.add_argument("--out", required=True, help="JSON and images go here")
    parser.add_argument("--mixes", nargs="+", default=["default", "fm20", "advonly", "nogan"], choices=sorted(MIXES))
    parser.add_argument("--steps", type=int, default=2500)
    parser.add_argument("--preset", default="fast")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config overrides for all mixes")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    columns: dict[str, list[np.ndarray]] = {"test": [], "train": []}
    records = []
    for name in args.mixes:
        overrides, label = MIXES[name]
        run = Path(args.work) / name
        argv = [sys.executable, "-m", "anr_studio.cli", "train", "--captures", *args.captures, "--preset", args.preset,
                "--out", str(run), "--steps", str(args.steps), "--checkpoint-every", "100000000", "--eval-every", "500",
                "--eval-frames", "4", "--no-progress", "--device", args.device]
        for o in [*args.set, *overrides]:
            argv += ["--set", o]
        done = subprocess.run(argv, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"{name}: anr-studio train failed: {done.stderr.strip()[-2000:]}")
        record = {"mix": name, "overrides": overrides,
                  "warnings": [line for line in done.stderr.splitlines() if "discriminator is winning" in line or "no longer wins" in line]}
        history = json.load(open(run / "heldout_psnr.json"))["history"]
        record["psnr_curve"] = [round(h["psnr"], 2) for h in history]
        for split in ("test", "train"):
            result = evaluate(run, args.captures, split, device=args.device, max_frames=16, keep_images=1, psnr_only=True)
            record[split] = {identity: {k: round(v, 3) for k, v in d.items() if isinstance(v, float)}
                             for identity, d in result["per_identity"].items()}
            first = next(iter(result["images"].values()))[0]
            if not columns[split]:
                columns[split].append(labelled(crop(first["truth"]), "truth"))
            columns[split].append(labelled(crop(first["composite"]), label))
        print(json.dumps(record), flush=True)
        records.append(record)
        # Written after every mix, so a run stopped by a time limit keeps what it finished.
        (out / "loss_mixes.json").write_text(json.dumps(records, indent=1))
        for split, images in columns.items():
            cv2.imwrite(str(out / f"loss_mixes_{split}.png"), cv2.cvtColor(np.concatenate(images, 1), cv2.COLOR_RGB2BGR))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
