"""Returns rendered images of posed bodies, the one path shared by training, eval and the avatar: body ->
render_body_maps -> (grid jitter, training) -> NeuralTexture.sample -> renderer -> composite."""

from __future__ import annotations

import contextlib
from typing import Any

import torch

from anr_studio.render import BACKGROUND_UV, render_body_maps


def grid_jitter(uv: torch.Tensor, amount: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Returns ``uv`` (B,H,W,2) plus uniform noise in [-amount, amount] on foreground pixels, clamped to [-1, 1];
    background keeps ``BACKGROUND_UV``."""
    if amount <= 0:
        return uv
    foreground = (uv > BACKGROUND_UV / 2).all(dim=-1, keepdim=True)
    noise = torch.rand(uv.shape, generator=generator, device=uv.device, dtype=uv.dtype)
    jittered = (uv + (noise * 2 - 1) * amount).clamp(-1.0, 1.0)
    return torch.where(foreground, jittered, uv)


def body_maps(body: torch.nn.Module, pose: torch.Tensor, betas: torch.Tensor | None, transl: torch.Tensor | None,
              camera: Any, image_size: tuple[int, int]):
    """Returns BodyMaps(uv (B,H,W,2), normals (B,3,H,W), mask (B,1,H,W), fragments) of bodies posed by ``pose (B,24,3)``,
    ``betas (B,K')`` (cut or zero-padded to the body's K) and ``transl (B,3)`` (no gradients)."""
    with torch.no_grad():
        out = body(pose=pose, betas=None if betas is None else betas[..., : body.num_betas], transl=transl)
        return render_body_maps(body, out.vertices, camera, image_size)


def run_renderer(renderer: torch.nn.Module, texture: torch.nn.Module, uv: torch.Tensor, normals: torch.Tensor,
                 texture_grad: bool = True):
    """Returns RenderOutput(rgb (B,3,H,W) in [-1,1], mask_logits (B,1,H,W) | None, coarse_rgb (B,3,H,W)) of ``uv
    (B,H,W,2)`` (background -2) and ``normals (B,3,H,W)``; ``texture_grad=False`` samples without autograd."""
    with contextlib.nullcontext() if texture_grad else torch.no_grad():
        neural = texture.sample(uv)
    if normals.is_contiguous(memory_format=torch.channels_last) or _is_channels_last(renderer):
        neural = neural.contiguous(memory_format=torch.channels_last)
        normals = normals.contiguous(memory_format=torch.channels_last)
    return renderer(neural, normals)


def _is_channels_last(module: torch.nn.Module) -> bool:
    for p in module.parameters():
        if p.dim() == 4:
            return p.is_contiguous(memory_format=torch.channels_last) and not p.is_contiguous()
    return False


@torch.no_grad()
def render_views(body: torch.nn.Module, renderer: torch.nn.Module, texture: torch.nn.Module, pose: torch.Tensor,
                 betas: torch.Tensor | None, transl: torch.Tensor | None, camera: Any, image_size: tuple[int, int]
                 ) -> dict[str, torch.Tensor]:
    """Returns {"rgb" (B,3,H,W) float32 in [-1,1], "mask" (B,1,H,W) in [0,1]} of whole frames of size ``image_size``;
    renderers without a mask head (DNR) give the body mask."""
    maps = body_maps(body, pose, betas, transl, camera, image_size)
    out = run_renderer(renderer, texture, maps.uv, maps.normals, texture_grad=False)
    mask = maps.mask.float() if out.mask_logits is None else torch.sigmoid(out.mask_logits.float())
    return {"rgb": out.rgb.float(), "mask": mask}
