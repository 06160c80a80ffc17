"""What the studio does with a file it is given (dropped on the window): the kind of each path, by suffix
(a folder is a capture folder to import)."""

from __future__ import annotations

import os
from enum import Enum
from pathlib import Path

from anr_studio.capture.importers import VIDEO_EXTS


class FileKind(Enum):
    """How the studio opens a file: as an avatar, a capture, a video or folder to import, a motion, or not at all."""

    AVATAR = "avatar"
    CAPTURE = "capture"
    VIDEO = "video"
    MOTION = "motion"
    FOLDER = "folder"
    UNKNOWN = "unknown"


SUFFIXES: dict[FileKind, tuple[str, ...]] = {
    FileKind.AVATAR: (".anr",),
    FileKind.CAPTURE: (".h5", ".hdf5"),
    FileKind.VIDEO: tuple(sorted(VIDEO_EXTS)),
    FileKind.MOTION: (".bvh", ".npz"),
}
ACCEPTED = ("an avatar (.anr), a capture (.h5), a video (" + ", ".join(SUFFIXES[FileKind.VIDEO])
            + ") or an image folder to import, or a motion (.bvh, .npz)")
"""The kinds of file the studio opens, in words."""


def file_kind(path: str | os.PathLike) -> FileKind:
    """Returns the kind of ``path``: FOLDER for a folder, else by its suffix (case-insensitive); UNKNOWN for anything else."""
    if Path(path).is_dir():
        return FileKind.FOLDER
    suffix = Path(path).suffix.lower()
    return next((kind for kind, suffixes in SUFFIXES.items() if suffix in suffixes), FileKind.UNKNOWN)


def plan_opening(paths: list[str | os.PathLike]) -> tuple[list[tuple[FileKind, Path]], Path | None]:
    """Returns ((kind, path) in opening order, the SMPL poses .npz for the videos or None).

    A motion dropped with a video is its poses; avatars open before motions so a motion plays on the new avatar.
    """
    kinds = [(file_kind(p), Path(p)) for p in paths]
    poses = None
    if any(k == FileKind.VIDEO for k, _ in kinds):
        poses = next((p for k, p in kinds if k == FileKind.MOTION and p.suffix.lower() == ".npz"), None)
        kinds = [(k, p) for k, p in kinds if p != poses]
    order = [FileKind.AVATAR, FileKind.CAPTURE, FileKind.MOTION, FileKind.VIDEO, FileKind.FOLDER, FileKind.UNKNOWN]
    return sorted(kinds, key=lambda kp: order.index(kp[0])), poses
