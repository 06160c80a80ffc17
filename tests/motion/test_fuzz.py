"""Seeded mutation fuzzing of the motion loaders (BVH and SMPL .npz).

Each case mutates a valid file (bit flips, byte edits, truncation, splices, token and structure
edits: NaN/inf numbers, wrong counts, deep or empty hierarchies, forged array headers, odd dtypes
and shapes) and loads it through ``load_motion``. The case passes when the loader returns a valid
clip or raises AnrError, within the time limit, and the file is byte-for-byte unchanged.

``python -m pytest -m fuzz_long tests/fuzz`` runs 2,000 more cases of each (``--fuzz-cases N`` here runs N).
"""

from __future__ import annotations

import hashlib
import io
import signal
import traceback
import zipfile

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from anr_studio.errors import AnrError
from anr_studio.motion import MotionClip, load_motion
from tests.motion import bvh_rigs

DEFAULT_CASES = 200
TIME_LIMIT_S = 5.0


class _Hang(Exception):
    pass


def _alarm(signum, frame):
    raise _Hang()


@pytest.fixture
def cases(request) -> int:
    return int(request.config.getoption("fuzz_cases", default=None) or DEFAULT_CASES)


def _run_case(path, label: str, tally: dict | None = None) -> str | None:
    """Returns None when ``path`` loads cleanly or is refused with AnrError, else what went wrong;
    counts "loaded" and "refused" cases in ``tally``."""
    before = (path.read_bytes(), path.stat().st_mode, path.stat().st_mtime_ns)
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, TIME_LIMIT_S)
    problem = None
    try:
        clip = load_motion(path)
        if not isinstance(clip, MotionClip) or not np.all(np.isfinite(clip.poses)) or clip.poses.shape[1:] != (24, 3):
            problem = f"{label}: returned an invalid clip"
        if tally is not None:
            tally["loaded"] += 1
    except AnrError as exc:
        if tally is not None:
            tally["refused"] += 1
        if "\n" in str(exc) or not str(exc).startswith(path.name):
            problem = f"{label}: message not one sentence naming the file: {str(exc)[:200]!r}"
    except _Hang:
        problem = f"{label}: no answer within {TIME_LIMIT_S} s"
    except Exception as exc:  # noqa: BLE001 - every other exception is what this test hunts
        tb = traceback.extract_tb(exc.__traceback__)[-1]
        problem = f"{label}: {type(exc).__name__}: {str(exc)[:160]} at {tb.filename}:{tb.lineno}"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    after = (path.read_bytes(), path.stat().st_mode, path.stat().st_mtime_ns)
    if after != before:
        problem = (problem or "") + f" {label}: the input file was modified"
    return problem


# -- byte-level mutations (both loaders) ----------------------------------------------------

def _bytes_mutation(rng: np.random.Generator, data: bytes, other: bytes) -> bytes:
    b = bytearray(data)
    kind = int(rng.integers(7))
    if not b:
        return bytes(rng.integers(0, 256, int(rng.integers(1, 64)), dtype=np.uint8))
    at = int(rng.integers(len(b)))
    if kind == 0:  # flip bits
        for _ in range(int(rng.integers(1, 9))):
            k = int(rng.integers(len(b)))
            b[k] ^= 1 << int(rng.integers(8))
    elif kind == 1:  # random bytes over a stretch
        n = int(rng.integers(1, 16))
        b[at: at + n] = bytes(rng.integers(0, 256, n, dtype=np.uint8))
    elif kind == 2:  # truncate
        del b[at:]
    elif kind == 3:  # delete a stretch
        del b[at: at + int(rng.integers(1, 200))]
    elif kind == 4:  # duplicate a stretch
        b[at:at] = b[at: at + int(rng.integers(1, 200))]
    elif kind == 5:  # insert random bytes
        b[at:at] = bytes(rng.integers(0, 256, int(rng.integers(1, 32)), dtype=np.uint8))
    else:  # splice with another valid file
        cut = int(rng.integers(len(other) + 1))
        b = b[:at] + other[cut:]
    return bytes(b)


