"""Seeded mutation fuzzing of every loader of user files: captures, avatars, checkpoints, body model
files (SMPL .npz/.pkl, saved bodies), painted masks and training configs.

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

from tests.fuzz import targets as T
from tests.fuzz.harness import campaign

CASES = 200
LONG_CASES = 2000


def _kinds(seeds):
    return {
        "capture": (T.make_capture, T.load_capture),
        "avatar": (T.make_avatar, T.avatar_loader(seeds)),
        "checkpoint": (T.make_checkpoint, T.checkpoint_loader(seeds)),
        "body model file": (T.make_body_file, T.load_body_file),
        "painted mask": (T.make_mask, T.load_mask_file),
        "config": (T.make_config, T.load_config),
    }


KINDS = ["capture", "avatar", "checkpoint", "body model file", "painted mask", "config"]


def _run(kind, seeds, work, cases, seed):
    make, load = _kinds(seeds)[kind]
    report = campaign(kind.replace(" ", "_"), cases, seed, work, functools.partial(make, seeds), load)
    print(report.line())
    assert report.cases == cases
    assert not report.problems, "\n".join(report.problems[:25])
    assert report.refused > cases // 10  # the mutations reach the checks
    return report


@pytest.mark.parametrize("kind", KINDS)
def test_loader_survives_mutated_inputs(kind, seeds, tmp_path):
    _run(kind, seeds, tmp_path, CASES, seed=0)


@pytest.mark.fuzz_long
@pytest.mark.parametrize("kind", KINDS)
def test_loader_survives_the_long_campaign(kind, seeds, tmp_path):
    _run(kind, seeds, tmp_path, LONG_CASES, seed=1)
