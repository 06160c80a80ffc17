"""NaN/Inf flags of a step computed on the device ((1,) float32, 1 = skip: fused Adam's ``found_inf``), and a
count of skipped steps that the host reads now and then (no sync per step)."""

from __future__ import annotations

from typing import Callable, Sequence

import torch

from anr_studio.errors import AnrError


def nonfinite_flag(params: Sequence[torch.nn.Parameter], total: torch.Tensor | None = None) -> torch.Tensor:
    """Returns a (1,) float32 tensor on the params' device: 1 if ``total`` or any gradient is NaN/Inf, else 0."""
    grads = [p.grad for p in params if p.grad is not None]
    acc = total.detach().float().reshape(()) * 0 if total is not None else None
    if grads:
        # The max-abs norm cannot overflow for finite gradients; x * 0 is 0 for finite x and
        # NaN otherwise, so one sum tells whether anything was NaN or Inf.
        peaks = (torch.stack(torch._foreach_norm(grads, float("inf"))).float() * 0).sum()
        acc = peaks if acc is None else acc + peaks
    if acc is None:
        return torch.zeros(1, device=params[0].device if params else "cpu")
    return (~torch.isfinite(acc)).float().reshape(1)


class BadStepCounter:
    """Collects per-step flags; `check` reads them, warns per skipped step, and raises after too many in a row."""

    def __init__(self, max_consecutive: int, warn: Callable[[str], None]) -> None:
        self.max_consecutive, self.warn = max_consecutive, warn
        self.consecutive = 0
        self._pending: list[tuple[int, torch.Tensor]] = []

    def add(self, step: int, flag: torch.Tensor) -> None:
        """Records the flag (1,) of ``step`` (no sync)."""
        self._pending.append((step, flag))

    def check(self) -> None:
        """Reads the pending flags (one host sync); AnrError after ``max_consecutive`` skipped steps in a row."""
        if not self._pending:
            return
        flags = torch.cat([f.to("cpu", non_blocking=False) for _, f in self._pending]).tolist()
        steps = [s for s, _ in self._pending]
        self._pending.clear()
        for step, flag in zip(steps, flags):
            if not flag:
                self.consecutive = 0
                continue
            self.consecutive += 1
            self.warn(f"step {step}: NaN or Inf in the losses or gradients; step skipped")
            if self.consecutive >= self.max_consecutive:
                raise AnrError(f"training: {self.consecutive} consecutive steps had NaN or Inf losses or gradients "
                               f"(last at step {step}), expected finite values; lower the learning rates")
