#!/usr/bin/env bash
# Does `fast` training stay stable? With the mask exposed to the discriminator (loss.gan_mask_grad=true)
# it wins for hundreds of steps at a time (its loss -> 0.003, the mask's BCE 0.05 -> 0.4, held-out mask
# IoU 0.85 -> 0.3) and then may recover, so one
# evaluation at the end of a run says little. Each variant trains STEPS steps on two 512² dancers and
# evaluates held-out PSNR and mask IoU every EVERY steps; one JSON line per variant summarises the
# curve (the last third's worst and median) and the run's loss log (lowest discriminator loss).
#
#   bash benchmarks/gan_stability.sh OUT [STEPS] [EVERY]            # on one GPU; ~1.5 min per variant at 3000
#   VARIANTS="base noise05 fm10" bash benchmarks/gan_stability.sh OUT
#   PRESET=tiny SIZE=64 FRAMES=12 VARIANTS=base DEVICE=cpu bash benchmarks/gan_stability.sh /tmp/gs 20 10   # smoke test
set -euo pipefail
OUT=${1:?output folder}; STEPS=${2:-3000}; EVERY=${3:-250}
PRESET=${PRESET:-fast}; SIZE=${SIZE:-512}; FRAMES=${FRAMES:-60}; DEVICE=${DEVICE:-cuda}
C=$OUT/captures
. "$(dirname "$0")/quality_runs.sh"
[ -f "$C/s1.h5" ] || make_dancers "$FRAMES" "$SIZE"
VARIANTS=${VARIANTS:-base maskgrad fm10 noise05 dlr1e-4}
for v in $VARIANTS; do          # join variants with "+" to combine them: maskdetach+noise05
  flags=()
  for part in ${v//+/ }; do
  case $part in
    base) ;;
    frame) flags+=(--set loss.discriminator_real=frame) ;;          # the discriminator sees the raw frame
    noise05) flags+=(--set loss.discriminator_noise=0.05) ;;        # instance noise
    fm10) flags+=(--set loss.feature_matching=10) ;;               # discriminator feature matching 10 (default 0)
    fm20) flags+=(--set loss.feature_matching=20) ;;               # what the fallback for absent VGG19 weights was
    dlr1e-4) flags+=(--set optim.lr_discriminator=1e-4) ;;
    nocond) flags+=(--set model.discriminator.condition=none) ;;
    maskdetach) flags+=(--set loss.gan_mask_grad=false) ;;         # GAN terms shape the colours, not the mask (default)
    maskgrad) flags+=(--set loss.gan_mask_grad=true) ;;            # ... and the mask too (the fourth session's default)
    eager) flags+=(--set optim.cuda_graph=false) ;;
    *) echo "unknown variant $part"; exit 2 ;;
  esac
  done
  run=$OUT/runs/$v
  python3 -m anr_studio.cli train --captures "$C/s0.h5" "$C/s1.h5" --preset "$PRESET" --out "$run" --steps "$STEPS" \
    --checkpoint-every 100000000 --eval-every "$EVERY" --eval-frames 4 --no-progress --device "$DEVICE" \
    ${flags[@]+"${flags[@]}"} 2>&1 | grep -v "VGG19" | tail -1
  python3 - "$run" "$v" <<'PY'
import json, statistics, sys
run, name = sys.argv[1], sys.argv[2]
hist = json.load(open(f"{run}/heldout_psnr.json"))["history"]
log = [json.loads(line) for line in open(f"{run}/log.jsonl")]
rows = [r for r in log if "losses" in r]
losses = [r["losses"] for r in rows]
tail = hist[len(hist) * 2 // 3:] or hist
print(json.dumps({
    "variant": name, "steps": rows[-1]["step"] if rows else None,
    "psnr_curve": [round(h["psnr"], 2) for h in hist], "iou_curve": [round(h["mask_iou"], 3) for h in hist],
    "last_third_psnr_min": round(min(h["psnr"] for h in tail), 2),
    "last_third_psnr_median": round(statistics.median(h["psnr"] for h in tail), 2),
    "last_third_iou_min": round(min(h["mask_iou"] for h in tail), 3),
    "min_discriminator_loss": round(min(l["discriminator"] for l in losses), 4) if losses and "discriminator" in losses[0] else None,
    "max_mask_bce_after_500": round(max((r["losses"].get("mask", 0) for r in rows if r["step"] > 500), default=0), 3),
}), flush=True)
PY
done
