"""The scripts that make the shipped demo avatar (scripts/make_demo_avatar.sh) and check a user's whole flow
on a GPU (scripts/check_cuda_workflow.sh) run end to end as CPU miniatures and write what their headers promise."""

import json
import os
import subprocess
import sys
from pathlib import Path

import h5py

from anr_studio.avatar.file import read_avatar

ROOT = Path(__file__).resolve().parents[1]
MINIATURE = dict(SIZE="64", FRAMES="10", VIEWS="2", PRESET="tiny", TOTAL_S="0", RESERVE_S="0", TUNE_S="3", MEDIA_SIZE="48",
                 ORBIT="4", ANIM_FRAMES="4", DEVICE="cpu")


def test_the_demo_script_makes_a_named_three_person_avatar_and_its_samples(tmp_path):
    out, work = tmp_path / "out", tmp_path / "work"
    env = dict(os.environ, **MINIATURE, WORK=str(work), OMP_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
               PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]))
    run = subprocess.run(["bash", str(ROOT / "scripts" / "make_demo_avatar.sh"), str(out)], env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    for name in ("orbit.mp4", "dance.mp4", "walk.mp4", "tryon.png", "summary.json", "demo.anr.part-aa"):
        assert (out / name).stat().st_size > 0, name
    avatar = tmp_path / "demo.anr"
    avatar.write_bytes(b"".join(p.read_bytes() for p in sorted(out.glob("demo.anr.part-*"))))
    meta = read_avatar(avatar).meta
    assert list(meta["identities"]) == ["ada", "ben", "cleo"]
    assert meta["demo"]["tryon_tuning"]["seconds"] == 3
    with h5py.File(work / "person1.h5") as f:
        assert f.attrs["identity"] == "ben"
    summary = json.loads((out / "summary.json").read_text())
    assert {v["frames"] for v in summary["videos"].values()} == {4}
    assert summary["avatar"]["identities"] == ["ada", "ben", "cleo"]


def test_the_workflow_check_passes_every_step_including_a_stop_and_resume(tmp_path):
    out = tmp_path / "out"
    env = dict(os.environ, DEVICE="cpu", SIZE="64", FRAMES="16", PRESET="tiny", TRAIN_S="4", FIT_STEPS="10",
               OMP_NUM_THREADS="1", ANR_OFFLINE="1",
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
               PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]))
    run = subprocess.run(["bash", str(ROOT / "scripts" / "check_cuda_workflow.sh"), str(out)], env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0 and "every step passed" in run.stdout, run.stdout[-3000:]
    assert "== sigterm rc=0" in run.stdout and "training stopped at step" in (out / "sigterm.log").read_text()
    assert len(list((out / "orbit").glob("*.png"))) == 8 and (out / "tryon.png").stat().st_size > 0
