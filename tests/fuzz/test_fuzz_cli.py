"""The long campaign through the command line: every entry point on damaged inputs, every writing
command in a read-only folder as an unprivileged user, and on a full disk.

A command passes when it exits 0 or with status 2 and one ``anr-studio: error:`` line, prints no
traceback, leaves its inputs unchanged (an edit in place may change its file only when it
succeeds), and, when it fails, leaves no partial file behind. Run with
``python -m pytest -m fuzz_long tests/fuzz -s``; the counts are in docs/robustness.md.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from anr_studio import cli
from tests.fuzz import import_targets as I
from tests.fuzz import mutate as M
from tests.fuzz import targets as T
from tests.fuzz.harness import Hang, _alarm, snapshot
from tests.fuzz.seeds import SMALL
from tests.motion import test_fuzz as motion_fuzz

pytestmark = pytest.mark.fuzz_long

CLI_CASES = 120  # per entry point
TIME_LIMIT_S = 120.0
SETS = [a for s in SMALL for a in ("--set", s)]


def _run_cli(args: list[str], time_limit: float = TIME_LIMIT_S) -> tuple[int | str, str]:
    """Returns (exit status or the escaping exception's name, stderr) of ``anr-studio ARGS`` run in process."""
    import signal

    err = io.StringIO()
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, time_limit)
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code: int | str = cli.main([str(a) for a in args])
    except SystemExit as exc:  # argparse
        code = int(exc.code or 0)
    except Hang:
        code = "hang"
    except BaseException as exc:  # noqa: BLE001 - an exception escaping main is what this hunts
        import traceback

        frame = traceback.extract_tb(exc.__traceback__)[-1]
        code = f"{type(exc).__name__}: {str(exc)[:120]} at {frame.filename}:{frame.lineno}"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    return code, err.getvalue()


def _judge(code: int | str, err: str, before: dict, after: dict, edits: set[str]) -> str | None:
    if not isinstance(code, int):
        return str(code)
    if code not in (0, 2):
        return f"exit status {code}"
    if "Traceback" in err or "\x1b" in err:
        return f"traceback or escape code in: {err[-300:]!r}"
    if code == 2 and not any(line.startswith("anr-studio: error: ") for line in err.splitlines()):
        return f"exit 2 without an error line: {err[-300:]!r}"
    changed = {k for k in before if before[k] != after.get(k) and Path(k).name != ".lock"}  # the lock holds a pid
    if code == 0:
        changed = {k for k in changed if not any(k == e or (e.endswith("/") and k.startswith(e)) for e in edits)}
    if changed:
        return f"inputs modified: {sorted(changed)}"
    if code == 2:
        leftovers = [k for k in set(after) - set(before) if Path(k).name.startswith(".") and k.endswith((".tmp", ".mp4"))]
        if leftovers:
            return f"partial files left: {leftovers}"
    return None


def _make_pose_npy(seeds: T.Seeds, rng: np.random.Generator, folder: Path) -> tuple[str, Path]:
    """Returns (label, path) of a damaged (24, 3) pose .npy (`render --pose`)."""
    import io

    path = folder / "pose.npy"
    pose = rng.normal(0, 0.2, (24, 3))
    if rng.random() < 0.5:
        buf = io.BytesIO()
        np.save(buf, pose)
        label, data = M.mutate_bytes(rng, buf.getvalue())
        path.write_bytes(data)
        return label, path
    label, value = M.mutate_array(rng, pose)
    np.save(path, value, allow_pickle=True)  # object arrays can only be saved pickled: they must never be loaded
    return label, path


def _import_options(src: Path) -> list:
    """Returns the --poses and --view options `import` takes for a case's source (its tool's, or a video's poses.npz)."""
    from tests.fuzz.import_tools import source_of

    poses, view = source_of(src)
    if poses is None and src.suffix == ".mp4":
        poses = src.with_name("poses.npz")
    return [*(["--poses", poses] if poses else []), *(["--view", view] if view else [])]


