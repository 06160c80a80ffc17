"""Atomic file writes (nothing a user has is ever replaced by a half-written file) and the files shipped with the package."""

from __future__ import annotations

import contextlib
import importlib.resources
import os
import tempfile
from pathlib import Path
from typing import Iterator, Literal


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yields a temporary path beside ``path``; on success it is fsynced and renamed onto ``path``.

    On any exception the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        # mkstemp creates 0600 files; give the result the mode a plain open() would have.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
        with contextlib.suppress(OSError):  # make the rename itself durable
            dir_fd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Writes ``data`` to ``path`` atomically (temporary file, fsync, rename)."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Writes ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


_PACKAGE_DIR = Path(__file__).resolve().parent


def shipped_path(folder: Literal["resources", "models"], *parts: str) -> Path:
    """Returns the path of a file shipped with the package, e.g. ``shipped_path("resources", "body", "anr_body.safetensors")``.

    The top-level ``resources/`` and ``models/`` folders ship inside the package as ``anr_studio/resources``
    and ``anr_studio/models`` (pyproject.toml maps them into the wheel) and are found through
    ``importlib.resources``. A source checkout (an editable install, or the package on ``PYTHONPATH``)
    uses the folders beside its own ``anr_studio/``, so each checkout reads its own files.
    """
    if folder not in ("resources", "models"):
        raise ValueError(f"shipped_path: folder must be 'resources' or 'models', got {folder!r}")
    checkout = _PACKAGE_DIR.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / folder).is_dir():
        return checkout.joinpath(folder, *parts)
    return Path(str(importlib.resources.files("anr_studio").joinpath(folder, *parts)))
