#!/usr/bin/env bash
# Where did `fast` training quality go? One GPU command (~10 min): the 75 s b8 check of
# batch_quality.sh for the current tree under several switches, and for an older commit.
#
#   bash benchmarks/quality_bisect.sh OUT [OLD_COMMIT] [BUDGET_S]
#   VARIANTS="head old" bash benchmarks/quality_bisect.sh OUT     # a subset (each ~2 min)
#
# Session 3 (2026-11-25) measured, with this tree's code at 6228ee3+, b8 at 75 s: PSNR 14.07,
# mask IoU 0.30 (b32 20.26, b32 with ANR_INSTANCE_NORM=triton 16.19), where session 2 had
# 23.68 / 0.838 (b8) at ~11:20 UTC that day. On the CPU (tiny preset, 150 s, 128² synth) the
# old and new code train alike (25.34 vs 25.41 dB), and the Triton kernels (interpreted, fp32)
# give the torch path's losses and gradients; so the cause is on the GPU path: graphs, Triton
# kernels in bf16, or streams. Each variant below switches one of them off.
set -euo pipefail
OUT=${1:?output folder}; OLD=${2:-d328de7}; BUDGET=${3:-75}
C=$OUT/captures; mkdir -p "$C"
for s in 0 1; do python3 -m anr_studio.cli synth --out "$C/s$s.h5" --seed $s --frames 150 --size 512 --motion dance --quiet & done; wait
for s in 0 1; do python3 -m anr_studio.cli keyframes "$C/s$s.h5" >/dev/null & done; wait
run() {  # name, source tree, env assignment (or -), extra train flags...
  local name=$1 src=$2 envset=$3; shift 3
  env ${envset/#-/} PYTHONPATH="$src:${PYTHONPATH:-}" python3 -m anr_studio.cli train --captures "$C/s0.h5" "$C/s1.h5" \
    --preset fast --out "$OUT/runs/$name" --time-budget "$BUDGET" --steps 100000000 --checkpoint-every 100000000 \
    --no-progress --device cuda "$@" 2>&1 | tail -1
  env ${envset/#-/} PYTHONPATH="$src:${PYTHONPATH:-}" python3 -m anr_studio.cli eval "$OUT/runs/$name" \
    --captures "$C/s0.h5" "$C/s1.h5" --split test --max-frames 16 --out "$OUT/runs/$name/metrics.json" >/dev/null
  python3 - "$OUT/runs/$name/metrics.json" "$name" <<'PY'
import json, sys
m = json.load(open(sys.argv[1])); o = m["overall"]
print(json.dumps({"run": sys.argv[2], "step": m.get("step"),
                  **{k: round(o[k], 4) for k in ("psnr", "ssim", "flip", "mask_iou") if o.get(k) is not None}}), flush=True)
PY
}
HERE=$(pwd)
VARIANTS=${VARIANTS:-head head-eager head-torchnorm head-torchl1 old}
for v in $VARIANTS; do
  case $v in
    head) run head "$HERE" - ;;
    head-eager) run head-eager "$HERE" - --set optim.cuda_graph=false ;;
    head-torchnorm) run head-torchnorm "$HERE" ANR_INSTANCE_NORM=nhwc ;;
    head-torchl1) run head-torchl1 "$HERE" ANR_L1_KERNEL=torch ;;
    head-nooverlap) run head-nooverlap "$HERE" - --set optim.overlap_data=false ;;
    old)
      git worktree add -f "$OUT/old" "$OLD" >/dev/null 2>&1 || true
      if [ -d "$OUT/old/anr_studio" ]; then run old "$OUT/old" -; else echo "no worktree of $OLD: skipped"; fi ;;
  esac
done
