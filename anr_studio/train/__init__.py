"""Training: configs and presets, data and augmentation, the trainer (split optimization, multi-identity,
checkpoints, DDP), fitting a new identity to a frozen renderer, and evaluation."""

from __future__ import annotations

from anr_studio.lazy import lazy_getattr

__all__ = ["Trainer"]

__getattr__ = lazy_getattr(__name__, {"Trainer": "anr_studio.train.trainer"})
