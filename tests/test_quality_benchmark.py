"""benchmarks/quality.py end to end at a tiny size on the CPU: captures, training, renders, scores, sheets."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_quality_benchmark_runs_at_a_tiny_size(tmp_path):
    out = tmp_path / "q"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [sys.executable, str(ROOT / "benchmarks" / "quality.py"), "--device", "cpu", "--out", str(out), "--size", "64",
           "--frames", "20", "--preset", "tiny", "--time-budget", "1", "--eval-frames", "2", "--orbit-frames", "3",
           "--variant", "anr|.|--set loss.region_mix=10 --set data.refine_poses=5"]
    subprocess.run(cmd, env=env, check=True, cwd=tmp_path, stdout=subprocess.DEVNULL)
    rows = json.loads((out / "results.json").read_text())["rows"]
    anr = rows["anr"]
    assert set(anr["sets"]) == {"test.tracked", "test.refined", "test.true", "train.tracked", "train.fitted", "train.true"}
    for s in anr["sets"].values():
        assert 5 < s["psnr"] < 60 and 0 <= s["mask_iou"] <= 1 and s["sharpness"] > 0 and s["artefact_max"] >= 0
    assert anr["flicker"] >= 0 and len(anr["tryon"]["views"]) == 2
    assert "| anr |" in (out / "results.md").read_text()
    assert "held-out, tracked + test-time refinement" in (out / "results.md").read_text()
    assert "training, as trained" in (out / "results.md").read_text()
    assert all((out / f).stat().st_size > 1000 for f in ("contact.png", "white.png", "tryon.png"))
