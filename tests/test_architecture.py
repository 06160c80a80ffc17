"""Architecture rules that keep the studio's layers apart."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_import_linter_contracts_hold():
    """The contracts in pyproject.toml: only anr_studio.gui imports PySide6, vispy or pyqtgraph; the GUI
    uses the core packages only through components and jobs; each package imports only the layers
    below it (cli, gui, jobs, components, train, avatar, ... errors)."""
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    if exe is None:
        pytest.fail("lint-imports (import-linter) is not installed; install the dev extra")
    result = subprocess.run([exe], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_unsafe_loading_in_package():
    """Nothing we ship unpickles user files: no pickle.load and no torch.load without weights_only=True."""
    offenders = []
    for path in (ROOT / "anr_studio").rglob("*.py"):
        for lineno, line in enumerate(path.read_text().splitlines(), 1):
            if "pickle.load(" in line or ("torch.load(" in line and "weights_only=True" not in line):
                offenders.append(f"{path.relative_to(ROOT)}:{lineno}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


# How the software was made is not part of it: no rounds of work, ticket numbers, who did what,
# commit hashes, compute budgets or dated lab notes in code, tests, docs, benchmarks or file names.
# (Some spaces are written [ ] so that this file does not match its own patterns.)
HISTORY = re.compile(
    r"(first|second|third|fourth|fifth|sixth|seventh|last|next|previous|this|same) session"
    r"|\bsession [0-9]|\b(work|development) (round|session)s?\b|issue ?#?[0-9]|\bH1[0-9]\b"
    r"|\(helper\)|helper,[ ]20[0-9][0-9]|the[ ]lead\b|device[ ]budget|device[ ]time (was|ran|left|used)"
    r"|\b[0-9]{1,2}:[0-9]{2} UTC\b", re.IGNORECASE)
HISTORY_NAME = re.compile(r"(^|[_.-])(run[0-9]+|session|issue[0-9]+|round[0-9]+)([_.-]|$)", re.IGNORECASE)
SKIPPED_DIRS = {".git", ".venv", "venv", "__pycache__", ".pytest_cache", "build", "dist", "node_modules"}


def _repository_files() -> list[Path]:
    """Returns the repository's files: git's tracked and untracked-but-not-ignored ones, else a walk."""
    try:
        listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                                capture_output=True, check=True).stdout.decode().split("\0")
        files = [ROOT / name for name in listed if name]
    except (OSError, subprocess.CalledProcessError):
        files = [p for p in ROOT.rglob("*") if p.is_file()]
    return [p for p in files if p.is_file() and not SKIPPED_DIRS.intersection(p.relative_to(ROOT).parts)
            and not p.name.endswith(".egg-info")]


def _text(path: Path) -> str | None:
    """Returns the file's text, or None for binary or large files."""
    if path.stat().st_size > 4_000_000:
        return None
    data = path.read_bytes()
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _commit_prefixes() -> tuple[set[str], list[str]]:
    """Returns (7-character prefixes, full hashes) of every commit git knows here; empty without git."""
    try:
        hashes = subprocess.run(["git", "rev-list", "--all"], cwd=ROOT, capture_output=True, text=True,
                                check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        return set(), []
    return {h[:7] for h in hashes}, hashes


def test_repository_says_what_the_software_is_not_how_it_was_made():
    """No development history anywhere: rounds, ticket numbers, who did what, commit hashes, budgets."""
    prefixes, hashes = _commit_prefixes()
    offenders = []
    for path in _repository_files():
        rel = path.relative_to(ROOT)
        if HISTORY_NAME.search(path.stem):
            offenders.append(f"{rel}: file name")
        text = _text(path)
        if text is None:
            continue
        for lineno, line in enumerate(text.splitlines(), 1):
            found = [m.group() for m in HISTORY.finditer(line)]
            found += [tok for tok in re.findall(r"\b[0-9a-f]{7,40}\b", line)
                      if tok[:7] in prefixes and any(h.startswith(tok) for h in hashes)]
            if found:
                offenders.append(f"{rel}:{lineno}: {', '.join(found)}: {line.strip()[:120]}")
    assert not offenders, "development history in the repository:\n" + "\n".join(offenders)