def _entry_points(seeds: T.Seeds, body_file: str, import_seeds: Path, bvh_seeds: list[bytes]) -> dict:
    """Returns {name: (make case, arguments given the damaged path and the case folder, files it may edit)}."""
    avatar_body = ["--body-model", str(seeds.body_file), "--device", "cpu", "--quiet"]
    caps = [str(seeds.folder / "alice.h5"), str(seeds.folder / "bob.h5")]
    on_dave = dataclasses.replace(seeds, capture=seeds.folder / "dave.h5")  # a capture of the avatar's body
    return {
        "capture info": (T.make_capture, lambda p, d: ["capture", "info", p], set()),
        "capture check": (T.make_capture, lambda p, d: ["capture", "check", p, "--out", d / "c.png"], set()),
        "import": (lambda s, rng, d: I.make_import_source(import_seeds, rng, d),
                   lambda p, d: ["import", p, "--out", d / "i.h5", *_import_options(Path(p))], set()),
        "render --motion": (lambda s, rng, d: motion_fuzz.make_motion_file(rng, d, bvh_seeds),
                            lambda p, d: ["render", seeds.avatar, "--motion", p, "--frames", "2", "--size", "16",
                                          "--out", d / "m.mp4", *avatar_body], set()),
        "synth --motion": (lambda s, rng, d: motion_fuzz.make_motion_file(rng, d, bvh_seeds),
                           lambda p, d: ["synth", "--motion", p, "--frames", "2", "--size", "32", "--quiet",
                                         "--out", d / "s.h5"], set()),
        "body --pose": (lambda s, rng, d: motion_fuzz.make_motion_file(rng, d, bvh_seeds, npz_only=True),
                        lambda p, d: (["body", "--pose", p, "--size", "16", "--out", d / "b.png"]), set()),
        "render --pose": (_make_pose_npy, lambda p, d: ["render", seeds.avatar, "--pose", p, "--size", "16",
                                                        "--out", d / "p.png", *avatar_body], set()),
        "fit --capture": (lambda s, rng, d: T.make_capture(on_dave, rng, d),
                          lambda p, d: ["fit", seeds.avatar, "--capture", p, "--name", "c", "--steps", "1",
                                        "--out", d / "f.anr", *avatar_body], set()),
        "masks": (T.make_capture, lambda p, d: ["masks", p, "--no-refine", "--quiet", "--overwrite"], {"capture.h5"}),
        "keyframes": (T.make_capture, lambda p, d: ["keyframes", p, "--grid", "16", "--dry-run"], set()),
        "train (capture)": (T.make_capture, lambda p, d: ["train", "--captures", p, "--preset", "tiny", "--out", d / "out",
                                                          "--device", "cpu", "--no-progress", "--steps", "1", *SETS], set()),
        "render": (T.make_avatar, lambda p, d: ["render", p, "--size", "16", "--out", d / "o.png", *avatar_body], set()),
        "export": (T.make_avatar, lambda p, d: ["export", p, "--texture", d / "t.png", *avatar_body], set()),
        "swap (avatar)": (T.make_avatar, lambda p, d: ["swap", p, "--from", "alice", "--to", "bob", "--region", "upper",
                                                       "--name", "new", "--out", d / "n.anr", *avatar_body], set()),
        "swap --mask": (T.make_mask, lambda p, d: ["swap", seeds.avatar, "--from", "alice", "--to", "bob", "--mask", p,
                                                   "--name", "new", "--out", d / "n.anr", *avatar_body], set()),
        "train --resume": (T.make_checkpoint, lambda p, d: ["train", "--out", p, "--resume", "--steps", "3", "--device",
                                                            "cpu", "--body-model", body_file, "--no-progress"],
                           {"run/"}),  # a resumed run goes on writing its folder
        "eval (checkpoint)": (T.make_checkpoint, lambda p, d: (Path(p, "avatar.anr").unlink(missing_ok=True) or  # read the checkpoints
                                                               ["eval", p, "--captures", *caps, "--device", "cpu",
                                                                "--body-model", body_file, "--max-frames", "1"]), set()),
        "body --model": (T.make_body_file, lambda p, d: ["body", "--model", p, "--size", "16", "--pose", "rest",
                                                         "--out", d / "b.png"], set()),
        "train --set": (T.make_config, lambda p, d: (["train", "--captures", *caps, "--preset", "tiny", "--out", d / "out",
                                                      "--device", "cpu", "--body-model", body_file, "--no-progress",
                                                      "--steps", "1", *SETS, "--set", Path(p).read_text()]
                                                     if Path(p).name == "override.txt" else
                                                     ["train", "--out", Path(p).parent, "--resume", "--device", "cpu",
                                                      "--body-model", body_file, "--no-progress"]), {"run.json"}),
    }


