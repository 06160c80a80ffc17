"""Try-on fidelity and leakage of an avatar file: every identity's region swapped onto every other (CPU).

    python benchmarks/demo_tryon.py models/demo.anr --out tryon.json --sheet tryon_views.png
    python benchmarks/demo_tryon.py tuned.anr --reference models/demo.anr     # also: how far the renders moved

For each ordered pair (A, B) of the avatar's identities (or ``--pairs A:B ...``): region R (``--region``,
default ``upper``) of A's neural texture is swapped onto B (`anr_studio.avatar.tryon.swap_textures`);
A (in B's body shape), B and the swap are rendered in the same poses (``--poses``: the studio's
standing pose and motion frames) from ``--views`` cameras around the body (45° apart for 8, elevation
5°, the avatar's default framing) on white; S = B's coarse-body pixels whose UV lies in R. Per view
(`scores.tryon_scores`): fidelity = 1 − |mean colour of the swap in S − A's| / |B's − A's|
(target ≥ 0.85 in every view), leakage = mean |swap − B| outside S / mean |A − B| outside S (target
≤ 0.15). Prints one line per pair and the worst over all of them; writes the per-view figures as JSON.
``--reference OTHER.anr``: PSNR of each identity's renders against OTHER's in the same views (a fine-tuned
renderer should keep rendering every identity as before).
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from anr_studio.avatar import Avatar
from anr_studio.avatar.forward import body_maps
from anr_studio.avatar.tryon import region_mask, swap_textures
from anr_studio.cli.body import parse_pose
from anr_studio.components.pose_state import standing_pose
from anr_studio.metrics import psnr
from scores import tryon_scores

FIDELITY_TARGET, LEAKAGE_TARGET = 0.85, 0.15


def parse_poses(names: list[str]) -> dict[str, np.ndarray]:
    """Returns {name: pose (24,3)} for ``standing`` and MOTION:FRAME names."""
    return {n: standing_pose() if n == "standing" else parse_pose(n) for n in names}


def cameras(avatar: Avatar, identity: str, views: int, size: int):
    """Returns a PerspectiveCamera of batch ``views``: azimuths 360/views apart, elevation 5°, framing ``identity``."""
    azimuth = torch.arange(views, dtype=torch.float32) * (360.0 / views)
    return avatar.default_camera(size, identity, azimuth_deg=azimuth, elevation_deg=torch.full((views,), 5.0))


def region_pixels(avatar: Avatar, pose: np.ndarray, betas: np.ndarray | None, camera, size: int, uv_mask: np.ndarray) -> np.ndarray:
    """Returns S (V,H,W) bool: the body's pixels (in ``pose``, shape ``betas``) whose UV lies in ``uv_mask``."""
    n = camera.batch_size
    p = torch.from_numpy(np.repeat(pose[None], n, 0))
    b = None if betas is None else torch.from_numpy(np.repeat(np.asarray(betas, np.float32)[None], n, 0))
    maps = body_maps(avatar.body, p, b, None, camera, (size, size))
    m = torch.from_numpy(uv_mask)[None, None].expand(n, -1, -1, -1)
    inside = F.grid_sample(m, maps.uv.float(), mode="bilinear", padding_mode="zeros", align_corners=False)
    return ((inside[:, 0] > 0.5) & (maps.mask[:, 0] > 0.5)).numpy()


