"""Fine-tunes an avatar's renderer so try-on swaps are honoured, from the avatar's own renders (no captures).

    python scripts/localize_tryon.py models/demo.anr --out demo_tryon.anr --seconds 90 --device cuda

A frozen copy of the renderer is the teacher: the renderer keeps rendering every identity as before
and learns to render texture-region mixes of two identities as one inside the region and the other
outside (`anr_studio.train.region_mix.localize_renderer`). Avatars trained with `loss.region_mix`
(every preset's default) need none of this; it serves avatars trained before.
"""

from __future__ import annotations

import argparse
import sys

from anr_studio.avatar import Avatar
from anr_studio.train.region_mix import localize_renderer


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("avatar", help="the .anr file to fine-tune")
    parser.add_argument("--out", required=True, help="where to write the fine-tuned avatar")
    parser.add_argument("--seconds", type=float, default=90.0, help="fine-tuning time")
    parser.add_argument("--size", type=int, default=256, help="render size of the fine-tuning views")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    avatar = Avatar.load(args.avatar, device=args.device)
    result = localize_renderer(avatar, args.seconds, args.size, args.batch)
    avatar.to("cpu").save(args.out)
    print(f"{result['steps']} steps (last: keep {result['keep']:.4f}, mix {result['mix']:.4f}); wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
