"""Region-mix training: the renderer learns to honour the neural texture locally, so try-on swaps work.

Each step a region R (a union of try-on presets, or a random UV rectangle) of another identity's texture T_a is
pasted into the trained one's T_b: T_mix = M_R·T_a + (1-M_R)·T_b must render as A inside R and as B elsewhere.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

MIX_SHARE = 4
"""One frame in this many of a batch (at least one) is rendered a second time with a mixed texture."""


def region_masks(body: torch.nn.Module, size: int) -> torch.Tensor:
    """Returns the UV masks (R, S, S) float32 in [0, 1] of the try-on presets the body labels (texture layout)."""
    from anr_studio.avatar.tryon import preset_masks

    masks = list(preset_masks(body, size).values())
    return torch.from_numpy(np.stack(masks)) if masks else torch.zeros((0, size, size))


class RegionMixer:
    """Draws each step's mix (partner identity, region union) from ``default_rng([seed, step, 29])`` (resumable)
    and builds its inputs; ``masks`` (R, S, S) on the training device."""

    def __init__(self, masks: torch.Tensor, identities: int, seed: int) -> None:
        self.masks, self.identities, self.seed = masks, identities, seed

    def draw(self, step: int, identity: int) -> tuple[int, torch.Tensor]:
        """Returns (partner identity != ``identity``, UV mask (1, 1, S, S)) of the mix at ``step``."""
        rng = np.random.default_rng([self.seed, step, 29])
        partner = int(rng.integers(self.identities - 1))
        partner += partner >= identity
        regions = self.masks.shape[0]
        if regions and rng.random() < 0.5:
            chosen = rng.random(regions) < 0.5
            if not chosen.any():
                chosen[rng.integers(regions)] = True
            index = torch.as_tensor(np.flatnonzero(chosen), device=self.masks.device)
            return partner, self.masks.index_select(0, index).amax(0)[None, None]
        size = self.masks.shape[-1]
        (h, w), (top, left) = rng.uniform(0.2, 0.7, 2), rng.uniform(0, 1, 2)
        rows, cols = slice(int(top * (1 - h) * size), int((top * (1 - h) + h) * size)), slice(int(left * (1 - w) * size), int((left * (1 - w) + w) * size))
        mask = torch.zeros((1, 1, size, size), device=self.masks.device)
        mask[..., rows, cols] = 1.0
        return partner, mask

    def inputs(self, step: int, identity: int, textures: Sequence[torch.Tensor], uv: torch.Tensor,
               share: int = MIX_SHARE) -> dict[str, torch.Tensor]:
        """Returns {"mix_texture" (1,C,S,S), "mix_uv_mask" (1,1,S,S), "mix_weight" (b,1,H,W): the UV mask read through
        ``uv`` (B,H,W,2)} for a step of ``textures`` ((1,C,S,S) per identity); b = ceil(B / ``share``)."""
        partner, mask = self.draw(step, identity)
        b = max(1, -(-uv.shape[0] // share))
        weight = F.grid_sample(mask.expand(b, -1, -1, -1), uv[:b].to(mask.dtype), mode="bilinear",
                               padding_mode="zeros", align_corners=False)
        return {"mix_texture": textures[partner].detach(), "mix_uv_mask": mask, "mix_weight": weight}


def region_mix_loss(render: Callable[[torch.Tensor], Any], texture: torch.Tensor, out: Any,
                    p: dict[str, torch.Tensor], render_target: Callable[[torch.Tensor], Any] | None = None) -> torch.Tensor:
    """Returns the mix's L1 distance to its targets (0-dim float32; gradient reaches the renderer only).

    ``render(neural image (b,C,H,W))`` runs the renderer on the step's first b frames; ``texture`` (1,C,S,S)
    is T_b; ``out`` its RenderOutput; ``p`` the step's "uv" and `RegionMixer.inputs`. Target: w·R(T_a) +
    (1-w)·R(T_b), w = ``mix_weight``, RGB weighted by the target mask; ``render_target`` renders R(T_a) (a teacher)."""
    weight = p["mix_weight"].float()
    b = weight.shape[0]
    uv = p["uv"][:b]
    mixed = torch.lerp(texture.detach(), p["mix_texture"], p["mix_uv_mask"])

    def sample(t: torch.Tensor) -> torch.Tensor:
        return F.grid_sample(t.expand(b, -1, -1, -1), uv.to(t.dtype), mode="bilinear", padding_mode="zeros",
                             align_corners=False)

    with torch.no_grad():
        out_a = (render_target or render)(sample(p["mix_texture"]))
        target_rgb = torch.lerp(out.rgb[:b].detach().float(), out_a.rgb.float(), weight)
        has_mask = out.mask_logits is not None
        if has_mask:
            target_mask = torch.lerp(torch.sigmoid(out.mask_logits[:b].detach().float()),
                                     torch.sigmoid(out_a.mask_logits.float()), weight)
    out_mix = render(sample(mixed))
    if not has_mask:
        return (out_mix.rgb.float() - target_rgb).abs().mean()
    coverage = target_mask.sum().clamp_min(1e-6) * 3
    rgb_term = (target_mask * (out_mix.rgb.float() - target_rgb).abs()).sum() / coverage
    return rgb_term + (torch.sigmoid(out_mix.mask_logits.float()) - target_mask).abs().mean()
