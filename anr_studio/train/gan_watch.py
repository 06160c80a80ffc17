"""Tells the user when the discriminator wins outright: its loss falls to ~1% of its balanced value for
hundreds of steps and colours may get noisier; reads the losses the trainer reports anyway (no sync)."""

from __future__ import annotations

from collections import deque
from typing import Callable, Mapping

BALANCED = 0.25
"""The discriminator's LSGAN loss when it cannot tell real from fake (D = 0.5 on both)."""


class DiscriminatorWatch:
    """Warns once when the discriminator's mean loss over ``window_steps`` falls below ``ratio`` x balanced,
    and once when it is back above twice that."""

    def __init__(self, log_every: int, warn: Callable[[str], None], window_steps: int = 200, ratio: float = 0.08) -> None:
        self.threshold = ratio * BALANCED
        self.window = deque(maxlen=max(1, window_steps // max(1, log_every)))
        self.window_steps, self.warn = window_steps, warn
        self.winning_since: int | None = None

    def update(self, step: int, losses: Mapping[str, float]) -> None:
        """Takes the reported loss terms of ``step`` (no-op without a "discriminator" term)."""
        value = losses.get("discriminator")
        if value is None:
            return
        self.window.append(float(value))
        if len(self.window) < self.window.maxlen:
            return
        mean = sum(self.window) / len(self.window)
        if self.winning_since is None and mean < self.threshold:
            self.winning_since = step
            self.warn(f"step {step}: the discriminator is winning outright (its loss averaged {mean:.4f} over "
                      f"the last {self.window_steps} steps, balanced is ~{BALANCED:g}); the colours may get "
                      "noisier until it recovers. If held-out quality drops, lower loss.adversarial")
        elif self.winning_since is not None and mean > 2 * self.threshold:
            self.warn(f"step {step}: the discriminator no longer wins outright (its loss averaged {mean:.4f}); "
                      f"it had since step {self.winning_since}")
            self.winning_since = None
