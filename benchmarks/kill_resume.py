"""Benchmark: SIGKILL a `tiny` training run at random moments, resume it after each kill, and compare the end
with an uninterrupted run of the same configuration, bit for bit.

    python benchmarks/kill_resume.py --kills 20 --steps 200      # the figure in docs/robustness.md

Two synthetic captures (64², 12 frames each, built-in body) are written first unless ``--captures``
names some. The uninterrupted run trains ``--steps`` steps with a checkpoint every
``--checkpoint-every``; the interrupted run is started as a user would (``train``, or ``train
--resume`` once the folder holds a run), killed (SIGKILL to its process group) after a random
delay, and started again until it has been killed
``--kills`` times; the last start runs to the end. About one kill in seven lands in start-up
(before ``run.json``, while loading a checkpoint): within the shortest start-up seen so far, and at
the latest as the start logs its first step, so one slow start-up on a loaded machine does not push
it past the end of a faster start. The others land after the start's first step, at a random moment
within a span that spreads the kills over the whole run: mid-step, while a checkpoint or the avatar
is being written, before the first checkpoint; at the latest as the start logs its last step (while
it writes the final checkpoint and the avatar), so a start running faster than the uninterrupted
run is still killed.

Prints one line per kill (delay, newest committed checkpoint) and a summary; exits 0 when the
final checkpoint's tensors and the avatar's tensors equal the uninterrupted run's exactly and
``log.jsonl`` holds each step once.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "anr_studio.cli", "--offline", *args]  # no download attempts in the timings


def _env() -> dict[str, str]:
    return dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))


def write_captures(folder: Path) -> list[str]:
    """Writes two small synthetic captures with masks into ``folder``; returns their paths."""
    paths = []
    for seed in (1, 2):
        path = folder / f"synth-{seed}.h5"
        if not path.exists():
            subprocess.run(_cli("synth", "--out", str(path), "--frames", "12", "--size", "64", "--seed", str(seed),
                                "--quiet"), check=True, env=_env(), stdout=subprocess.DEVNULL)
        paths.append(str(path))
    return paths


def _newest_step(run: Path) -> int | None:
    steps = sorted(int(p.name[5:13]) for p in (run / "checkpoints").glob("step-*.json")) if (run / "checkpoints").is_dir() else []
    return steps[-1] if steps else None


def _last_step(run: Path) -> int:
    """Returns the last step in ``log.jsonl`` (0 when there is none yet)."""
    try:
        lines = (run / "log.jsonl").read_bytes().splitlines()
        return int(json.loads(lines[-1])["step"]) if lines else 0
    except (OSError, ValueError, KeyError):  # missing, or a line being written
        return 0


def _trained(run: Path, first: int, started: float) -> bool:
    """Returns True once the start begun at ``started`` (resuming from step ``first``) has logged a step of its own.

    A resumed run first rewrites ``log.jsonl`` without the steps after its checkpoint; lines
    older than the start do not count.
    """
    try:
        fresh = (run / "log.jsonl").stat().st_mtime >= started
    except OSError:
        return False
    return fresh and _last_step(run) > first


def _kill(proc: subprocess.Popen, delay: float, due) -> float | None:
    """SIGKILLs the start's process group after ``delay`` seconds, or earlier once ``due()`` holds; returns the
    seconds waited (None when the start ended first)."""
    begin = time.monotonic()
    while proc.poll() is None:
        if time.monotonic() - begin >= delay or due():
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return time.monotonic() - begin
        time.sleep(0.01)
    return None


def _start(run: Path, train_args: list[str], resume_args: list[str]) -> subprocess.Popen:
    args = resume_args if (run / "run.json").exists() else train_args
    return subprocess.Popen(_cli("train", "--out", str(run), *args), env=_env(), start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _tensors(path: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(path))


def _equal(a: dict, b: dict) -> list[str]:
    import torch

    if a.keys() != b.keys():
        return [f"tensor names differ: {sorted(set(a) ^ set(b))[:5]}"]
    return [k for k in a if not torch.equal(a[k], b[k])]


def kill_resume(work: Path, captures: list[str], kills: int, steps: int, checkpoint_every: int, seed: int,
                extra: list[str], log=print) -> dict:
    """Returns the result record: kills delivered, restarts, and the tensors that differ (none when exact)."""
    common = ["--device", "cpu", "--no-progress", *extra]
    train_args = ["--captures", *captures, "--preset", "tiny", "--steps", str(steps),
                  "--checkpoint-every", str(checkpoint_every), *common]
    resume_args = ["--resume", *common]
    straight, broken = work / "uninterrupted", work / "interrupted"
    start = time.perf_counter()
    proc = _start(straight, train_args, resume_args)
    startup = None
    while proc.poll() is None:  # start-up ends with the first logged step
        if startup is None and (straight / "log.jsonl").exists():
            startup = time.perf_counter() - start
        time.sleep(0.02)
    err = proc.stderr.read()
    wall = time.perf_counter() - start
    if proc.returncode:
        raise SystemExit(f"the uninterrupted run failed:\n{err}")
    startup = startup or wall / 2
    uninterrupted_startup = startup
    log(f"uninterrupted run: {steps} steps in {wall:.1f} s ({startup:.1f} s start-up)")
    rng = np.random.default_rng(seed)
    delivered, restarts, phases = 0, 0, {"in start-up": 0, "in training": 0, "with no checkpoint yet": 0}
    while True:
        started = time.time()
        proc = _start(broken, train_args, resume_args)
        restarts += 1
        if delivered < kills:
            first = _newest_step(broken) or 0  # the step this start resumes from

            def trained() -> bool:
                return _trained(broken, first, started)

            def at_end() -> bool:
                return _last_step(broken) >= steps

            if rng.random() < 0.15:  # aimed at start-up: loading, building the model, before run.json
                delay, due = float(rng.uniform(0.0, startup)), trained
            else:  # aimed at training: after this start's first step, spread over what is left of the run
                while proc.poll() is None and not trained():
                    time.sleep(0.01)
                if proc.poll() is None:
                    startup = min(startup, time.time() - started)
                left = (wall - uninterrupted_startup) * (steps - (_newest_step(broken) or 0)) / steps
                delay, due = float(rng.uniform(0.0, left / (kills - delivered))), at_end
            waited = _kill(proc, delay, due)
            if waited is not None:
                phase = "in training" if trained() else "in start-up"
                if _newest_step(broken) is None:
                    phases["with no checkpoint yet"] += 1
                delivered += 1
                phases[phase] += 1
                log(f"kill {delivered:2d} {phase} (+{waited:4.2f} s; newest checkpoint: step {_newest_step(broken)}, "
                    f"last logged step {_last_step(broken)})")
                continue
        _, err = proc.communicate()
        if proc.returncode:
            raise SystemExit(f"a resumed run failed (exit {proc.returncode}):\n{err}")
        if delivered >= kills or _newest_step(broken) == steps:
            break
    name = f"step-{steps:08d}.safetensors"
    differ = _equal(_tensors(straight / "checkpoints" / name), _tensors(broken / "checkpoints" / name))
    differ += [f"avatar:{k}" for k in _equal(_tensors(straight / "avatar.anr"), _tensors(broken / "avatar.anr"))]
    logged = [json.loads(line)["step"] for line in (broken / "log.jsonl").read_text().splitlines()]
    return {"kills": delivered, "starts": restarts, "phases": phases, "steps": steps, "differing_tensors": differ,
            "log_steps_once": logged == list(range(1, len(logged) + 1)) and logged[-1] == steps,
            "uninterrupted_wall_s": round(wall, 2)}


def main(argv: list[str] | None = None) -> int:
    """Runs the benchmark; returns 0 when the interrupted run ends bit-identical to the uninterrupted one."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kills", type=int, default=20, help="SIGKILLs to deliver (default 20)")
    p.add_argument("--steps", type=int, default=200, help="training steps (default 200)")
    p.add_argument("--checkpoint-every", type=int, default=5, help="checkpoint interval in steps (default 5)")
    p.add_argument("--seed", type=int, default=0, help="seed of the kill delays (default 0)")
    p.add_argument("--work", type=Path, default=None, help="work folder (default: a new temporary folder)")
    p.add_argument("--captures", nargs="+", help="capture files to train on (default: two synthetic ones)")
    p.add_argument("--json", type=Path, help="also write the result record here")
    p.add_argument("extra", nargs=argparse.REMAINDER, help="after --: more `anr-studio train` arguments (e.g. --set ...)")
    args = p.parse_args(argv)
    import tempfile

    work = args.work or Path(tempfile.mkdtemp(prefix="kill_resume_"))
    work.mkdir(parents=True, exist_ok=True)
    captures = args.captures or write_captures(work)
    extra = args.extra[1:] if args.extra[:1] == ["--"] else args.extra
    result = kill_resume(work, captures, args.kills, args.steps, args.checkpoint_every, args.seed, extra)
    exact = not result["differing_tensors"] and result["log_steps_once"]
    print(f"{result['kills']} SIGKILLs ({', '.join(f'{v} {k}' for k, v in result['phases'].items())}), "
          f"{result['starts']} starts: final checkpoint and avatar "
          f"{'bit-identical' if exact else 'DIFFER: ' + ', '.join(result['differing_tensors'][:5])} "
          f"to the uninterrupted run; log.jsonl {'holds each step once' if result['log_steps_once'] else 'repeats or misses steps'}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0 if exact else 1


if __name__ == "__main__":
    sys.exit(main())
