"""Fine-tunes a trained avatar's renderer to honour try-on swaps, from the avatar's own renders (no captures).

A frozen copy of the renderer is the teacher: in random motion poses and views, the renderer must keep rendering
every identity as before and render texture-region mixes of two identities (`train.region_mix`) as one inside the
region and the other outside. Avatars trained with ``loss.region_mix`` honour swaps already; the fine-tune
tightens them (docs/demo/README.md) and teaches avatars trained without.
"""

from __future__ import annotations

import copy
import time
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from anr_studio.avatar.forward import body_maps
from anr_studio.fileio import shipped_path
from anr_studio.train.config import ADAM_BETAS
from anr_studio.train.region_mix import RegionMixer, region_masks, region_mix_loss

MIX_SHARE = 2
"""Half of each batch is rendered a second time with a mix: the renderer already renders every identity."""
MIX_WEIGHT = 300.0
"""The mixes' loss weight against 10 for keeping the renders: the demo avatar's mean try-on leakage (0.18 untuned)
was 0.16, 0.16, 0.15 and 0.14 after fine-tunes weighting the mixes 10, 30, 100 and 300, its held-out PSNR unchanged."""
MOTIONS = ("walk", "arms", "turn", "aist_demo")


def tune_for_tryon(avatar: Any, seconds: float, size: int = 256, batch: int = 16, lr: float = 1e-4,
                   log: Callable[[str], None] = print,
                   checkpoint: Callable[[torch.nn.Module, dict[str, float]], None] | None = None,
                   checkpoint_every_s: float = 600.0) -> dict[str, float]:
    """Returns {"steps", "keep", "mix"} after fine-tuning ``avatar``'s renderer in place for ``seconds``.

    ``checkpoint(renderer being tuned, {"steps", "seconds", "keep", "mix"})`` every ``checkpoint_every_s``;
    the avatar's renderer is updated when the time is up, and stays frozen (no gradients)."""
    device = avatar.device
    names = avatar.identities
    teacher = avatar.renderer
    student = copy.deepcopy(teacher).train().requires_grad_(True)
    textures = [avatar.texture(n)[None].clone() for n in names]
    clips = [np.load(shipped_path("resources", "motions", f"{m}.npz"))["poses"] for m in MOTIONS]
    poses = torch.from_numpy(np.concatenate([c.reshape(len(c), 24, 3) for c in clips]).astype(np.float32))
    mixer = RegionMixer(region_masks(avatar.body, int(textures[0].shape[-1])).to(device), len(names), seed=0)
    optimizer = torch.optim.Adam(student.parameters(), lr=lr, betas=ADAM_BETAS)
    rng = np.random.default_rng(0)
    start, step, keep, mix = time.perf_counter(), 0, torch.zeros(()), torch.zeros(())
    last_checkpoint = start
    while time.perf_counter() - start < seconds:
        identity = int(rng.integers(len(names)))
        camera = avatar.default_camera(size, names[identity],
                                       azimuth_deg=torch.as_tensor(rng.uniform(0, 360, batch), dtype=torch.float32),
                                       elevation_deg=torch.as_tensor(rng.uniform(-10, 25, batch), dtype=torch.float32))
        betas = avatar.identity_betas(names[identity])
        betas = None if betas is None else torch.from_numpy(np.repeat(betas[None], batch, 0)).to(device)
        maps = body_maps(avatar.body, poses[rng.integers(len(poses), size=batch)].to(device), betas, None,
                         camera.to(device), (size, size))
        p = {"uv": maps.uv, **mixer.inputs(step, identity, textures, maps.uv, MIX_SHARE)}
        neural = F.grid_sample(textures[identity].expand(batch, -1, -1, -1), maps.uv, mode="bilinear",
                               padding_mode="zeros", align_corners=False)
        with torch.no_grad():
            target = teacher(neural, maps.normals)
        out = student(neural, maps.normals)
        keep = (out.rgb - target.rgb).abs().mean()
        if out.mask_logits is not None:
            keep = keep + (torch.sigmoid(out.mask_logits) - torch.sigmoid(target.mask_logits)).abs().mean()

        def render(x: torch.Tensor, model: torch.nn.Module = student) -> Any:
            return model(x, maps.normals[:x.shape[0]])

        mix = region_mix_loss(render, textures[identity], target, p, render_target=lambda x: render(x, teacher))
        optimizer.zero_grad(set_to_none=True)
        (10 * keep + MIX_WEIGHT * mix).backward()
        optimizer.step()
        step += 1
        if step % 200 == 0:
            log(f"step {step}: keep {float(keep.detach()):.4f}, mix {float(mix.detach()):.4f}")
        if checkpoint is not None and time.perf_counter() - last_checkpoint >= checkpoint_every_s:
            last_checkpoint = time.perf_counter()
            checkpoint(student, {"steps": step, "seconds": last_checkpoint - start, "keep": float(keep.detach()),
                                 "mix": float(mix.detach())})
    with torch.no_grad():
        for dst, src in zip(teacher.parameters(), student.parameters()):
            dst.copy_(src)
    return {"steps": step, "keep": float(keep.detach()), "mix": float(mix.detach())}
