"""Fine-tunes an avatar's renderer so try-on swaps are honoured, from the avatar's own renders (no captures).

    python scripts/localize_tryon.py models/demo.anr --out demo_tryon.anr --seconds 90 --device cuda

A long run (on the CPU) writes ``--out`` every ``--save-every`` seconds as it goes, so it can be
measured (benchmarks/demo_tryon.py) and stopped at any time.

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
    parser.add_argument("--width", type=int, help="keep the middle WIDTH columns of the views (where the body is)")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--resume", metavar="TUNED", help="begin from this earlier result of the script (same avatar)")
    parser.add_argument("--lr", type=float, default=1e-4, help="Adam learning rate of the renderer")
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
                               checkpoint_every_s=args.save_every, initial=initial, width=args.width)
    avatar.to("cpu").save(args.out)
    print(f"{result['steps']} steps (last: keep {result['keep']:.4f}, mix {result['mix']:.4f}); wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
