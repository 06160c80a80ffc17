"""Lazy package exports: a package names what it offers; each module loads on first use (fast `--help`)."""

from __future__ import annotations

import importlib
from typing import Any, Callable


def lazy_getattr(package: str, exports: dict[str, str]) -> Callable[[str], Any]:
    """Returns a module ``__getattr__`` that imports ``exports[name]`` (a module path) when ``name`` is first read."""

    def __getattr__(name: str) -> Any:
        if name in exports:
            return getattr(importlib.import_module(exports[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