# -- BVH ------------------------------------------------------------------------------------

_ODD_NUMBERS = ["nan", "NaN", "inf", "-inf", "1e309", "1e300", "-1e300", "0", "-0", "1e-320", "99999999999999999999",
                "", "x", "1.2.3", "0x10", "1e", "--1", "infinity"]
_KEYWORDS = ["OFFSET", "CHANNELS", "JOINT", "End", "Site", "{", "}", "MOTION", "Frames:", "Frame", "Time:", "ROOT",
             "HIERARCHY", "Xrotation", "Zposition"]


def _bvh_seeds(tmp_path) -> list[bytes]:
    rng = np.random.default_rng(0)
    seeds = []
    for rig in (bvh_rigs.cmu_motionbuilder(), bvh_rigs.cmu_3dsmax(), bvh_rigs.mixamo(), bvh_rigs.biped(),
                bvh_rigs.smpl_named(_smpl_rest())):
        frames = [{n: Rotation.from_rotvec(rng.normal(0, 0.3, 3)) for n, _, _, _ in rig.joints} for _ in range(3)]
        seeds.append(bvh_rigs.write_bvh(tmp_path / f"seed_{rig.name}.bvh", rig, frames).read_bytes())
    return seeds


def _smpl_rest() -> np.ndarray:
    from anr_studio.body.model import BodyModel

    return BodyModel.default().rest_joints()[0].numpy()


def _bvh_mutation(rng: np.random.Generator, seeds: list[bytes]) -> bytes:
    data = seeds[int(rng.integers(len(seeds)))]
    kind = int(rng.integers(10))
    if kind < 3:
        return _bytes_mutation(rng, data, seeds[int(rng.integers(len(seeds)))])
    lines = data.decode().split("\n")
    for _ in range(int(rng.integers(1, 4))):
        k = int(rng.integers(len(lines)))
        tokens = lines[k].split()
        if kind == 3 and tokens:  # an odd number where a number was
            nums = [i for i, t in enumerate(tokens) if t.lstrip("-").replace(".", "", 1).isdigit()]
            if nums:
                tokens[nums[int(rng.integers(len(nums)))]] = _ODD_NUMBERS[int(rng.integers(len(_ODD_NUMBERS)))]
        elif kind == 4 and tokens:  # a keyword where another was
            tokens[int(rng.integers(len(tokens)))] = _KEYWORDS[int(rng.integers(len(_KEYWORDS)))]
        elif kind == 5:  # counts: channels or frames
            for i, t in enumerate(lines):
                if t.strip().startswith(("CHANNELS", "Frames:")) and rng.random() < 0.3:
                    parts = t.split()
                    parts[1] = str(int(rng.choice([0, 1, 2, 4, 5, 7, 12, 10**6, 10**11])))
                    lines[i] = " ".join(parts)
            break
        elif kind == 6:  # delete a line
            del lines[k]
            continue
        elif kind == 7:  # duplicate a line
            lines.insert(k, lines[k])
            continue
        elif kind == 8:  # every OFFSET to zero
            lines = [("OFFSET 0 0 0" if t.strip().startswith("OFFSET") else t) for t in lines]
            break
        else:  # a deep chain of joints, or none at all
            depth = int(rng.choice([0, 1, 300, 1000]))
            head = ["HIERARCHY"] + [("ROOT" if i == 0 else "JOINT") + f" J{i}\n{{\nOFFSET 0 1 0\nCHANNELS 3 Zrotation Xrotation Yrotation"
                                     for i in range(depth)] + ["}"] * depth
            lines = head + ["MOTION", "Frames: 1", "Frame Time: 0.033", " ".join(["0"] * 3 * depth)]
            break
        lines[k] = " ".join(tokens)
    return "\n".join(lines).encode()


