#!/usr/bin/env bash
# Makes the shipped demo avatar and its sample media in one GPU command (about 16 minutes):
#
#   bash scripts/make_demo_avatar.sh "$OUT"
#
# 1. three synthetic captures (`anr-studio synth`, seeds 15/25/14: a yellow long-sleeved top + checked skirt,
#    a turquoise long-sleeved top + striped wide trousers, a magenta t-shirt + checked trousers: tops of
#    clearly different colours, so a swap is obvious; different body shapes), 4 cameras around each person, all three
#    doing the same motion (a walk, a dance, arm lifts) so the renderer can tell them apart only by
#    their textures, never by their poses;
# 2. the people named ada / ben / cleo in their captures, and keyframes for each (`anr-studio keyframes`);
# 3. training with the `demo` preset (U-Net widths capped at 128 so the file stays < 40 MB) for
#    whatever time is left after a reserve for the steps below;
# 4. a try-on fine-tune of the renderer (`anr-studio tune-tryon`, TUNE_S seconds): the renderer keeps rendering
#    every identity as before and learns to honour texture swaps;
# 5. held-out metrics, and under $OUT:
#    demo.anr.part-aa, demo.anr.part-ab  the avatar split in < 16 MiB pieces (for transfers that limit
#                                        file sizes): `cat demo.anr.part-* > models/demo.anr`
#    orbit.mp4     ada in the studio's standing pose, seen from 72 views around her
#    dance.mp4     ada | ben | cleo dancing side by side (one renderer)
#    walk.mp4      the same, walking
#    tryon.png     ben | ada | ada wearing ben's upper clothes (UV region swap)
#    eval.json     held-out metrics (`anr-studio eval`)
#    summary.json  timings, training result, held-out metrics, sha256 and size of demo.anr, commands
#
# A miniature for the CPU (checks the whole script in a minute or two):
#   SIZE=64 FRAMES=10 VIEWS=2 PRESET=tiny TOTAL_S=200 RESERVE_S=150 TUNE_S=5 MEDIA_SIZE=48 ORBIT=4 ANIM_FRAMES=4 \
#       bash scripts/make_demo_avatar.sh /tmp/demo_out
set -euo pipefail

OUT=${1:?usage: make_demo_avatar.sh OUT_DIR}
SIZE=${SIZE:-256}              # capture resolution (the demo preset trains on 256² crops)
FRAMES=${FRAMES:-240}          # frames per capture
VIEWS=${VIEWS:-4}              # cameras around each person
PRESET=${PRESET:-demo}
TOTAL_S=${TOTAL_S:-970}        # wall-clock seconds for the whole script
RESERVE_S=${RESERVE_S:-140}    # kept for trainer start-up, eval, renders and writing files
TUNE_S=${TUNE_S:-400}          # the try-on fine-tune's seconds
MEDIA_SIZE=${MEDIA_SIZE:-256}  # size of the sample videos and images
ORBIT=${ORBIT:-72}
ANIM_FRAMES=${ANIM_FRAMES:-150}
DEVICE=${DEVICE:-$(python -c 'import torch; print("cuda" if torch.cuda.is_available() else "cpu")')}
WORK=${WORK:-$(mktemp -d /tmp/anr_demo.XXXXXX)}

# The console script if installed, else the module (a checkout on PYTHONPATH).
if command -v anr-studio > /dev/null; then ANR=(command anr-studio); else ANR=(python -m anr_studio.cli); fi
anr-studio() { "${ANR[@]}" "$@"; }
START=$(date +%s)
elapsed() { echo $(( $(date +%s) - START )); }
mkdir -p "$OUT" "$WORK"
log() { echo "[make_demo_avatar $(elapsed)s] $*" >&2; }

# 1 + 2. captures and keyframes, the three people in parallel (synth runs on the CPU), all doing one
# motion: the built-in walk, dance and arm lifts in a row, FRAMES frames picked evenly over the three.
python - "$WORK/motion.npz" "$FRAMES" <<'EOF'
import sys
import numpy as np
from anr_studio.fileio import shipped_path
poses, trans, end = [], [], np.zeros(3, np.float32)
for name in ("walk", "aist_demo", "arms"):
    clip = np.load(shipped_path("resources", "motions", f"{name}.npz"))
    t = clip["trans"].astype(np.float32)
    trans.append(t - t[0] + end)
    end = trans[-1][-1]
    poses.append(clip["poses"].astype(np.float32))
poses, trans = np.concatenate(poses), np.concatenate(trans)
pick = np.linspace(0, len(poses) - 1, int(sys.argv[2])).round().astype(int)
np.savez(sys.argv[1], poses=poses[pick], trans=trans[pick], fps=np.float32(30.0))
EOF
THREADS=$(( $(nproc) / 3 > 0 ? $(nproc) / 3 : 1 ))
SEEDS=(15 25 14)
NAMES=(ada ben cleo)  # the identities' names in the avatar
pids=()
for i in 0 1 2; do
  (
    export OMP_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS
    anr-studio synth --out "$WORK/person$i.h5" --seed "${SEEDS[$i]}" --frames "$FRAMES" --size "$SIZE" \
      --views "$VIEWS" --motion "$WORK/motion.npz" --quiet --json > "$WORK/synth$i.json"
    python -c "import sys, h5py; f = h5py.File(sys.argv[1], 'r+'); f.attrs['identity'] = sys.argv[2]; f.close()" "$WORK/person$i.h5" "${NAMES[$i]}"
    anr-studio keyframes "$WORK/person$i.h5" > "$WORK/keyframes$i.txt"
  ) &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
