"""Fine-tunes an avatar's renderer so try-on swaps are honoured, from the avatar's own renders (no captures).

    python scripts/localize_tryon.py models/demo.anr --out demo_tryon.anr --seconds 90 --device cuda

A long run (on the CPU) writes ``--out`` every ``--save-every`` seconds as it goes, so it can be
measured (benchmarks/demo_tryon.py) and stopped at any time.

A frozen copy of the renderer is the teacher: the renderer keeps rendering every identity as before
and learns to render texture-region mixes of two identities as one inside the region and the other
outside (`localize_renderer`). Avatars trained with `loss.region_mix` (every preset's default) honour
swaps already; a fine-tune after training tightens them (the demo avatar's worst-view fidelity 0.78 -> 0.89,
leakage 0.18 -> 0.14, held-out PSNR unchanged: docs/demo/README.md), and it teaches avatars trained without.
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from anr_studio.avatar import Avatar
from anr_studio.avatar.forward import body_maps
from anr_studio.fileio import shipped_path
from anr_studio.train.region_mix import RegionMixer, region_masks, region_mix_loss

LOCALIZE_MIX_SHARE = 2
"""Fine-tuning mixes half the batch: the renderer already renders every identity, the mixes are what it learns."""


def localize_renderer(avatar: Any, seconds: float, size: int = 256, batch: int = 8, lr: float = 1e-4,
                      log: Callable[[str], None] = print,
                      checkpoint: Callable[[torch.nn.Module, dict[str, float]], None] | None = None,
                      checkpoint_every_s: float = 600.0, initial: torch.nn.Module | None = None,
                      width: int | None = None, mix_weight: float = 300.0) -> dict[str, float]:
    """Returns {"steps", "keep", "mix"} after fine-tuning ``avatar``'s renderer in place to honour try-on swaps.

    No captures: a frozen copy (the teacher) renders each identity in random motion poses and views; the
    renderer must keep its renders and render region mixes as A inside, B outside. ``checkpoint(renderer,
    stats)`` every ``checkpoint_every_s``; ``initial``: the weights to begin from; ``width`` < ``size`` keeps
    the middle columns of the frame; ``mix_weight``: the mixes' loss weight against 10 for keeping the renders.
    """
    device = avatar.device
    names = avatar.identities
    teacher = avatar.renderer
    student = copy.deepcopy(teacher if initial is None else initial).train().requires_grad_(True)
    width = size if width is None else min(int(width), size)
    textures = [avatar.texture(n)[None].clone() for n in names]
    holders = [type("Texture", (), {"texture": t})() for t in textures]
    clips = [np.load(shipped_path("resources", "motions", f"{m}.npz"))["poses"] for m in ("walk", "arms", "turn", "aist_demo")]
    poses = torch.from_numpy(np.concatenate([c.reshape(len(c), 24, 3) for c in clips]).astype(np.float32))
    mixer = RegionMixer(region_masks(avatar.body, int(textures[0].shape[-1])).to(device), len(names), seed=0)
    optimizer = torch.optim.Adam(student.parameters(), lr=lr, betas=(0.5, 0.999))
    rng = np.random.default_rng(0)
    start, step, keep, mix = time.perf_counter(), 0, torch.zeros(()), torch.zeros(())
    last_checkpoint = start
    while time.perf_counter() - start < seconds:
        identity = int(rng.integers(len(names)))
        camera = avatar.default_camera(size, names[identity],
                                       azimuth_deg=torch.as_tensor(rng.uniform(0, 360, batch), dtype=torch.float32),
                                       elevation_deg=torch.as_tensor(rng.uniform(-10, 25, batch), dtype=torch.float32))
        if width < size:
            K = camera.K.clone()
            K[:, 0, 2] -= (size - width) / 2
            camera = type(camera)(K, camera.R, camera.t)
        betas = avatar.identity_betas(names[identity])
        betas = None if betas is None else torch.from_numpy(np.repeat(betas[None], batch, 0)).to(device)
        maps = body_maps(avatar.body, poses[rng.integers(len(poses), size=batch)].to(device), betas, None,
                         camera.to(device), (size, width))
        p = {"uv": maps.uv, **mixer.inputs(step, identity, holders, maps.uv, LOCALIZE_MIX_SHARE)}
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
        (10 * keep + mix_weight * mix).backward()
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("avatar", help="the .anr file to fine-tune")
    parser.add_argument("--out", required=True, help="where to write the fine-tuned avatar")
    parser.add_argument("--seconds", type=float, default=90.0, help="fine-tuning time")
    parser.add_argument("--size", type=int, default=256, help="render size of the fine-tuning views")
    parser.add_argument("--width", type=int, help="keep the middle WIDTH columns of the views (where the body is)")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--resume", metavar="TUNED", help="begin from this earlier result of the script (same avatar)")
    parser.add_argument("--lr", type=float, default=1e-4, help="Adam learning rate of the renderer")
    parser.add_argument("--mix-weight", type=float, default=300.0,
                        help="weight of the region mixes' loss against 10 for keeping every identity's renders")
    parser.add_argument("--save-every", type=float, default=600.0, help="seconds between intermediate writes of --out")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    avatar = Avatar.load(args.avatar, device=args.device)
    snapshot = Avatar.load(args.avatar)
    initial = Avatar.load(args.resume, device=args.device).renderer if args.resume else None

    def save(renderer, progress: dict) -> None:
        snapshot.renderer.load_state_dict({k: v.detach().cpu() for k, v in renderer.state_dict().items()})
        snapshot.save(args.out)
        print(f"{progress['steps']} steps in {progress['seconds']:.0f} s (keep {progress['keep']:.4f}, "
              f"mix {progress['mix']:.4f}); wrote {args.out}", flush=True)

    result = localize_renderer(avatar, args.seconds, args.size, args.batch, args.lr, checkpoint=save,
                               checkpoint_every_s=args.save_every, initial=initial, width=args.width,
                               mix_weight=args.mix_weight)
    avatar.to("cpu").save(args.out)
    print(f"{result['steps']} steps (last: keep {result['keep']:.4f}, mix {result['mix']:.4f}); wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
