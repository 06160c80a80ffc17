"""Seeded mutation fuzzing of every loader of user files: captures, avatars, checkpoints, body model
files (SMPL .npz/.pkl, saved bodies), painted masks, training configs, import folders and videos,
and (through tests/motion/test_fuzz.py) motion BVH and .npz files.

Each case damages a valid file (bit flips, byte edits, truncations, splices, random bytes; and edits
that keep the structure: wrong dtypes and shapes, NaN/Inf and absurd values, forged sizes, HDF5
links and external storage, metadata of the wrong type, deep JSON) and loads it as the product does.
A case passes when the loader succeeds or raises AnrError with one printable line, within the
time limit, leaving every file of the case unchanged. 200 cases per loader run in CI; the long
campaign (2,000 per loader) runs with ``python -m pytest -m fuzz_long tests/fuzz -s``.
"""

from __future__ import annotations

import functools

import pytest

from tests.fuzz import import_targets as I
from tests.fuzz import targets as T
from tests.fuzz.harness import campaign
from tests.motion import test_fuzz as motion_fuzz

CASES = 200
LONG_CASES = 2000


def _kinds(seeds, import_seeds):
    """Returns {kind: (make(rng, folder), load(path))}."""
    bind = functools.partial
    return {
        "capture": (bind(T.make_capture, seeds), T.load_capture),
        "avatar": (bind(T.make_avatar, seeds), T.avatar_loader(seeds)),
        "checkpoint": (bind(T.make_checkpoint, seeds), T.checkpoint_loader(seeds)),
        "body model file": (bind(T.make_body_file, seeds), T.load_body_file),
        "painted mask": (bind(T.make_mask, seeds), T.load_mask_file),
        "config": (bind(T.make_config, seeds), T.load_config),
        "import folder or video": (bind(I.make_import_source, import_seeds), I.load_import_source),
    }


KINDS = ["capture", "avatar", "checkpoint", "body model file", "painted mask", "config", "import folder or video"]


def _run(kind, seeds, import_seeds, work, cases, seed):
    make, load = _kinds(seeds, import_seeds)[kind]
    report = campaign(kind.replace(" ", "_"), cases, seed, work, make, load)
    print(report.line())
    assert report.cases == cases
    assert not report.problems, "\n".join(report.problems[:25])
    assert report.refused > cases // 10  # the mutations reach the checks
    return report


@pytest.mark.parametrize("kind", KINDS)
def test_loader_survives_mutated_inputs(kind, seeds, import_seeds, tmp_path):
    _run(kind, seeds, import_seeds, tmp_path, CASES, seed=0)


@pytest.mark.fuzz_long
@pytest.mark.parametrize("kind", KINDS)
def test_loader_survives_the_long_campaign(kind, seeds, import_seeds, tmp_path):
    _run(kind, seeds, import_seeds, tmp_path, LONG_CASES, seed=1)


@pytest.mark.fuzz_long
@pytest.mark.parametrize("kind", ["bvh", "npz"])
def test_motion_loader_survives_the_long_campaign(kind, tmp_path):
    # cases 200.. (CI runs 0..199), judged as tests/motion/test_fuzz.py judges them
    run = motion_fuzz.bvh_campaign if kind == "bvh" else motion_fuzz.npz_campaign
    run(tmp_path, LONG_CASES, first=CASES)