def test_bvh_loader_survives_mutations(tmp_path, cases):
    bvh_campaign(tmp_path, cases)


def bvh_campaign(tmp_path, cases: int, first: int = 0) -> None:
    """Runs BVH cases ``first`` .. ``first + cases - 1`` and fails with the problems found."""
    seeds = _bvh_seeds(tmp_path)
    for seed in seeds:  # the seeds themselves load
        assert _run_case(_write(tmp_path, "seed.bvh", seed), "seed") is None
    problems, tally = [], {"loaded": 0, "refused": 0}
    for case in range(first, first + cases):
        rng = np.random.default_rng(1000 + case)
        problem = _run_case(_write(tmp_path, f"case{case}.bvh", _bvh_mutation(rng, seeds)), f"bvh case {case}", tally)
        if problem:
            problems.append(problem)
    print(f"BVH fuzz: {cases} cases, {tally['loaded']} loaded, {tally['refused']} refused with AnrError, "
          f"{len(problems)} failed")
    assert not problems, f"{len(problems)} of {cases} cases failed:\n" + "\n".join(problems[:15])


# -- SMPL .npz ------------------------------------------------------------------------------

def _npz_bytes(arrays: dict, compressed: bool = False) -> bytes:
    buf = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buf, **arrays)
    return buf.getvalue()


def _npz_seeds() -> list[dict]:
    rng = np.random.default_rng(1)
    n = 6
    return [
        dict(poses=rng.normal(0, 0.3, (n, 72)), trans=rng.normal(0, 1, (n, 3)), mocap_framerate=np.array(60.0)),
        dict(poses=rng.normal(0, 0.3, (n, 156)).astype(np.float32), trans=np.zeros((n, 3)), betas=np.zeros(16),
             mocap_framerate=np.array(120.0), gender=np.array("female")),
        dict(global_orient=rng.normal(0, 0.3, (n, 3)), body_pose=rng.normal(0, 0.3, (n, 69)), transl=np.ones((n, 3)),
             fps=np.array([25])),
        dict(poses=rng.normal(0, 0.3, (n, 24, 3)), transl=np.zeros((n, 3))),
    ]


def _forged_header(rng: np.random.Generator, arrays: dict) -> bytes:
    """Returns an npz (valid zip, valid CRCs) whose 'poses' header declares another shape or dtype."""
    key = next(k for k in ("poses", "global_orient") if k in arrays)
    shape = [(10**11, 72), (2**62, 2**62), (-1, 72), (len(arrays[key]), 10**9), (0, 72), ()][int(rng.integers(6))]
    descr = ["<f8", "|O", "<U8", "<c16", "|b1", "<f2", "|V8"][int(rng.integers(7))]
    header = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {tuple(shape)}, }}"
    header = header + " " * (63 - (len(header) + 10) % 64) + "\n"
    npy = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + np.asarray(arrays[key]).tobytes()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for k, v in arrays.items():
            if k == key:
                zf.writestr(k + ".npy", npy)
            else:
                inner = io.BytesIO()
                np.save(inner, np.asarray(v))
                zf.writestr(k + ".npy", inner.getvalue())
    return buf.getvalue()


def _odd_value(rng: np.random.Generator, value: np.ndarray):
    kind = int(rng.integers(9))
    value = np.asarray(value)
    if value.dtype.kind not in "biuf":  # an earlier edit made it strings or records: start from numbers
        value = np.zeros((3, 72))
    if kind == 0:
        out = value.astype(np.float64).copy()
        if out.size:
            out.flat[int(rng.integers(out.size))] = [np.nan, np.inf, -np.inf, 1e30, 1e300][int(rng.integers(5))]
        return out
    if kind == 1:
        return np.zeros(tuple(int(rng.integers(0, 5)) for _ in range(int(rng.integers(0, 4)))))
    if kind == 2:
        return value.astype([np.float16, np.int8, np.uint64, bool, np.complex64][int(rng.integers(5))])
    if kind == 3:
        return np.array(["a", "b"])
    if kind == 4:
        return np.array([]) if rng.random() < 0.5 else np.array([0.0, 1.0])
    if kind == 5:
        return value.reshape(-1)
    if kind == 6:
        return np.zeros((int(rng.integers(1, 4)), 1, 2, 3))
    if kind == 7:
        return np.array([(1, 2.0)], dtype=[("a", "i4"), ("b", "f8")])
    return value[: int(rng.integers(0, max(len(value), 1) + 1))] if value.ndim else value


