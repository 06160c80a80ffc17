"""Training: configs and presets, data and augmentation, the trainer (split optimization,
multi-identity, checkpoints, DDP), evaluation, and the `train` / `eval` commands.

Heavy modules load on first use so `anr-studio --help` stays fast.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "TrainConfig": "anr_studio.train.config",
    "DataConfig": "anr_studio.train.config",
    "OptimConfig": "anr_studio.train.config",
    "preset": "anr_studio.train.presets",
    "PRESETS": "anr_studio.train.presets",
    "Trainer": "anr_studio.train.trainer",
    "Callback": "anr_studio.train.callbacks",
    "StepInfo": "anr_studio.train.callbacks",
    "evaluate": "anr_studio.train.evaluate",
    "TrainedModel": "anr_studio.train.evaluate",
    "read_avatar": "anr_studio.train.avatar_file",
    "write_avatar": "anr_studio.train.avatar_file",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'anr_studio.train' has no attribute {name!r}")
