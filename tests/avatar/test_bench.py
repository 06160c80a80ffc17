"""benchmarks/bench_avatar.py runs end to end on the CPU (tiny preset) and reports sane figures."""

import importlib.util
import json
from pathlib import Path

import pytest

from anr_studio.body.model import DEFAULT_BODY_PATH

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_avatar.py"


@pytest.mark.skipif(not DEFAULT_BODY_PATH.is_file(), reason="the built-in body is not built")
def test_bench_avatar_smoke(tmp_path):
    spec = importlib.util.spec_from_file_location("bench_avatar", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main(["--device", "cpu", "--presets", "tiny", "--sizes", "32", "--frames", "2", "--warmup", "1",
                       "--json", str(tmp_path / "r.json"), "--markdown", str(tmp_path / "r.md")]) == 0
    rows = json.loads((tmp_path / "r.json").read_text())["rows"]
    assert len(rows) == 1 and rows[0]["preset"] == "tiny" and rows[0]["size"] == 32
    assert rows[0]["fps"] > 0 and rows[0]["network_fps"] >= rows[0]["fps"] * 0.5 and rows[0]["renderer_params"] > 1000
    assert "| tiny | 32² | eager-fp32 |" in (tmp_path / "r.md").read_text()