def crop(images: list[np.ndarray], masks: list[np.ndarray], pad: int = 6) -> list[np.ndarray]:
    """Returns ``images`` cut to the box around all ``masks`` (> 0.5) with ``pad`` pixels around it."""
    union = np.any([m > 0.5 for m in masks], axis=0)
    ys, xs = np.nonzero(union)
    if not len(ys):
        return images
    h, w = union.shape
    y0, y1, x0, x1 = max(ys.min() - pad, 0), min(ys.max() + pad + 1, h), max(xs.min() - pad, 0), min(xs.max() + pad + 1, w)
    return [im[y0:y1, x0:x1] for im in images]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("avatar", help="the .anr file to measure")
    parser.add_argument("--pairs", nargs="*", metavar="A:B", help="swap A's region onto B (default: every ordered pair)")
    parser.add_argument("--region", default="upper", help="try-on region preset (default: upper)")
    parser.add_argument("--poses", nargs="+", default=["standing", "walk:10", "aist_demo:40"],
                        help="standing (the studio's pose) or MOTION:FRAME (default: standing walk:10 aist_demo:40)")
    parser.add_argument("--views", type=int, default=8, help="cameras around the body (default 8, 45° apart)")
    parser.add_argument("--size", type=int, default=256, help="render size (default 256)")
    parser.add_argument("--reference", help="another .anr (the avatar before fine-tuning): PSNR of the renders against its")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--out", help="write the per-view figures here (JSON)")
    parser.add_argument("--sheet", help="write B | A | swap of every pair (first pose; front, then side view) here (PNG)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    avatar = Avatar.load(args.avatar)
    names = avatar.identities
    pairs = [tuple(p.split(":", 1)) for p in args.pairs] if args.pairs else list(itertools.permutations(names, 2))
    poses = parse_poses(args.poses)
    size = args.size
    texture_size = int(avatar.texture(names[0]).shape[-1])
    uv_mask = region_mask(avatar.body, args.region, texture_size)
    reference = Avatar.load(args.reference) if args.reference else None

    result: dict = {"avatar": str(args.avatar), "sha256": hashlib.sha256(Path(args.avatar).read_bytes()).hexdigest(),
                    "region": args.region, "poses": list(poses), "views": args.views, "size": size, "pairs": {}}
    sheet_rows, keep = [], {}
    for b_name in sorted({b for _, b in pairs}, key=names.index):
        betas_b = avatar.identity_betas(b_name)
        cam = cameras(avatar, b_name, args.views, size)
        for pose_name, pose in poses.items():
            batch = np.repeat(pose[None], args.views, 0)
            img_b, mask_b = avatar.render(b_name, batch, cam, size=size)
            if reference is not None:
                ref_b, _ = reference.render(b_name, batch, cam, size=size)
                keep.setdefault(b_name, []).extend(psnr(x, y) for x, y in zip(img_b, ref_b))
            s = region_pixels(avatar, pose, betas_b, cam, size, uv_mask)
            for a_name in [a for a, b in pairs if b == b_name]:
                img_a, mask_a = avatar.render(a_name, batch, cam, betas=betas_b, size=size)
                swap = f"{a_name}>{b_name}"
                avatar.add_identity("try-on", swap_textures(avatar.texture(a_name), avatar.texture(b_name), uv_mask), betas_b)
                img_s, mask_s = avatar.render("try-on", batch, cam, size=size)
                entry = result["pairs"].setdefault(swap, {"views": []})
                for v in range(args.views):
                    scores = tryon_scores(img_s[v], img_a[v], img_b[v], s[v])
                    entry["views"].append({"pose": pose_name, "azimuth": v * 360.0 / args.views, **scores})
                if pose_name == next(iter(poses)):
                    sheet_rows.append([im for v in sorted({0, args.views // 4}) for im in
                                       crop([img_b[v], img_a[v], img_s[v]], [mask_b[v], mask_a[v], mask_s[v]])])
    worst_f, worst_l, all_l = [], [], []
    for swap, entry in result["pairs"].items():
        fid = [v["fidelity"] for v in entry["views"] if v["fidelity"] is not None]
        leak = [v["leakage"] for v in entry["views"] if v["leakage"] is not None]
        entry.update(fidelity_min=min(fid), fidelity_mean=float(np.mean(fid)), leakage_mean=float(np.mean(leak)),
                     leakage_max=max(leak), views_passing=sum(f >= FIDELITY_TARGET for f in fid) / len(fid))
        worst_f.append(entry["fidelity_min"])
        worst_l.append(entry["leakage_max"])
        all_l += leak
        print(f"{swap:>24}: fidelity min {entry['fidelity_min']:.2f} mean {entry['fidelity_mean']:.2f} "
              f"({100 * entry['views_passing']:.0f} % of views >= {FIDELITY_TARGET}), "
              f"leakage mean {entry['leakage_mean']:.2f} max {entry['leakage_max']:.2f}")
    result["overall"] = {"fidelity_min": min(worst_f), "fidelity_mean": float(np.mean([e["fidelity_mean"] for e in result["pairs"].values()])),
                         "leakage_mean": float(np.mean(all_l)), "leakage_max": max(worst_l),
                         "meets_targets": min(worst_f) >= FIDELITY_TARGET and max(worst_l) <= LEAKAGE_TARGET}
    if keep:
        result["psnr_vs_reference"] = {n: float(np.mean(v)) for n, v in keep.items()}
        print("renders vs reference, PSNR dB: " + ", ".join(f"{n} {v:.1f}" for n, v in result["psnr_vs_reference"].items()))
    o = result["overall"]
    result["seconds"] = time.perf_counter() - t0
    print(f"all pairs: fidelity min {o['fidelity_min']:.2f} mean {o['fidelity_mean']:.2f}, leakage mean "
          f"{o['leakage_mean']:.2f} max {o['leakage_max']:.2f}; targets (>= {FIDELITY_TARGET} in every view, "
          f"<= {LEAKAGE_TARGET}) {'met' if o['meets_targets'] else 'not met'} ({result['seconds']:.0f} s)")
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1))
    if args.sheet and sheet_rows:
        from anr_studio.avatar.video import write_png

        height = max(max(im.shape[0] for im in row) for row in sheet_rows)
        lines = []
        for row in sheet_rows:
            padded = [np.pad(im, ((0, height - im.shape[0]), (2, 2), (0, 0)), constant_values=255) for im in row]
            lines.append(np.concatenate(padded, 1))
        width = max(line.shape[1] for line in lines)
        write_png(args.sheet, np.concatenate([np.pad(line, ((0, 4), (0, width - line.shape[1]), (0, 0)),
                                                     constant_values=255) for line in lines], 0))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