@pytest.fixture(scope="module")
def body_file(seeds):
    from tests.train.helpers import tiny_body

    path = seeds.folder / "tiny_body.safetensors"
    if not path.exists():
        tiny_body().save(path)
    return str(path)


def test_every_entry_point_survives_damaged_inputs(seeds, body_file, import_seeds, tmp_path):
    points = _entry_points(seeds, body_file, import_seeds, motion_fuzz.bvh_seed_bytes(tmp_path))
    counts, problems = Counter(), []
    for name, (make, args, edits) in points.items():
        for i in range(CLI_CASES):
            rng = np.random.default_rng([2, i, len(name)])
            folder = tmp_path / f"{name.replace(' ', '_')}-{i}"
            folder.mkdir()
            label, path = make(seeds, rng, folder)
            argv = args(str(path), folder)
            before = snapshot(folder)
            code, err = _run_cli(argv)
            after = snapshot(folder)
            if isinstance(code, int):
                # outputs the command was asked to write are not inputs
                after = {k: v for k, v in after.items() if k in before or Path(k).name.startswith(".")}
            problem = _judge(code, err, before, after, edits)
            counts[(name, code if isinstance(code, int) else "crash")] += 1
            if problem:
                problems.append(f"{name} case {i} ({label}): {problem}")
                print(problems[-1][:300])
            shutil.rmtree(folder, ignore_errors=True)
    total = sum(counts.values())
    for name in points:
        print(f"{name}: {sum(v for (n, _), v in counts.items() if n == name)} cases, "
              f"exit 0: {counts[(name, 0)]}, exit 2: {counts[(name, 2)]}")
    print(f"CLI: {total} cases, {len(problems)} problems")
    assert not problems, "\n".join(problems[:30])


# -- read-only folders as an unprivileged user ----------------------------------------------------

def _as_nobody(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(Path(cli.__file__).resolve().parents[2]), HOME=str(cwd), OMP_NUM_THREADS="1")
    return subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", sys.executable, "-m",
                           "anr_studio.cli", *[str(a) for a in args]], capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=300)


def _writing_commands(ro: Path, seeds: T.Seeds) -> dict[str, list]:
    """Returns {name: arguments} of every writing command, on the files `_stage` put in ``ro``."""
    avatar_body = ["--body-model", str(ro / "box.safetensors"), "--device", "cpu", "--quiet"]
    body_file = str(ro / "tiny.safetensors")
    caps = [str(ro / "alice.h5"), str(ro / "bob.h5")]
    return {
        "synth": ["synth", "--out", ro / "s.h5", "--frames", "2", "--size", "32", "--quiet"],
        "import": ["import", ro / "clip", "--out", ro / "i.h5"],
        "masks": ["masks", ro / "capture.h5", "--no-refine", "--quiet", "--overwrite"],
        "keyframes": ["keyframes", ro / "capture.h5", "--grid", "16"],
        "train": ["train", "--captures", *caps, "--preset", "tiny", "--out", ro / "run2", "--device", "cpu",
                  "--body-model", body_file, "--no-progress", "--steps", "1", *SETS],
        "train --resume": ["train", "--out", ro / "run", "--resume", "--steps", "4", "--device", "cpu",
                           "--body-model", body_file, "--no-progress"],
        "render png": ["render", ro / "avatar.anr", "--size", "16", "--out", ro / "o.png", *avatar_body],
        "render mp4": ["render", ro / "avatar.anr", "--size", "16", "--orbit", "3", "--out", ro / "o.mp4", *avatar_body],
        "swap": ["swap", ro / "avatar.anr", "--from", "alice", "--to", "bob", "--region", "upper", "--name", "n",
                 "--out", ro / "avatar.anr", *avatar_body],
        "export": ["export", ro / "avatar.anr", "--texture", ro / "t.png", "--mesh", ro / "m.obj", *avatar_body],
        "fit": ["fit", ro / "avatar.anr", "--capture", ro / "dave.h5", "--name", "c", "--steps", "1", *avatar_body],
        "eval --out": ["eval", ro / "run", "--captures", *caps, "--device", "cpu", "--body-model", body_file,
                       "--max-frames", "1", "--out", ro / "m.json"],
        "body": ["body", "--size", "16", "--pose", "rest", "--out", ro / "b.png"],
    }


