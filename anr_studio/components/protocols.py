"""What the studio and its jobs use of a body model (`StudioBody`) and of an avatar (`StudioAvatar`), as
typing Protocols, so widgets and jobs never ask an object what it is."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Protocol, Sequence, runtime_checkable

import numpy as np
import torch


@runtime_checkable
class StudioBody(Protocol):
    """A posable body: called with pose (B,24,3), betas (B,K'), transl (B,3), it returns vertices and joints."""

    model_id: str
    """"default" (the built-in body), an SMPL file's sha256, or another body's id."""
    num_betas: int
    """K: shape coefficients the body takes."""
    faces: torch.Tensor
    """(F, 3) long vertex indices."""
    face_uvs: torch.Tensor
    """(F, 3, 2) texture coordinates of each face's corners, in [0, 1]."""
    parents: torch.Tensor
    """(24,) long parent of each SMPL joint (-1 for the root)."""
    face_parts: torch.Tensor
    """(F,) long body-part label of each face, an index into ``part_names``."""
    part_names: list[str]
    """Names of the body-part labels."""
    phenotype: Mapping[str, Any] | None
    """Named shape controls (names, ranges, defaults) of the built-in body; None for others."""

    def __call__(self, pose: Any, betas: Any = None, transl: Any = None) -> Any: ...

    def phenotype_to_betas(self, values: Mapping[str, float]) -> torch.Tensor: ...


@runtime_checkable
class StudioAvatar(Protocol):
    """A renderer with one neural texture per identity: what the preview, try-on and export use."""

    @property
    def identities(self) -> list[str]: ...

    def render(self, identity: str, pose: Any, camera: Any = None, betas: Any = None, transl: Any = None,
               size: int | Sequence[int] = (512, 512), background: Any = ...) -> tuple[np.ndarray, np.ndarray]: ...

    def texture(self, identity: str) -> torch.Tensor: ...

    def identity_betas(self, identity: str) -> np.ndarray | None: ...

    def add_identity(self, name: str, texture: torch.Tensor, betas: np.ndarray | None = None) -> None: ...

    def tune(self) -> Any: ...

    def save(self, path: str, identities: Sequence[str] | None = None) -> Path: ...
