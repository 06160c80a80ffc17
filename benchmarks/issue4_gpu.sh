#!/usr/bin/env bash
# Issue 4's GPU figures at today's defaults in one device call (< 10 min on one H100): the training
# throughput of `paper` and `fast` (eager fp32 baseline and the tuned, graphed path, same run) and the
# results experiment (DNR, 1-stage ANR, ANR without split optimization, full ANR; 75 s each). Big run
# folders stay in WORK; OUT gets the tables, JSON and one tar of the sample images (few files).
#
#   bash benchmarks/issue4_gpu.sh $OUT [WORK]
set -euo pipefail
OUT=${1:?output folder}; WORK=${2:-/tmp/issue4}
mkdir -p "$OUT" "$WORK"
python3 benchmarks/bench_train.py --device cuda --presets paper fast --variants eager-fp32 tuned-graph \
  --window 10 --warmup-windows 2 --windows 3 --frames 16 --json "$OUT/bench_train.json" --markdown "$OUT/bench_train.md" \
  2>&1 | grep -v VGG19 | tail -8
python3 benchmarks/results_experiment.py --device cuda --out "$WORK/exp" --total-s "${TOTAL_S:-450}" 2>&1 | grep -v VGG19 | tail -40
cp "$WORK/exp/results.md" "$WORK/exp/results.json" "$OUT/"
tar -C "$WORK/exp" -cf "$OUT/samples.tar" samples
