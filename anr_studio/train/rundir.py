"""Run folders: ``run.json``, ``checkpoints/``, ``avatar.anr``, ``log.jsonl``, ``fitted_poses/`` (the captures'
poses fitted to their masks, kept for a resume), and the ``.lock`` of the one process training there; another
run's folder is refused unless resumed or replaced."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from anr_studio.errors import AnrError
from anr_studio.fileio import AVATAR_FILE, RUN_FILE, atomic_write_text, lock_folder, os_error_message, os_errors
from anr_studio.train.checkpoint import CHECKPOINT_DIR, checkpoint_paths

LOG_FILE = "log.jsonl"
POSES_DIR = "fitted_poses"


def holds_run(out: Path) -> bool:
    """Returns True when ``out`` already holds a training run (run.json, checkpoints or an avatar)."""
    return (out / RUN_FILE).exists() or bool(checkpoint_paths(out)) or (out / AVATAR_FILE).exists()


def prepare_run_dir(out: str | os.PathLike, resume: bool) -> Path:
    """Returns the run folder, created and locked by this process; AnrError if it holds another run and not ``resume``."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise AnrError(f"--out {out}: is a file, expected a folder for the run")
    lock_folder(out)
    if resume:
        if not (out / RUN_FILE).exists():
            raise AnrError(f"--out {out}: has no {RUN_FILE}, expected the folder of an earlier run to --resume")
    elif holds_run(out):
        raise AnrError(f"--out {out}: already holds a run ({RUN_FILE} / {CHECKPOINT_DIR}), expected an empty folder, "
                       "--resume to continue it or --overwrite to replace it")
    return out


def clear_run_dir(out: str | os.PathLike) -> None:
    """Removes the run in ``out`` (run.json, checkpoints, avatar, logs) after taking its lock; other files stay."""
    out = Path(out)
    if not out.is_dir():
        return
    lock_folder(out)
    with os_errors(out):
        for name in (RUN_FILE, AVATAR_FILE, LOG_FILE, "heldout_psnr.json"):
            (out / name).unlink(missing_ok=True)
        for name in (CHECKPOINT_DIR, POSES_DIR, "tensorboard"):
            if (out / name).is_dir() and not (out / name).is_symlink():
                shutil.rmtree(out / name)


def write_run_info(out: Path, info: dict[str, Any]) -> None:
    """Writes ``run.json`` atomically (captures, identities, config, renderer kind)."""
    atomic_write_text(out / RUN_FILE, json.dumps(info, indent=1))


def read_run_info(out: str | os.PathLike) -> dict[str, Any]:
    """Returns the contents of ``run.json`` of the run to resume; AnrError if the folder is not a run."""
    path = Path(out) / RUN_FILE
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AnrError(f"--out {Path(out)}: holds no run to resume (no {RUN_FILE}), expected an earlier run's folder, "
                       "or drop --resume to start a new run") from None
    except (ValueError, RecursionError):
        raise AnrError(f"{path}: is not valid JSON (or nested too deeply), expected the run description") from None
    except OSError as exc:
        raise AnrError(os_error_message(exc, path, "read")) from None
    captures = info.get("captures") if isinstance(info, dict) else None
    if not isinstance(info, dict) or not isinstance(info.get("config"), dict) or not isinstance(captures, list) \
            or not captures or not all(isinstance(c, str) and c for c in captures):
        raise AnrError(f"{path}: is not a run description, expected an object with config and a list of captures")
    return info