def _npz_mutation(rng: np.random.Generator, seeds: list[dict]) -> bytes:
    arrays = {k: np.asarray(v) for k, v in seeds[int(rng.integers(len(seeds)))].items()}
    kind = int(rng.integers(6))
    if kind == 0:
        return _bytes_mutation(rng, _npz_bytes(arrays, bool(rng.random() < 0.5)), _npz_bytes(seeds[0]))
    if kind == 1:
        return _forged_header(rng, arrays)
    if kind == 2:  # an object array, saved the only way numpy can (pickled): it must never be unpickled
        arrays[list(arrays)[int(rng.integers(len(arrays)))]] = np.array([object(), {"a": 1}], dtype=object)
        buf = io.BytesIO()
        _save_with_pickle(buf, arrays)
        return buf.getvalue()
    if kind == 3:  # drop a key
        arrays.pop(list(arrays)[int(rng.integers(len(arrays)))])
    else:  # odd values, shapes or dtypes for one or two arrays (fps=[] among them)
        for _ in range(int(rng.integers(1, 3))):
            key = list(arrays)[int(rng.integers(len(arrays)))]
            arrays[key] = _odd_value(rng, arrays[key])
    return _npz_bytes(arrays, bool(rng.random() < 0.3))


def _save_with_pickle(buf, arrays: dict) -> None:
    with zipfile.ZipFile(buf, "w") as zf:
        for k, v in arrays.items():
            inner = io.BytesIO()
            np.save(inner, v, allow_pickle=True)
            zf.writestr(k + ".npy", inner.getvalue())


def test_npz_loader_survives_mutations(tmp_path, cases):
    npz_campaign(tmp_path, cases)


def npz_campaign(tmp_path, cases: int, first: int = 0) -> None:
    """Runs motion .npz cases ``first`` .. ``first + cases - 1`` and fails with the problems found."""
    seeds = _npz_seeds()
    for i, seed in enumerate(seeds):
        assert _run_case(_write(tmp_path, "seed.npz", _npz_bytes(seed)), f"seed {i}") is None
    problems, tally = [], {"loaded": 0, "refused": 0}
    for case in range(first, first + cases):
        rng = np.random.default_rng(5000 + case)
        problem = _run_case(_write(tmp_path, f"case{case}.npz", _npz_mutation(rng, seeds)), f"npz case {case}", tally)
        if problem:
            problems.append(problem)
    print(f"npz fuzz: {cases} cases, {tally['loaded']} loaded, {tally['refused']} refused with AnrError, "
          f"{len(problems)} failed")
    assert not problems, f"{len(problems)} of {cases} cases failed:\n" + "\n".join(problems[:15])


def _write(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def make_motion_file(rng: np.random.Generator, folder, bvh_seeds: list[bytes], npz_only: bool = False) -> tuple[str, object]:
    """Returns (label, path) of a damaged BVH or SMPL .npz written into ``folder`` (for the CLI campaign)."""
    if not npz_only and rng.random() < 0.5:
        return "bvh", _write(folder, "motion.bvh", _bvh_mutation(rng, bvh_seeds))
    return "npz", _write(folder, "motion.npz", _npz_mutation(rng, _npz_seeds()))


def bvh_seed_bytes(folder) -> list[bytes]:
    """Returns the valid BVH files the mutations start from (written into ``folder``)."""
    return _bvh_seeds(folder)
