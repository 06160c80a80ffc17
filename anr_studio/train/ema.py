"""An exponential moving average of the renderer's weights, used for evaluation and export.

The averaged weights follow the trained ones with ``decay`` (ramped up over the first steps as
(1 + t) / (10 + t), so early weights do not linger); a GAN-trained renderer's last weights jitter
from step to step, their average is steadier and smoother.
"""

from __future__ import annotations

import torch


class WeightAverage:
    """The averaged copy of a module's floating-point parameters and buffers."""

    def __init__(self, module: torch.nn.Module, decay: float) -> None:
        self.decay = float(decay)
        self.module = module
        self.state = {k: v.detach().clone() for k, v in module.state_dict().items()}
        self._float = [k for k, v in self.state.items() if v.is_floating_point()]

    @torch.no_grad()
    def update(self, step: int) -> None:
        """Moves the average towards the module's current weights after optimisation step ``step`` (>= 1)."""
        decay = min(self.decay, (1 + step) / (10 + step))
        current = self.module.state_dict()
        torch._foreach_lerp_([self.state[k] for k in self._float], [current[k] for k in self._float], 1.0 - decay)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Returns the averaged weights, keyed like the module's state_dict."""
        return dict(self.state)

    @torch.no_grad()
    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Sets the averaged weights from ``state`` (keys of the module's state_dict)."""
        for k, v in state.items():
            self.state[k].copy_(v)
