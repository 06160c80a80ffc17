"""Returns config overrides for the training options a user sets by name (CLI flags, the studio's form)."""

from __future__ import annotations

import json


def option_overrides(**options: float | bool | None) -> list[str]:
    """Returns ``optim.NAME=value`` overrides of the named `OptimConfig` options (steps, checkpoint_every,
    preview_every, time_budget_s, split_optimization); None keeps the preset's."""
    return [f"optim.{name}={json.dumps(value)}" for name, value in options.items() if value is not None]
