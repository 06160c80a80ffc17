"""Returns body poses refined against frame masks: test-time pose refinement (also run on the training
frames before training, `anr_studio.train.config.DataConfig.refine_poses`).

Per frame, corrections of the tracked pose (axis-angle, added to it) and translation are optimised with
Adam so that the body's silhouette matches the frame's mask; a quadratic prior keeps them near the
tracked values. Each batch is fitted cropped around the person and shrunk to about `WORK_HEIGHT` pixels tall.
The silhouette is differentiable through its image gradient (as OpenDR): when the surface
seen at a pixel moves by d on screen, the mask there becomes M(x - d) ~ M(x) - grad M . d.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from anr_studio.render import Fragments, rasterize


@dataclass(frozen=True)
class PoseRefinement:
    """How test-time pose refinement optimises a frame's corrections."""

    steps: int = 30
    """Adam steps per frame (0: no refinement)."""
    lr: float = 0.01
    """Adam learning rate: about the largest change per step, radians (pose) and metres (translation)."""
    prior: float = 0.03
    """Weight of the squared corrections against the silhouette error: radians², plus metres² x 25 (1 cm of
    translation weighs as much as 0.05 rad, 3 degrees, of a joint)."""


def silhouette_motion(fragments: Fragments, vertices: torch.Tensor, faces: torch.Tensor, camera: Any,
                      band: torch.Tensor | None = None) -> torch.Tensor:
    """Returns (B,2,H,W): the screen motion of the surface seen at each pixel of the silhouette band, zero but
    differentiable. The band: covered pixels with an uncovered neighbour, and uncovered pixels with a covered one
    (moving with the mean of their covered neighbours); ``band`` (B,1,H,W) bool when the caller has it already.
    ``fragments`` of ``vertices`` (B,V,3), ``faces`` (F,3)."""
    batch, height, width = fragments.face_id.shape
    mask = fragments.mask.unsqueeze(1).to(vertices.dtype)
    band = _band(mask) if band is None else band
    inner = torch.nonzero((band & fragments.mask.unsqueeze(1)).reshape(-1)).squeeze(1)
    covered, image_of, corner = fragments.covered_corners(faces, vertices.shape[1], inner)
    corners = vertices.reshape(-1, 3).index_select(0, corner.reshape(-1)).view(-1, 3, 3)
    # A material point (fixed barycentrics): the point under the pixel centre would never leave it.
    bary = fragments.bary.reshape(-1, 3).index_select(0, covered).to(vertices.dtype)
    surface = (bary.unsqueeze(-1) * corners).sum(dim=1)  # (N,3)
    if camera.batch_size > 1:
        pixels, _ = camera[image_of].project(surface.unsqueeze(1))
    else:
        pixels, _ = camera.project(surface.unsqueeze(0))
    pixels = pixels.reshape(-1, 2)
    motion = torch.zeros(batch * height * width, 2, dtype=pixels.dtype, device=pixels.device)
    # contiguous: CUDA's avg_pool2d returns wrong gradients for channels_last inputs with overlapping windows.
    motion = motion.index_copy(0, covered, pixels - pixels.detach()).view(batch, height, width, 2)
    motion = motion.permute(0, 3, 1, 2).contiguous()
    outside = F.avg_pool2d(motion, 3, 1, 1) / F.avg_pool2d(mask, 3, 1, 1).clamp_min(1e-6)
    return torch.where(band, torch.where(mask > 0, motion, outside), 0.0)


def _band(mask: torch.Tensor) -> torch.Tensor:
    """Returns (B,1,H,W) bool: the pixels of ``mask`` (B,1,H,W) in {0, 1} with a neighbour (of 8) of the other value."""
    return F.max_pool2d(mask, 3, 1, 1) + F.max_pool2d(-mask, 3, 1, 1) > 0


def _moved(image: torch.Tensor, motion: torch.Tensor) -> torch.Tensor:
    """Returns ``image`` (B,C,H,W) minus its central-difference gradient dotted with ``motion`` (B,2,H,W)."""
    padded = F.pad(image.detach(), (1, 1, 1, 1), mode="replicate")
    grad_x = (padded[..., 1:-1, 2:] - padded[..., 1:-1, :-2]) / 2
    grad_y = (padded[..., 2:, 1:-1] - padded[..., :-2, 1:-1]) / 2
    return image - grad_x * motion[:, :1] - grad_y * motion[:, 1:]


