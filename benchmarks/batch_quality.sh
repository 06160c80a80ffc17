#!/usr/bin/env bash
# Does a preset train as well at the batch size where it reaches its speed target as at a smaller
# one? `fast`: batch 32 (400 images/s target) vs 8; PRESET=paper: batch 8 (100 images/s) vs 4, at
# 1024². Same data and time budget for each; held-out metrics from `anr-studio eval`.
#   bash benchmarks/batch_quality.sh OUT [BUDGET_S]                        # on one GPU, ~5 min
#   PRESET=paper SIZE=1024 FRAMES=80 bash benchmarks/batch_quality.sh OUT 100
set -euo pipefail
OUT=${1:?output folder}; BUDGET=${2:-75}
PRESET=${PRESET:-fast}; SIZE=${SIZE:-512}; FRAMES=${FRAMES:-150}
C=$OUT/captures
. "$(dirname "$0")/quality_runs.sh"
make_dancers "$FRAMES" "$SIZE"
run() { local name=$1 envset=$2; shift 2; train_eval "$name" "$(pwd)" "$envset" "$@"; }
if [ "$PRESET" = paper ]; then
  run b4 - --set data.batch_size=4
  run b8 - --set data.batch_size=8
else
  run b8 -
  run b32 - --set data.batch_size=32
  run b32-triton ANR_INSTANCE_NORM=triton --set data.batch_size=32
fi
