#!/usr/bin/env bash
# Does a preset train as well at the batch size where it reaches its speed target as at a smaller
# one? `fast`: batch 32 (400 images/s target) vs 8; PRESET=paper: batch 8 (100 images/s) vs 4, at
# 1024². Same data and time budget for each; held-out metrics from `anr-studio eval`.
#   bash benchmarks/batch_quality.sh OUT [BUDGET_S]                        # on one GPU, ~5 min
#   PRESET=paper SIZE=1024 FRAMES=80 bash benchmarks/batch_quality.sh OUT 100
set -euo pipefail
OUT=${1:?output folder}; BUDGET=${2:-75}
PRESET=${PRESET:-fast}; SIZE=${SIZE:-512}; FRAMES=${FRAMES:-150}
C=$OUT/captures; mkdir -p "$C"
for s in 0 1; do python3 -m anr_studio.cli synth --out "$C/s$s.h5" --seed $s --frames "$FRAMES" --size "$SIZE" --motion dance --quiet & done; wait
for s in 0 1; do python3 -m anr_studio.cli keyframes "$C/s$s.h5" >/dev/null & done; wait
run() {  # name, env assignment (or -), extra train flags...
  local name=$1 envset=$2; shift 2
  env ${envset/#-/} python3 -m anr_studio.cli train --captures "$C/s0.h5" "$C/s1.h5" --preset "$PRESET" --out "$OUT/runs/$name" \
    --time-budget "$BUDGET" --steps 100000000 --checkpoint-every 100000000 --no-progress --device cuda "$@" 2>&1 | tail -2
  env ${envset/#-/} python3 -m anr_studio.cli eval "$OUT/runs/$name" --captures "$C/s0.h5" "$C/s1.h5" --split test \
    --max-frames 16 --out "$OUT/runs/$name/metrics.json" >/dev/null
  python3 - "$OUT/runs/$name/metrics.json" "$name" "$*" <<'PY'
import json, sys
m = json.load(open(sys.argv[1])); o = m["overall"]
print(json.dumps({"run": sys.argv[2], "flags": sys.argv[3], "step": m.get("step"),
                  **{k: round(o[k], 4) for k in ("psnr", "ssim", "flip", "mask_iou") if o.get(k) is not None}}))
PY
}
if [ "$PRESET" = paper ]; then
  run b4 - --set data.batch_size=4
  run b8 - --set data.batch_size=8
else
  run b8 -
  run b32 - --set data.batch_size=32
  run b32-triton ANR_INSTANCE_NORM=triton --set data.batch_size=32
fi