WORK_HEIGHT = 256
"""About how many pixels tall the person is while refining: frames showing a taller one are shrunk by an integer factor."""


def _working_view(vertices: torch.Tensor, camera: Any, mask: torch.Tensor) -> tuple[torch.Tensor, Any, float]:
    """Returns (mask, camera, height): ``mask (B,1,H,W)`` and ``camera`` cropped to one box size around the person
    (the mask's foreground and the silhouette of ``vertices`` (B,V,3), plus a fifth of the person's height on each
    side, inside the image) and shrunk by the integer factor that leaves the person about WORK_HEIGHT pixels tall;
    ``height``: the image's height in those pixels."""
    height, width = mask.shape[-2:]
    lo, hi = camera.project(vertices)[0].aminmax(dim=1)  # (B,2) x, y
    seen = mask[:, 0] > 0.5
    for axis, (lines, size) in enumerate(((seen.any(1), width), (seen.any(2), height))):
        index = torch.arange(size, device=mask.device)
        lo[:, axis] = torch.minimum(lo[:, axis], torch.where(lines, index, size).amin(1))
        hi[:, axis] = torch.maximum(hi[:, axis], torch.where(lines, index + 1, 0).amax(1))
    tall = float((hi - lo)[:, 1].max())
    factor = max(1, round(tall / WORK_HEIGHT))
    image = torch.tensor([width, height], device=mask.device) // factor * factor
    box = torch.minimum(((hi - lo).amax(0) + tall * 0.4).div(factor).ceil() * factor, image).long()
    origin = torch.minimum(((lo + hi - box) / 2).round().clamp_min(0), image - box).long()
    crops = [mask[b, :, y:y + box[1], x:x + box[0]] for b, (x, y) in enumerate(origin.tolist())]
    return F.avg_pool2d(torch.stack(crops), factor), camera.cropped(origin, factor), height / factor


def refine_poses(body: torch.nn.Module, pose: torch.Tensor, betas: torch.Tensor | None, transl: torch.Tensor, camera: Any,
                 mask: torch.Tensor, config: PoseRefinement = PoseRefinement()) -> tuple[torch.Tensor, torch.Tensor]:
    """Returns (pose (B,24,3), transl (B,3)) corrected so that the body's silhouettes match ``mask``.

    ``pose (B,24,3)``, ``transl (B,3)``: the tracked values; ``betas (B or 1,K)`` or None; ``camera``
    of batch B or 1; ``mask (B,1,H,W)`` in [0, 1], the frames' foreground.
    The silhouette error is the mismatched area over the silhouette's length (a mean distance
    between the outlines) in image heights, so the prior weighs alike at every resolution."""
    with torch.no_grad():
        mask, camera, height = _working_view(body(pose=pose, betas=betas, transl=transl).vertices, camera, mask)
    d_pose = torch.zeros_like(pose, requires_grad=True)
    d_transl = torch.zeros_like(transl, requires_grad=True)
    optimizer = torch.optim.Adam([d_pose, d_transl], lr=config.lr)
    with torch.enable_grad():
        for _ in range(config.steps):
            vertices = body(pose=pose + d_pose, betas=betas, transl=transl + d_transl).vertices
            fragments = rasterize(vertices, body.faces, camera, mask.shape[-2:])
            silhouette = fragments.mask.unsqueeze(1).to(mask.dtype)
            band = _band(silhouette)
            motion = silhouette_motion(fragments, vertices, body.faces, camera, band)
            outline = band.sum().clamp_min(1) / 2  # the band is two pixels wide
            error = (_moved(silhouette, motion) - mask).abs().sum() / (outline * height)
            prior = d_pose.square().sum(dim=(1, 2)).mean() + 25.0 * d_transl.square().sum(dim=1).mean()
            d_pose.grad, d_transl.grad = torch.autograd.grad(error + config.prior * prior, [d_pose, d_transl])
            optimizer.step()
    return (pose + d_pose).detach(), (transl + d_transl).detach()
