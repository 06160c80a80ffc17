#!/usr/bin/env bash
# A user's whole flow on a CUDA GPU with the tuned defaults (bf16, channels_last, fused Adam, CUDA graphs):
# synth, keyframes, train, resume, a SIGTERM in the middle of a resumed run and another resume, fit, eval,
# render, swap, export, then the tests that only run on CUDA. Prints each step's exit code and last lines;
# the logs stay under OUT. About 4 minutes on one H100.
#
#   bash scripts/check_cuda_workflow.sh OUT_DIR
#
# A CPU miniature (checks the script itself in about a minute):
#   DEVICE=cpu SIZE=64 FRAMES=16 PRESET=tiny TRAIN_S=4 FIT_STEPS=20 bash scripts/check_cuda_workflow.sh /tmp/flow_out
set -u
OUT=${1:?usage: check_cuda_workflow.sh OUT_DIR}
DEVICE=${DEVICE:-cuda}
SIZE=${SIZE:-256}
FRAMES=${FRAMES:-80}
PRESET=${PRESET:-demo}
TRAIN_S=${TRAIN_S:-20}  # training seconds of the first run; each resume adds as many
FIT_STEPS=${FIT_STEPS:-200}
W=$(mktemp -d /tmp/anr_cuda_flow.XXXXXX)
mkdir -p "$OUT"
START=$(date +%s)
if command -v anr-studio > /dev/null; then ANR=(anr-studio); else ANR=(python -m anr_studio.cli); fi
anr() { "${ANR[@]}" "$@"; }
FAILED=0
step() {
  local name=$1; shift
  "$@" > "$OUT/$name.log" 2>&1
  local rc=$?
  (( rc == 0 )) || FAILED=1
  echo "== $name rc=$rc t=$(( $(date +%s) - START ))s"; tail -2 "$OUT/$name.log"
}
TRAIN=(--steps 1000000 --device "$DEVICE" --no-progress)
step synth0 anr synth --out "$W/a.h5" --seed 0 --frames "$FRAMES" --size "$SIZE" --views 2 --quiet
step synth1 anr synth --out "$W/b.h5" --seed 1 --frames "$FRAMES" --size "$SIZE" --views 2 --quiet
step synth2 anr synth --out "$W/c.h5" --seed 5 --frames "$FRAMES" --size "$SIZE" --views 2 --quiet
step keyframes anr keyframes "$W/a.h5"
step train anr train --captures "$W/a.h5" "$W/b.h5" --preset "$PRESET" --out "$W/run" --time-budget "$TRAIN_S" "${TRAIN[@]}" \
  --set optim.checkpoint_every=200
step resume anr train --out "$W/run" --resume --time-budget $(( 2 * TRAIN_S )) "${TRAIN[@]}"
# A stop by SIGTERM in the middle of a resumed run (--time-budget counts the run's whole training time).
( exec "${ANR[@]}" train --out "$W/run" --resume --time-budget 300 "${TRAIN[@]}" > "$OUT/sigterm.log" 2>&1 ) &
PID=$!
STEPS=$(wc -l < "$W/run/log.jsonl")
for _ in $(seq 600); do  # until it trains again, then a few seconds more
  (( $(wc -l < "$W/run/log.jsonl") > STEPS )) && break
  sleep 0.2
done
sleep $(( TRAIN_S / 4 + 1 ))
kill -TERM "$PID"
wait "$PID"; rc=$?; (( rc == 0 )) || FAILED=1
echo "== sigterm rc=$rc t=$(( $(date +%s) - START ))s"; tail -1 "$OUT/sigterm.log"
step resume2 anr train --out "$W/run" --resume --time-budget $(( 4 * TRAIN_S )) "${TRAIN[@]}"
step fit anr fit "$W/run" --capture "$W/c.h5" --name synth-5 --steps "$FIT_STEPS" --device "$DEVICE" --out "$W/fitted.anr" --quiet
step eval anr eval "$W/fitted.anr" --captures "$W/a.h5" "$W/b.h5" "$W/c.h5" --max-frames 4 --device "$DEVICE" --out "$OUT/eval.json"
step render anr render "$W/fitted.anr" --orbit 8 --size "$SIZE" --device "$DEVICE" --out "$OUT/orbit" --quiet
step swap anr swap "$W/fitted.anr" --from synth-5 --to synth-0 --region upper --name tryon --out "$W/swapped.anr" \
  --preview "$OUT/tryon.png" --device "$DEVICE" --quiet
step export anr export "$W/swapped.anr" --mesh "$W/body.obj" --texture "$W/texture.png" --device "$DEVICE" --quiet
[[ "$DEVICE" == cuda ]] && step cuda_tests python -m pytest -q -p no:cacheprovider tests/train/test_step_graph.py tests/train/test_checkpoint.py \
  tests/train/test_run_safety.py tests/model/test_fast_paths.py tests/model/test_graph_cache.py tests/avatar/test_frame_graph.py
rm -rf "$W"
echo "total $(( $(date +%s) - START )) s; $( (( FAILED )) && echo 'a step FAILED' || echo 'every step passed')"
exit $FAILED