def _stage(folder: Path, seeds: T.Seeds, body_file: str) -> None:
    """Copies the seed files a writing command reads into ``folder`` (the run refers to its copies)."""
    import json

    for name in ("capture.h5", "avatar.anr", "alice.h5", "bob.h5", "dave.h5"):
        shutil.copy(seeds.folder / name, folder / name)
    shutil.copy(seeds.body_file, folder / "box.safetensors")
    shutil.copy(body_file, folder / "tiny.safetensors")
    shutil.copytree(seeds.run, folder / "run")
    info = json.loads((folder / "run" / "run.json").read_text())
    info["captures"] = [str(folder / Path(c).name) for c in info["captures"]]
    (folder / "run" / "run.json").write_text(json.dumps(info))
    (folder / "clip" / "images").mkdir(parents=True)
    import cv2

    for i in range(2):
        cv2.imwrite(str(folder / "clip" / "images" / f"{i:03d}.png"), np.full((16, 16, 3), 90 * i, np.uint8))
    np.savez(folder / "clip" / "params.npz", poses=np.zeros((2, 72)), trans=np.zeros((2, 3)), betas=np.zeros(10),
             K=np.array([[20.0, 0, 8], [0, 20, 8], [0, 0, 1]]), E=np.eye(4))


def test_writing_commands_in_a_read_only_folder_as_an_unprivileged_user(seeds, body_file):
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to run as nobody")
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="anr-readonly-"))
    base.chmod(0o755)
    ro = base / "ro"
    ro.mkdir()
    _stage(ro, seeds, body_file)
    for p in [ro, *ro.rglob("*")]:
        p.chmod(0o555 if p.is_dir() else 0o444)
    before = snapshot(ro)
    problems = []
    try:
        for name, args in _writing_commands(ro, seeds).items():
            proc = _as_nobody(args, base)
            lines = proc.stderr.strip().splitlines()
            ok = (proc.returncode == 2 and "Traceback" not in proc.stderr and lines
                  and lines[-1].startswith("anr-studio: error: ")
                  and ("permission denied" in lines[-1] or "read-only" in lines[-1]))
            print(f"read-only, as nobody: {name}: exit {proc.returncode}: {lines[-1] if lines else ''}")
            if not ok:
                problems.append(f"{name}: exit {proc.returncode}: {proc.stderr[-400:]}")
        assert snapshot(ro) == before
    finally:
        for p in [ro, *ro.rglob("*")]:
            p.chmod(0o755 if p.is_dir() else 0o644)
        shutil.rmtree(base, ignore_errors=True)
    assert not problems, "\n".join(problems)


# -- a full disk ------------------------------------------------------------------------------------

def test_writing_commands_on_a_full_disk(seeds, body_file, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a small tmpfs")
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(disk)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")
    problems = []
    try:
        _stage(disk, seeds, body_file)
        free = shutil.disk_usage(disk).free
        (disk / "filler").write_bytes(b"\0" * max(0, free - 24 * 1024))  # about 24 KiB left
        for name, args in _writing_commands(disk, seeds).items():
            before = {k: v for k, v in snapshot(disk).items() if k != "filler"}
            code, err = _run_cli(args)
            lines = err.strip().splitlines()
            after = snapshot(disk)
            leftovers = sorted(k for k in set(after) - set(before) - {"filler"}
                               if Path(k).name.startswith(".") and not k.endswith(".lock"))
            changed = sorted(k for k in before if before[k] != after.get(k) and not k.endswith(".lock"))
            print(f"full disk: {name}: exit {code}: {lines[-1] if lines else ''}")
            if code == 0:
                continue  # it fitted in what was left
            if code != 2 or "Traceback" in err or not lines or "disk is full" not in lines[-1] or changed or leftovers:
                problems.append(f"{name}: exit {code}: {err[-300:]!r}; changed {changed}; partial files {leftovers}")
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)
    assert not problems, "\n".join(problems)
