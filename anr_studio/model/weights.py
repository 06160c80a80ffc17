"""Pretrained weight files (VGG19 for the feature loss, AlexNet for LPIPS), downloaded on first use into the torch
hub cache (temporary name, checked against the hash prefix in its name, renamed); ``--offline`` forbids downloads."""

from __future__ import annotations

import os
import re
import sys
import urllib.error
from pathlib import Path

import torch

from anr_studio.errors import AnrError
from anr_studio.fileio import atomic_path

OFFLINE_ENV = "ANR_OFFLINE"
"""Environment variable that forbids downloads when set to 1, true or yes (``anr-studio --offline`` sets it)."""
WEIGHT_URLS = {
    "vgg19-dcbbe9de.pth": "https://download.pytorch.org/models/vgg19-dcbbe9de.pth",
    "alexnet-owt-7be5be79.pth": "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
}
"""torchvision's download addresses of the files we use (its ImageNet weights)."""
_failed: dict[str, AnrError] = {}
"""Downloads that failed in this process, by file name: tried once, then the same error again without a retry."""


def offline() -> bool:
    """Returns whether downloads are forbidden (``ANR_OFFLINE`` is 1, true or yes)."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in ("1", "true", "yes")


def set_offline() -> None:
    """Forbids downloads for this process and the processes it starts."""
    os.environ[OFFLINE_ENV] = "1"


def _hash_prefix(filename: str) -> str | None:
    """Returns the sha256 prefix torchvision puts in a file name (``vgg19-dcbbe9de.pth`` -> ``dcbbe9de``)."""
    match = re.search(r"-([0-9a-f]{6,})\.[^.]+$", filename)
    return match.group(1) if match else None


class _NetworkError(Exception):
    """A download that the network failed: says the reason (no address, refused, timed out), not a failed write."""

    def __init__(self, reason: object) -> None:
        super().__init__(getattr(reason, "strerror", None) or str(reason))


def download(url: str, path: Path, what: str) -> Path:
    """Returns ``path`` after downloading ``url`` into it (temporary name, hash check, rename); AnrError on failure."""
    print(f"anr-studio: downloading {what} ({path.name}) once into {path.parent} (--offline or {OFFLINE_ENV}=1 "
          "prevents it)", file=sys.stderr, flush=True)
    try:
        with atomic_path(path, suffix=".partial") as tmp:
            try:
                torch.hub.download_url_to_file(url, str(tmp), hash_prefix=_hash_prefix(path.name),
                                               progress=sys.stderr.isatty())
            except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
                # OS errors, which atomic_path would report as a failed write of the file
                raise _NetworkError(getattr(exc, "reason", exc)) from exc
    except Exception as exc:  # network errors, a wrong hash, a full disk: all end the same way for the user
        raise AnrError(f"{path}: could not download {what} from {url} ({exc}); put the file there by hand "
                       f"or run with --offline") from exc
    return path


def find_weights(filename: str, explicit: str | os.PathLike | None = None, what: str = "weights") -> Path:
    """Returns the path of a weights file: ``explicit``, else the hub cache's copy, downloaded on first use; AnrError
    names the file when ``explicit`` is missing, when it is not cached and offline, or the download fails."""
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise AnrError(f"{path}: {what} file not found, expected torchvision's {filename}")
        return path
    path = Path(torch.hub.get_dir()) / "checkpoints" / filename  # where torchvision caches it
    if path.is_file():
        return path
    if offline() or filename not in WEIGHT_URLS:
        raise AnrError(f"{path}: {what} not found and downloads are off (offline), expected torchvision's {filename} there")
    if filename in _failed:
        raise _failed[filename]
    try:
        return download(WEIGHT_URLS[filename], path, what)
    except AnrError as exc:
        _failed[filename] = exc
        raise


def load_weights(filename: str, explicit: str | os.PathLike | None = None, what: str = "weights") -> tuple[Path, dict]:
    """Returns (path, state dict) of a torchvision weights file found by `find_weights`, read without unpickling
    code; AnrError naming the file when it cannot be read or holds no state dict."""
    path = find_weights(filename, explicit, what)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated download or a file of another kind
        raise AnrError(f"{path}: could not be read as torchvision's {filename} ({exc})") from exc
    if not isinstance(state, dict):
        raise AnrError(f"{path}: holds a {type(state).__name__}, expected torchvision's {filename} state dict")
    return path, state
