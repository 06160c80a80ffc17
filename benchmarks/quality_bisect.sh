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
# Session 4 ran it (docs/benchmarks.md, "Training stability"): head and d328de7 alike bad, eager good
# with 3x fewer steps; at equal steps eager fails too. The cause is the GAN, not the GPU path: use
# benchmarks/gan_stability.sh (held-out curves) for that.
set -euo pipefail
OUT=${1:?output folder}; OLD=${2:-d328de7}; BUDGET=${3:-75}
C=$OUT/captures; PRESET=fast
. "$(dirname "$0")/quality_runs.sh"
make_dancers 150 512
HERE=$(pwd)
VARIANTS=${VARIANTS:-head head-eager head-torchnorm head-torchl1 old}
for v in $VARIANTS; do
  case $v in
    head) train_eval head "$HERE" - ;;
    head-eager) train_eval head-eager "$HERE" - --set optim.cuda_graph=false ;;
    head-torchnorm) train_eval head-torchnorm "$HERE" ANR_INSTANCE_NORM=nhwc ;;
    head-torchl1) train_eval head-torchl1 "$HERE" ANR_L1_KERNEL=torch ;;
    head-nooverlap) train_eval head-nooverlap "$HERE" - --set optim.overlap_data=false ;;
    old)
      git worktree add -f "$OUT/old" "$OLD" >/dev/null 2>&1 || true
      if [ -d "$OUT/old/anr_studio" ]; then train_eval old "$OUT/old" -; else echo "no worktree of $OLD: skipped"; fi ;;
  esac
done
