"""Runs fuzz cases: a loader on a damaged input under a time limit, judged by what it may do.

A case passes when the loader returns or raises AnrError with one printable line, within the
time limit, and every file of the case is left exactly as it was (bytes, mode, modification time).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from anr_studio.errors import AnrError

TIME_LIMIT_S = 20.0


class Hang(Exception):
    """The loader did not answer within the time limit."""


def _alarm(signum: int, frame: Any) -> None:
    raise Hang()


def snapshot(folder: Path) -> dict[str, tuple]:
    """Returns {relative path: (sha256, mode, mtime_ns)} of every file under ``folder``."""
    out = {}
    for root, _, files in os.walk(folder):
        for name in files:
            p = Path(root) / name
            st = p.lstat()
            digest = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() and not p.is_symlink() else "link"
            out[str(p.relative_to(folder))] = (digest, st.st_mode, st.st_mtime_ns)
    return out


def judge_error(exc: AnrError) -> str | None:
    """Returns what is wrong with a user-facing message (None when it is one printable line)."""
    text = str(exc)
    if not text or "\n" in text or "\x1b" in text or "Traceback" in text:
        return f"message is not one printable line: {text[:200]!r}"
    return None


@dataclass
class Report:
    """Counts of one loader's campaign: cases, loaded, refused, and the problems found."""

    name: str
    cases: int = 0
    loaded: int = 0
    refused: int = 0
    problems: list[str] = field(default_factory=list)
    labels: Counter = field(default_factory=Counter)

    def line(self) -> str:
        """Returns a one-line summary."""
        return (f"{self.name}: {self.cases} cases, {self.loaded} loaded, {self.refused} refused with AnrError, "
                f"{len(self.problems)} problems")


def run_case(load: Callable[[Path], Any], path: Path, folder: Path, label: str, report: Report,
             time_limit: float = TIME_LIMIT_S) -> None:
    """Runs ``load(path)`` and records the outcome in ``report``; the case's files are those under ``folder``."""
    before = snapshot(folder)
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, time_limit)
    problem = None
    try:
        load(path)
        report.loaded += 1
    except AnrError as exc:
        report.refused += 1
        problem = judge_error(exc)
    except Hang:
        problem = f"no answer within {time_limit:g} s"
    except Exception as exc:  # noqa: BLE001 - every other exception is what the fuzzing hunts
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        problem = f"{type(exc).__name__}: {str(exc)[:160]} at {frame.filename}:{frame.lineno}"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    if snapshot(folder) != before:
        problem = (problem + "; " if problem else "") + "an input file was modified"
    report.cases += 1
    report.labels[label.split(" ")[0]] += 1
    if problem:
        report.problems.append(f"case {report.cases - 1} ({label}): {problem}")


def campaign(name: str, cases: int, seed: int, work: Path, make: Callable[[np.random.Generator, Path], tuple[str, Path]],
             load: Callable[[Path], Any]) -> Report:
    """Returns the report of ``cases`` cases: ``make(rng, folder)`` writes a damaged input, ``load`` reads it."""
    report = Report(name)
    for i in range(cases):
        rng = np.random.default_rng([seed, i])
        folder = work / f"{name}-{i}"
        folder.mkdir(parents=True)
        label, path = make(rng, folder)
        run_case(load, path, folder, label, report)
        shutil.rmtree(folder, ignore_errors=True)  # a case is reproduced from its seed; keep the disk small
    return report
