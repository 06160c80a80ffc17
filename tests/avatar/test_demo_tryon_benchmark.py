"""benchmarks/demo_tryon.py measures try-on of an avatar file on the CPU and writes its figures and sheet."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from anr_studio.body.model import DEFAULT_BODY_PATH

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "demo_tryon.py"


@pytest.mark.skipif(not DEFAULT_BODY_PATH.is_file(), reason="the built-in body is not built")
def test_demo_tryon_scores_every_pair_in_every_view_and_compares_with_a_reference(tmp_path, monkeypatch):
    from anr_studio.body import load_body
    from tests.standin import untrained_avatar

    path = tmp_path / "two.anr"
    untrained_avatar(load_body(), "tiny", identities=("ann", "bo"), seed=1).save(path)
    monkeypatch.syspath_prepend(str(BENCH.parent))  # as when run as a script: its folder's modules import
    spec = importlib.util.spec_from_file_location("demo_tryon", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main([str(path), "--size", "32", "--views", "4", "--poses", "standing", "walk:3",
                       "--reference", str(path), "--out", str(tmp_path / "r.json"), "--sheet", str(tmp_path / "s.png")]) == 0
    r = json.loads((tmp_path / "r.json").read_text())
    assert set(r["pairs"]) == {"ann>bo", "bo>ann"} and r["region"] == "upper"
    for entry in r["pairs"].values():
        assert [(v["pose"], v["azimuth"]) for v in entry["views"]] == [
            (p, a) for p in ("standing", "walk:3") for a in (0.0, 90.0, 180.0, 270.0)]
        assert all(v["pixels"] > 0 for v in entry["views"])  # the region is seen from every side
        assert entry["fidelity_min"] <= entry["fidelity_mean"] <= 1.0 and 0 <= entry["leakage_mean"] <= entry["leakage_max"]
    assert r["overall"]["meets_targets"] is False  # an untrained renderer does not honour swaps
    assert r["psnr_vs_reference"] == {"ann": float("inf"), "bo": float("inf")}  # the same file renders the same
    sheet = np.asarray(Image.open(tmp_path / "s.png"))
    assert sheet.shape[0] > 2 * 8 and sheet.std() > 5  # one row per pair, something drawn
