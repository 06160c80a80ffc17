"""Sub-command `anr-studio synth`: write a synthetic capture (and optionally its contact sheet)."""

from __future__ import annotations

import argparse
import json

from anr_studio.cli.argtypes import count, number, progress_bar, say


def _run(args: argparse.Namespace) -> int:
    from anr_studio.capture.synth.generate import SynthConfig, generate_capture
    from anr_studio.fileio import check_output

    inputs = [p for p in (args.motion, args.fine_body) if p]
    check_output(args.out, (".h5",), inputs=inputs, overwrite=args.overwrite)
    if args.contact_sheet:
        check_output(args.contact_sheet, (".png",), inputs=[*inputs, args.out], overwrite=args.overwrite,
                     option="--contact-sheet")

    cfg = SynthConfig(seed=args.seed, frames=args.frames, size=args.size, motion=args.motion,
                      tracking_noise=args.tracking_noise, transl_noise=args.transl_noise, views=args.views)

    bar = progress_bar(args.frames, "synth", "frame", args.quiet)
    try:
        report = generate_capture(args.out, cfg, fine_body_path=args.fine_body, progress=lambda i, n: bar.update(i - bar.n))
    finally:
        bar.close()
    if args.json:
        print(json.dumps(report, indent=1))
    say(f"wrote {args.out}: identity {report['identity']}, {report['frames']} frames of {args.size}x{args.size} "
        f"({report['train']} train, {report['test']} test)")
    if args.contact_sheet:
        from anr_studio.avatar.video import write_png
        from anr_studio.capture.check import contact_sheet

        write_png(args.contact_sheet, contact_sheet(args.out, count=8, columns=4))
        say(f"wrote {args.contact_sheet}")
    return 0


def register(subparsers) -> None:
    """Adds `anr-studio synth --out cap.h5 [--seed S] [--frames N] [--size H] [--motion M] ...`."""
    p = subparsers.add_parser(
        "synth", help="write a synthetic capture: a clothed person who is not the coarse body, tracked with noise",
        description="Write a synthetic capture. The person (a fine body with clothes and hair) differs from the "
        "coarse body stored in the file, and the stored body parameters carry tracking noise; the truth is "
        "stored under truth/.")
    p.add_argument("--out", required=True, help="capture file to write (.h5)")
    p.add_argument("--seed", type=count(0, 2**32 - 1), default=0, help="identity seed: body shape, clothes, colours, hair (default 0)")
    p.add_argument("--frames", type=count(1, 100_000), default=120, help="number of frames (default 120)")
    p.add_argument("--size", type=count(16, 4096, "size"), default=256, help="image height and width in pixels (default 256)")
    p.add_argument("--motion", default="walk",
                   help="built-in motion (walk, turn, arms, dance), an SMPL .npz or a .bvh file (default walk)")
    p.add_argument("--tracking-noise", type=number(0, 180), default=3.0, metavar="DEG",
                   help="RMS per-joint rotation noise of the stored poses in degrees (default 3)")
    p.add_argument("--transl-noise", type=number(0, 10), default=None, metavar="M",
                   help="RMS translation noise in metres (default 0.004 per degree of rotation noise)")
    p.add_argument("--views", type=count(1, 360), default=1, help="cameras placed around the person; frames cycle through them")
    p.add_argument("--fine-body", default=None, help="fine body file for the person (default: the built-in one)")
    p.add_argument("--contact-sheet", default=None, metavar="PNG",
                   help="also write a contact sheet (frames with the coarse body's outline)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="also print a summary as JSON on stdout (identity, split sizes, "
                   "timings, the person's clothes and colours)")
    p.add_argument("--overwrite", action="store_true", help="replace --out (and --contact-sheet) if they exist")
    p.set_defaults(func=_run)
