# Shared by batch_quality.sh and quality_bisect.sh (source it): two synthetic dancers, and one timed
# `anr-studio train` + `anr-studio eval` run printed as a JSON line. Uses OUT, C, PRESET and BUDGET.

make_dancers() {  # frames, size: writes and keyframes $C/s0.h5 and $C/s1.h5
  mkdir -p "$C"
  for s in 0 1; do python3 -m anr_studio.cli synth --out "$C/s$s.h5" --seed $s --frames "$1" --size "$2" --motion dance --quiet & done; wait
  for s in 0 1; do python3 -m anr_studio.cli keyframes "$C/s$s.h5" >/dev/null & done; wait
}

train_eval() {  # name, source tree, env assignment (or -), extra train flags...
  local name=$1 src=$2 envset=$3; shift 3
  env ${envset/#-/} PYTHONPATH="$src:${PYTHONPATH:-}" python3 -m anr_studio.cli train --captures "$C/s0.h5" "$C/s1.h5" \
    --preset "$PRESET" --out "$OUT/runs/$name" --time-budget "$BUDGET" --steps 100000000 --checkpoint-every 100000000 \
    --no-progress --device cuda "$@" 2>&1 | tail -2
  env ${envset/#-/} PYTHONPATH="$src:${PYTHONPATH:-}" python3 -m anr_studio.cli eval "$OUT/runs/$name" \
    --captures "$C/s0.h5" "$C/s1.h5" --split test --max-frames 16 --out "$OUT/runs/$name/metrics.json" >/dev/null
  python3 - "$OUT/runs/$name/metrics.json" "$name" "$*" <<'PY'
import json, sys
m = json.load(open(sys.argv[1])); o = m["overall"]
print(json.dumps({"run": sys.argv[2], "flags": sys.argv[3], "step": m.get("step"),
                  **{k: round(o[k], 4) for k in ("psnr", "ssim", "flip", "mask_iou") if o.get(k) is not None}}), flush=True)
PY
}
