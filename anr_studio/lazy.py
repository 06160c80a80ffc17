"""Lazy imports: package exports that load on first use (fast `--help`), and optional modules (Triton kernels)."""

from __future__ import annotations

import functools
import importlib
from types import ModuleType
from typing import Any, Callable


def lazy_getattr(package: str, exports: dict[str, str]) -> Callable[[str], Any]:
    """Returns a module ``__getattr__`` that imports ``exports[name]`` (a module path) when ``name`` is first read."""

    def __getattr__(name: str) -> Any:
        if name in exports:
            return getattr(importlib.import_module(exports[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__


@functools.cache
def optional_module(name: str) -> ModuleType | None:
    """Returns module ``name``, imported once, or None where it cannot be imported (Triton kernels on CPU-only torch builds)."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return None