SYNTH_S=$(elapsed)
log "captures and keyframes done"

# 3. training for the time that is left.
BUDGET=$(( TOTAL_S - SYNTH_S - RESERVE_S - TUNE_S ))
if (( BUDGET < 20 )); then BUDGET=20; fi
log "training $PRESET for ${BUDGET}s"
TRAIN_CMD=(anr-studio train --captures "$WORK/person0.h5" "$WORK/person1.h5" "$WORK/person2.h5" --preset "$PRESET"
  --out "$WORK/run" --time-budget "$BUDGET" --steps 1000000 --device "$DEVICE" --no-progress
  --set model.r1.max_channels=128 --set model.r2.max_channels=128 --set optim.checkpoint_every=100000)
if [[ "$PRESET" == tiny ]]; then TRAIN_CMD+=(--set data.workers=0); fi
"${TRAIN_CMD[@]}" > "$WORK/train.log" 2>&1 || { tail -20 "$WORK/train.log" >&2; exit 1; }
TRAIN_END=$(elapsed)

# 4. the try-on fine-tune.
log "try-on fine-tune for ${TUNE_S}s"
anr-studio tune-tryon "$WORK/run/avatar.anr" --out "$WORK/tuned.anr" --seconds "$TUNE_S" --device "$DEVICE" --quiet \
  > "$WORK/tune.log" 2>&1 || { tail -20 "$WORK/tune.log" >&2; exit 1; }

# 5. metrics, media.
python - "$WORK/tuned.anr" "$WORK/demo.anr" "$TUNE_S" "${SEEDS[@]}" <<'EOF'
import sys
from anr_studio.avatar import Avatar
avatar = Avatar.load(sys.argv[1])
avatar.meta["demo"] = {"made_by": "scripts/make_demo_avatar.sh", "synth_seeds": [int(s) for s in sys.argv[4:]],
                       "tryon_tuning": {"made_by": "anr-studio tune-tryon", "seconds": int(sys.argv[3])}}
avatar.save(sys.argv[2])
EOF
# The avatar goes out first: a failure in the media below leaves it under $OUT.
split -b 15m "$WORK/demo.anr" "$OUT/demo.anr.part-"
anr-studio eval "$WORK/demo.anr" --captures "$WORK/person0.h5" "$WORK/person1.h5" "$WORK/person2.h5" --max-frames 6 \
  --device "$DEVICE" --out "$WORK/eval.json" > /dev/null
cp "$WORK/eval.json" "$OUT/eval.json"
log "rendering samples"
R=(--device "$DEVICE" --quiet --size "$MEDIA_SIZE")
python -c "import sys, numpy as np; from anr_studio.components.pose_state import standing_pose; np.save(sys.argv[1], standing_pose())" \
  "$WORK/standing.npy"
anr-studio render "$WORK/demo.anr" --identity ada --orbit "$ORBIT" --pose "$WORK/standing.npy" --out "$OUT/orbit.mp4" "${R[@]}"
anr-studio render "$WORK/demo.anr" --identity ada,ben,cleo --motion dance --frames "$ANIM_FRAMES" --out "$OUT/dance.mp4" "${R[@]}"
anr-studio render "$WORK/demo.anr" --identity ada,ben,cleo --motion walk --frames "$ANIM_FRAMES" --out "$OUT/walk.mp4" "${R[@]}"
anr-studio swap "$WORK/demo.anr" --from ben --to ada --region upper --name ada_in_ben_top --out "$WORK/tryon.anr" \
  --preview "$OUT/tryon.png" --preview-size "$MEDIA_SIZE" --device "$DEVICE" --quiet

python - "$WORK" "$OUT" "$SYNTH_S" "$TRAIN_END" "$BUDGET" "$PRESET" "$(elapsed)" <<'EOF'
import hashlib, json, sys
from pathlib import Path
import cv2
from anr_studio.avatar.file import read_avatar
work, out = Path(sys.argv[1]), Path(sys.argv[2])
demo = work / "demo.anr"
meta = read_avatar(demo).meta
log = [json.loads(l) for l in (work / "run" / "log.jsonl").read_text().splitlines() if l.strip()]
summary = {
    "avatar": {"bytes": demo.stat().st_size, "sha256": hashlib.sha256(demo.read_bytes()).hexdigest(),
               "identities": meta["identities"], "step": meta.get("step"), "train_time_s": meta.get("train_time_s"),
               "preset": sys.argv[6], "parts": sorted(p.name for p in out.glob("demo.anr.part-*"))},
    "timings_s": {"synth_and_keyframes": int(sys.argv[3]), "until_trained": int(sys.argv[4]),
                  "train_budget": int(sys.argv[5]), "total": int(sys.argv[7])},
    "last_log": log[-1] if log else None,
    "eval": json.loads((work / "eval.json").read_text()),
    "videos": {name: {"frames": int(cv2.VideoCapture(str(out / name)).get(cv2.CAP_PROP_FRAME_COUNT))}
               for name in ("orbit.mp4", "dance.mp4", "walk.mp4")},
    "synth": [json.loads((work / f"synth{i}.json").read_text()) for i in range(3)],
    "keyframes": [(work / f"keyframes{i}.txt").read_text().splitlines()[0] for i in range(3)],
    "reassemble": "cat demo.anr.part-* > models/demo.anr && sha256sum models/demo.anr",
}
(out / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
print(json.dumps({k: summary[k] for k in ("avatar", "timings_s", "videos")}, indent=1, default=str))
EOF
log "done: $(ls "$OUT" | tr '\n' ' ')"
