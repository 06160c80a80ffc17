"""Mask extraction IoU against the true masks of synthetic captures (CPU).

    python benchmarks/mask_iou.py --seeds 0 1 2 3 4 --motions walk walk walk dance turn --frames 60 --size 256
    python benchmarks/mask_iou.py --captures a.h5 b.h5        # existing captures with true masks

For each capture: the masks are extracted from the frames and the background plate alone (the
stored masks are only used for scoring) with and without the GrabCut band refinement; prints a
markdown table and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from anr_studio.capture import Capture
from anr_studio.capture.masks import MaskConfig, extract_mask
from anr_studio.metrics import mask_iou


def score(path: Path) -> dict:
    """Returns IoU statistics and timings of mask extraction on one capture with true masks."""
    cap = Capture(path)
    if not cap.has_masks:
        raise SystemExit(f"{path}: has no masks to score against")
    out = {"capture": path.name, "frames": len(cap), "size": list(cap.image_size)}
    for label, cfg in (("refined", MaskConfig()), ("coarse", MaskConfig(refine=False))):
        ious, t0 = [], time.perf_counter()
        for i in range(len(cap)):
            ious.append(mask_iou(extract_mask(cap.frame(i), cap.background, cfg), cap.mask(i)))
        seconds = time.perf_counter() - t0
        out[label] = {"mean_iou": float(np.mean(ious)), "min_iou": float(np.min(ious)),
                      "p10_iou": float(np.percentile(ious, 10)), "ms_per_frame": 1000 * seconds / len(cap)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2])
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--motions", nargs="*", default=["walk"], help="motion per seed (cycled)")
    parser.add_argument("--captures", type=Path, nargs="*", default=None, help="score these instead of synthesising")
    parser.add_argument("--out", type=Path, default=None, help="JSON result file")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        paths = args.captures
        if not paths:
            from anr_studio.capture.synth.generate import SynthConfig, generate_capture

            paths = []
            for k, seed in enumerate(args.seeds):
                motion = args.motions[k % len(args.motions)]
                path = Path(tmp) / f"synth_{seed}_{motion}.h5"
                generate_capture(path, SynthConfig(seed=seed, frames=args.frames, size=args.size, motion=motion))
                paths.append(path)
        for path in paths:
            results.append(score(Path(path)))
            r = results[-1]
            print(f"{r['capture']}: refined IoU mean {r['refined']['mean_iou']:.4f} min {r['refined']['min_iou']:.4f}; "
                  f"coarse mean {r['coarse']['mean_iou']:.4f}", flush=True)
    print("\n| capture | frames | size | IoU mean (refined) | IoU min | IoU p10 | IoU mean (no GrabCut) | ms/frame |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['capture']} | {r['frames']} | {r['size'][1]}x{r['size'][0]} | {r['refined']['mean_iou']:.4f} | "
              f"{r['refined']['min_iou']:.4f} | {r['refined']['p10_iou']:.4f} | {r['coarse']['mean_iou']:.4f} | "
              f"{r['refined']['ms_per_frame']:.1f} |")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"motions": args.motions, "results": results}, indent=2))


if __name__ == "__main__":
    main()
