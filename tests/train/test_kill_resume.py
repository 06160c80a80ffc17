"""SIGKILLs at random moments of a training run, each resumed: the end is bit-identical to an unbroken run
(the small form of benchmarks/kill_resume.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tests.train.test_trainer import SMALL

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "kill_resume.py"


@pytest.mark.slow
def test_kills_at_random_moments_resume_to_the_same_tensors(tmp_path, captures, body):
    spec = importlib.util.spec_from_file_location("kill_resume", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    body_file = tmp_path / "body.safetensors"
    body.save(body_file)
    extra = ["--body-model", str(body_file), *[a for s in SMALL for a in ("--set", s)]]
    result = bench.kill_resume(tmp_path, captures, kills=3, steps=60, checkpoint_every=3, seed=1, extra=extra,
                               log=lambda m: None)
    # the last kill may be due only as its start logs the last step: a start that ends before the benchmark
    # sees that (a loaded machine) leaves two kills
    assert result["kills"] >= 2 and result["differing_tensors"] == [] and result["log_steps_once"], result
