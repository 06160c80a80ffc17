"""Returns and checks run folders: ``run.json``, ``checkpoints/``, ``avatar.anr``, ``log.jsonl``.

A run folder belongs to one run; starting a new run in a folder that holds another one is
refused unless the user asks to resume it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from anr_studio.errors import AnrError
from anr_studio.fileio import atomic_write_text
from anr_studio.train.checkpoint import CHECKPOINT_DIR, checkpoint_paths

RUN_FILE = "run.json"
AVATAR_FILE = "avatar.anr"
LOG_FILE = "log.jsonl"


def holds_run(out: Path) -> bool:
    """Returns True when ``out`` already holds a training run (run.json, checkpoints or an avatar)."""
    return (out / RUN_FILE).exists() or bool(checkpoint_paths(out)) or (out / AVATAR_FILE).exists()


def prepare_run_dir(out: str | os.PathLike, resume: bool) -> Path:
    """Returns the run folder, created if needed; AnrError if it holds another run and not ``resume``."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise AnrError(f"--out {out}: is a file, expected a folder for the run")
    if resume:
        if not (out / RUN_FILE).exists():
            raise AnrError(f"--out {out}: has no {RUN_FILE}, expected the folder of an earlier run to --resume")
    elif holds_run(out):
        raise AnrError(f"--out {out}: already holds a run ({RUN_FILE} / {CHECKPOINT_DIR}), expected an empty folder or --resume")
    out.mkdir(parents=True, exist_ok=True)
    return out


def write_run_info(out: Path, info: dict[str, Any]) -> None:
    """Writes ``run.json`` atomically (captures, identities, config, renderer kind)."""
    atomic_write_text(out / RUN_FILE, json.dumps(info, indent=1))


def read_run_info(out: str | os.PathLike) -> dict[str, Any]:
    """Returns the contents of ``run.json``; AnrError if the folder is not a run."""
    path = Path(out) / RUN_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise AnrError(f"{Path(out)}: {RUN_FILE} not found, expected a run folder written by anr-studio train") from exc
    except ValueError as exc:
        raise AnrError(f"{path}: is not valid JSON, expected the run description") from exc
