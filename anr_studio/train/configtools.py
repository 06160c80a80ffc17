"""Returns config overrides for the training options a user sets by name (CLI flags, the studio's form)."""

from __future__ import annotations


def option_overrides(*, steps: int | None = None, checkpoint_every: int | None = None,
                     preview_every: int | None = None, time_budget_s: float | None = None,
                     split_optimization: bool | None = None) -> list[str]:
    """Returns ``section.field=value`` overrides for the options of the CLI and the training form; None keeps the preset's."""
    named = {"optim.steps": None if steps is None else int(steps),
             "optim.checkpoint_every": None if checkpoint_every is None else int(checkpoint_every),
             "optim.preview_every": None if preview_every is None else int(preview_every),
             "optim.time_budget_s": None if time_budget_s is None else float(time_budget_s),
             "optim.split_optimization": None if split_optimization is None else str(bool(split_optimization)).lower()}
    return [f"{key}={value}" for key, value in named.items() if value is not None]
