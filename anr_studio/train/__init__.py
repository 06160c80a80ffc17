"""Training: configs and presets, data and augmentation, the trainer (split optimization, multi-identity,
checkpoints, DDP), fitting a new identity to a frozen renderer, and evaluation."""

from __future__ import annotations

from anr_studio.lazy import lazy_getattr

_EXPORTS = {
    "TrainConfig": "anr_studio.train.config",
    "preset": "anr_studio.train.presets",
    "Trainer": "anr_studio.train.trainer",
    "Callback": "anr_studio.train.callbacks",
    "StepInfo": "anr_studio.train.callbacks",
    "evaluate": "anr_studio.train.evaluate",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_getattr(__name__, _EXPORTS)
