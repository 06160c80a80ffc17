"""Sub-commands `capture info`, `masks`, `import` and `keyframes`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from anr_studio.capture import Capture


def summary(cap: Capture) -> str:
    """Returns a multi-line human summary of a capture (what `anr-studio capture info` prints)."""
    h, w = cap.image_size
    if cap.keyframes is None:
        keys = "none"
    else:
        cov = "" if cap.keyframe_coverage is None or not len(cap.keyframe_coverage) else (
            f" (coverage {float(cap.keyframe_coverage[-1]):.2f})")
        keys = f"{len(cap.keyframes)}{cov}"
    split = (f"train {len(cap.split('train'))}, test {len(cap.split('test'))}" if cap.has_split
             else f"none (all {len(cap)} frames train)")
    lines = [
        ("capture", str(cap.path)),
        ("identity", cap.identity),
        ("frames", str(len(cap))),
        ("resolution", f"{w}x{h} (W x H)"),
        ("fps", f"{cap.fps:g}"),
        ("duration", f"{len(cap) / cap.fps:.1f} s"),
        ("masks", "yes" if cap.has_masks else "no (run `anr-studio masks`)"),
        ("cameras", "static" if cap.static_camera else "per frame"),
        ("keyframes", keys),
        ("split", split),
        ("body model", cap.body_model_id),
        ("betas", str(len(cap.betas))),
    ]
    if cap.truth_names:
        lines.append(("truth", ", ".join(cap.truth_names)))
    return "\n".join(f"{k:<11} {v}" for k, v in lines)


def _info(args: argparse.Namespace) -> int:
    from anr_studio.capture import Capture

    print(summary(Capture(args.capture)))
    return 0


def _check(args: argparse.Namespace) -> int:
    import numpy as np

    from anr_studio.capture import Capture
    from anr_studio.capture.check import capture_body, check_alignment, overlay_frames, tile_grid
    from anr_studio.fileio import check_output

    if args.out is not None:
        check_output(args.out, (".png", ".mp4"), inputs=[args.capture], overwrite=args.overwrite)
    cap = Capture(args.capture)
    body = capture_body(cap, args.body_model)
    report = check_alignment(cap, body)
    print(report.summary())
    if args.out is None:
        return 0
    from anr_studio.avatar.video import write_png, write_video

    if args.out.lower().endswith(".mp4"):
        write_video(args.out, overlay_frames(cap, body, report=report), cap.fps)
    else:
        picks = np.unique(np.linspace(0, len(cap) - 1, min(8, len(cap))).round().astype(int))
        write_png(args.out, tile_grid(list(overlay_frames(cap, body, picks, report)), 4, height=360))
    print(f"wrote {args.out}")
    return 0


def _masks(args: argparse.Namespace) -> int:
    from anr_studio.capture.masks import masks_into

    report = masks_into(args.capture, args.method, segmenter=args.segmenter, overwrite=args.overwrite,
                        refine=not args.no_refine, progress=not args.quiet)
    print(report)
    return 0


def _import(args: argparse.Namespace) -> int:
    from anr_studio.capture.images import VIDEO_EXTS
    from anr_studio.capture.importers import import_capture
    from anr_studio.errors import AnrError
    from anr_studio.fileio import check_output

    check_output(args.out, (".h5",), inputs=[args.src, args.poses, args.masks, args.background, args.body_model],
                 overwrite=args.overwrite)
    if args.poses is None and args.format is None and Path(args.src).suffix.lower() in VIDEO_EXTS:
        from anr_studio.capture.video_fit.pipeline import video_to_capture

        given = [name for name in ("masks", "background", "body_model", "person", "view") if getattr(args, name) is not None]
        if given:
            option = "--" + given[0].replace("_", "-")
            raise AnrError(f"{args.src}: {option} applies to an import with fits, expected no {option} with a video "
                           "alone (its body and masks are fitted to the video), or --poses with the fits")

        cap = video_to_capture(args.src, args.out, identity=args.identity, fps=args.fps, height=args.height)
    else:
        if args.height is not None:
            raise AnrError(f"{args.src}: --height sizes the body fitted to a video without fits, expected no "
                           "--height with SMPL fits (their shape comes with them)")
        cap = import_capture(args.src, args.out, poses=args.poses, masks=args.masks, background=args.background,
                             identity=args.identity, fps=args.fps, body_model=args.body_model, fmt=args.format,
                             person=args.person, view=args.view)
    print(summary(cap))
    from anr_studio.capture.check import capture_body, check_alignment

    report = check_alignment(cap, capture_body(cap, args.body_model))
    if report.poor:
        print(f"warning: the body is off the person ({report.summary()}); see `anr-studio capture check {args.out} --out overlay.png`")
    elif len(report.iou):
        print(f"check      {report.summary()}")
    return 0


def _keyframes(args: argparse.Namespace) -> int:
    import os

    import torch

    from anr_studio.capture.keyframes import select_keyframes

    torch.set_num_threads(max(1, min(torch.get_num_threads(), os.cpu_count() or 1)))
    body = None
    if args.body_model is not None:
        from anr_studio.body import load_body

        body = load_body(args.body_model)
    sel = select_keyframes(args.capture, args.fraction, grid=args.grid, body=body, write=not args.dry_run)
    curve = " ".join(f"{c:.3f}" for c in sel.coverage)
    where = "not written (--dry-run)" if args.dry_run else f"written to {args.capture}"
    print(f"{len(sel.indices)} keyframes (budget {sel.budget}), {where}: {' '.join(str(i) for i in sel.indices)}")
    print(f"UV texel coverage after each: {curve}")
    if len(sel.silhouette_coverage):
        print(f"silhouette coverage: {float(sel.silhouette_coverage[-1]):.3f}")
    return 0


IMPORT_HELP = """\
Layouts:
  (a) a folder:  SRC/images/*.png|jpg (sorted by name), optional SRC/masks/* (same names or
      order; 0 = background, 255 = person), optional SRC/background.png, and the body/camera
      parameters in SRC/metadata.json or one .npz in SRC (or --poses FILE):
        poses  (N,72)   SMPL axis-angle, 24 joints in SMPL order (or (N,24,3))
        trans  (N,3)    root translation in metres (also "transl"; default zeros)
        betas  (10,) or (N,10)   shape coefficients (per frame: the mean is stored)
        K      (3,3) or (N,3,3)  intrinsics in pixels
        E      (4,4) or (N,4,4)  world-to-camera extrinsics, OpenCV (x right, y down, z forward)
        fps    scalar (optional, default 30)
      metadata.json holds the same keys as nested lists, or a "frames" list of objects
      {"file": "000.png", "poses": [72], "trans": [3], "K": [[3x3]], "E": [[4x4]]} plus top-level
      "betas".
  (b) a video file alone (.mp4/.avi/.mov, e.g. from a phone): one person in view throughout;
      MediaPipe's keypoints and person masks, then the body fitted to the whole clip
      (pip install 'anr-studio[video]'; optional --height; docs/video_import.md).
  (c) a video file plus --poses FILE.npz in the layout of (a) (one row per video frame);
      optional --masks DIR or VIDEO.
  The parameters are SMPL's, from any SMPL fitter: they are converted to the built-in body
  (pelvis convention, a matching shape, the rest-pose bones; docs/capture_import.md), unless
  --body-model names the SMPL model file they were fitted with (then stored as they are).
  The background plate is --background FILE, SRC/background.png, or the per-pixel median of
  the frames. A failed import leaves no output file.

Tools' layouts (detected; --format NAME when a layout is ambiguous):
  people-snapshot  SRC = an InstantAvatar / GART folder (cameras.npz, poses.npz, images/,
                   masks/*.npy) or a People-Snapshot release folder (camera.pkl,
                   reconstructed_poses.hdf5, masks.hdf5, the .mp4; undistorted on import)
  phalp            SRC = the video or frames, --poses outputs/results/NAME.pkl (4D-Humans, PHALP)
  romp             SRC = the video or frames, --poses video_results.npz or the folder of
                   per-frame .npz (ROMP, BEV)
  easymocap        SRC = an EasyMocap folder (intri.yml, extri.yml, images/CAM/, output/smpl/*.json);
                   --view CAM (default the first); frames and masks undistorted
  zju-mocap        SRC = a ZJU-MoCap folder (annots.npy, params/*.npy, mask/, mask_cihp/);
                   --view INDEX or camera folder (default 0); undistorted
  wham             SRC = the video, --poses wham_output.pkl
  glamr            SRC = the video, --poses grecon/NAME_seed1.pkl
  smpler-x         SRC = the frames, --poses SMPLer-X's output folder (smplx/, meta/)
  Pickled results are read without running any code they hold (numpy arrays and plain
  containers only). --person picks the track or person when the results hold several
  (default: the one seen in most frames). Conventions: docs/capture_import.md.
"""


def register(sub: argparse._SubParsersAction) -> None:
    """Adds `capture`, `masks`, `import` and `keyframes` to the CLI."""
    from anr_studio.capture.keyframes import DEFAULT_FRACTION, GRID, MIN_KEYFRAMES
    from anr_studio.cli.argtypes import count, number

    p = sub.add_parser("capture", help="inspect capture files (.h5)", description="Inspect a capture file (.h5): "
                       "info prints its summary, check measures how well the coarse body fits the person.")
    csub = p.add_subparsers(dest="capture_command", metavar="ACTION", required=True)
    info = csub.add_parser("info", help="print a summary of a capture; exit 2 with one line if it is invalid",
                           description="Print a capture's identity, frames, resolution, frame rate, masks, cameras, "
                           "keyframes, split and body model; a file that is not a valid capture gets one line saying "
                           "why, and exit code 2.")
    info.add_argument("capture", help="capture file (.h5)")
    info.set_defaults(func=_info)
    chk = csub.add_parser("check", help="how well the coarse body fits the person: per-frame IoU against the masks, "
                          "a verdict, and an overlay of the body's outline and skeleton",
                          description="Rasterizes the coarse body of every frame, compares it with the mask (IoU) "
                          "and prints the median, the frames below 0.5 and a verdict (good, fair, poor). The coarse "
                          "body has no clothes or hair: a good fit scores about 0.6 to 0.9.")
    chk.add_argument("capture", help="capture file (.h5)")
    chk.add_argument("--out", help="overlay to write: .png (8 frames) or .mp4 (every frame)")
    chk.add_argument("--body-model", metavar="PATH", help="the body model file the capture names, if not the built-in body")
    chk.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    chk.set_defaults(func=_check)

    m = sub.add_parser("masks", help="extract foreground masks from the background plate into a capture",
                       description="Adds soft foreground masks (0..255) to a capture that has none: colour "
                       "difference to the background plate, morphological clean-up, the largest components, "
                       "and GrabCut in a band around the boundary. The file is rewritten atomically.")
    m.add_argument("capture", help="capture file (.h5)")
    m.add_argument("--overwrite", action="store_true", help="replace masks the capture already has")
    m.add_argument("--no-refine", action="store_true", help="skip the GrabCut boundary refinement (faster)")
    m.add_argument("--method", choices=("plate", "learned", "auto"), default="auto",
                   help="plate: difference to the background plate; learned: a person segmenter; auto (default): "
                   "the segmenter when the camera moves or the plate shows the person, else the plate")
    m.add_argument("--segmenter", metavar="FILE", help="a person segmenter file (.safetensors) instead of MediaPipe's "
                   "(pip install 'anr-studio[video]')")
    m.add_argument("--quiet", action="store_true", help="no progress bar")
    m.set_defaults(func=_masks)

    i = sub.add_parser("import", help="import a video (the body fitted to it) or a folder or video with SMPL poses as a capture",
                       description="Builds a capture file (.h5) from a folder or a video.", epilog=IMPORT_HELP)
    i.add_argument("src", help="a folder (images/, masks/, metadata.json or .npz) or a video file")
    i.add_argument("--out", required=True, help="capture file to write (.h5)")
    i.add_argument("--poses", help="the fits: an SMPL .npz (overrides the folder's parameters) or a tool's result file "
                   "or folder (see below); a video without poses is fitted: "
                   "keypoints, body fit and masks from MediaPipe (pip install 'anr-studio[video]')")
    i.add_argument("--masks", help="masks folder or mask video (overrides SRC/masks)")
    i.add_argument("--background", help="background plate image (default: SRC/background.png or the median)")
    i.add_argument("--identity", help="name of the person (default: the source's name)")
    i.add_argument("--fps", type=number(0, 1000, open_low=True), help="frame rate (default: the video's, the parameters' or 30)")
    i.add_argument("--body-model", metavar="SMPL_FILE", help="the SMPL-format model file (.npz/.pkl) the fits were "
                   "made with: the capture names it and keeps SMPL's parameters (default: convert to the built-in body)")
    i.add_argument("--format", metavar="NAME", help="the layout of SRC and --poses when detection is ambiguous: "
                   "folder, people-snapshot, phalp, romp, easymocap, zju-mocap, wham, glamr, smpler-x (default: detected)")
    i.add_argument("--person", type=count(0, 1_000_000), metavar="ID",
                   help="the track or person to import when the results hold several (default: the one seen most)")
    i.add_argument("--view", metavar="CAMERA", help="the camera to import from a multi-camera dataset (default: the first)")
    i.add_argument("--height", type=number(0.5, 2.6), metavar="METRES",
                   help="a video without fits: the person's standing height, which sets the fitted body's size "
                        "(default: near an adult's average, 1.70; one video cannot tell a tall person far away "
                        "from a short one nearby)")
    i.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    i.set_defaults(func=_import)

    k = sub.add_parser("keyframes", help="pick keyframes that cover the body (paper 3.4) and store them in the capture",
                       description="Keyframe selection (ANR paper, section 3.4): training frames that together see "
                       "the whole body.")
    k.add_argument("capture", help="capture file (.h5)")
    k.add_argument("--fraction", type=number(0, 1, open_low=True), default=DEFAULT_FRACTION,
                   help=f"keyframe budget as a share of the training frames (default {DEFAULT_FRACTION}; "
                   f"at least {MIN_KEYFRAMES} keyframes)")
    k.add_argument("--grid", type=count(8, 2048), default=GRID, help=f"UV grid size for texel coverage (default {GRID})")
    k.add_argument("--body-model", "--body", metavar="PATH", help="the body model file the capture names (SMPL-format "
                   "or a saved body), for captures not tracked with the built-in body")
    k.add_argument("--dry-run", action="store_true", help="print the selection without writing it")
    k.set_defaults(func=_keyframes)
