"""Sub-commands of the avatar applications: `render` (images, orbits, animations), `swap` (virtual
try-on), `tune-tryon` (a renderer that honours swaps better), `fit` (a new identity with the renderer frozen) and
`export` (posed mesh, texture pictures, UV masks)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from anr_studio.cli.argtypes import add_device, count, device, image_side, number, progress_bar, say
from anr_studio.cli.body import POSE_HELP, parse_pose
from anr_studio.errors import AnrError
from anr_studio.fileio import avatar_file
from anr_studio.train.callbacks import FIT_STEPS

COLOURS = {"white": (255, 255, 255), "black": (0, 0, 0), "grey": (128, 128, 128), "gray": (128, 128, 128),
           "green": (0, 177, 64)}


def _inputs(args: argparse.Namespace) -> list[str | None]:
    """Returns the files a command reads (none of them may be an output)."""
    names = ("avatar", "body_model", "motion", "pose", "background", "mask", "capture")
    return [v for v in (getattr(args, n, None) for n in names) if v and Path(v).exists()]


def _output(args: argparse.Namespace, path: str | None, kinds: tuple[str, ...], option: str = "--out",
            edits_avatar: bool = False, overwrite: bool = False) -> Path | None:
    """Returns ``path`` checked as an output (see fileio.check_output); ``edits_avatar`` lets it be the input avatar."""
    if path is None:
        return None
    from anr_studio.fileio import check_output

    inputs = _inputs(args)
    same = edits_avatar and Path(path).exists() and Path(path).resolve() == Path(args.avatar).resolve()
    if same:  # an in-place edit of the avatar (it still holds every identity it had)
        inputs = [i for i in inputs if i != args.avatar]
    return check_output(path, kinds, inputs=inputs, overwrite=args.overwrite or overwrite or same, option=option)


def _load(args: argparse.Namespace):
    from anr_studio.avatar.avatar import Avatar

    return Avatar.load(args.avatar, device=device(args.device), body_path=args.body_model)


def parse_background(text: str, size: tuple[int, int]) -> Any:
    """Returns a colour (3,), an image (H,W,3) uint8 or None (transparent) from --background's text."""
    t = text.strip().lower()
    if t in ("transparent", "none", "alpha"):
        return None
    if t in COLOURS:
        return COLOURS[t]
    if t.startswith("#") and len(t) == 7:
        try:
            return tuple(int(t[i:i + 2], 16) for i in (1, 3, 5))
        except ValueError:
            pass
    parts = t.split(",")
    if len(parts) == 3 and all(p.strip().isdigit() for p in parts):
        return tuple(min(255, int(p)) for p in parts)
    path = Path(text)
    if path.is_file():
        import cv2

        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is None:
            raise AnrError(f"--background {text}: cannot be read as an image, expected a PNG or JPEG")
        return cv2.cvtColor(cv2.resize(img, (size[1], size[0]), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
    problem = "file not found" if path.suffix else "unknown colour"
    raise AnrError(f"--background {text}: {problem}, expected white, black, grey, transparent, #RRGGBB, R,G,B or an image file")


def _run_render(args: argparse.Namespace) -> int:
    from anr_studio.avatar.animate import _identities, motion_frames, orbit_frames
    from anr_studio.avatar.video import write_frames, write_png

    sequence = args.orbit is not None or args.motion is not None
    _output(args, args.out, (".mp4", "") if sequence else (".png",))
    avatar = _load(args)
    # On CUDA the renderer replays as a CUDA graph per image size (no effect on the CPU).
    avatar.tune(bf16=args.bf16, channels_last=args.bf16, graphs=True)
    size = (args.size, args.size) if args.width is None else (args.size, args.width)
    names = _identities(avatar, args.identity or avatar.identities[0])
    background = parse_background(args.background, size)
    out = Path(args.out)
    if args.orbit is not None and args.motion:
        raise AnrError("--orbit and --motion: both given, expected one of them")
    if args.orbit is not None:
        if len(names) > 1:
            raise AnrError(f"--identity {args.identity}: --orbit renders one identity, expected a single name")
        frames, total, fps = orbit_frames(avatar, names[0], args.orbit, size, args.elevation, parse_pose(args.pose),
                                          background, args.batch_size), args.orbit, args.fps or 30.0
    elif args.motion:
        from anr_studio.motion import load_motion

        clip = load_motion(args.motion)
        if args.fps:
            clip = clip.resample(args.fps)
        total = args.frames or len(clip)
        frames, fps = motion_frames(avatar, names, clip, total, size, follow=not args.fixed_camera, background=background,
                                    batch_size=args.batch_size), clip.fps
    else:
        pose = parse_pose(args.pose)
        pose = np.zeros((24, 3), np.float32) if pose is None else pose
        cam = avatar.default_camera(size, names[0], azimuth_deg=args.azimuth, elevation_deg=args.elevation)
        images = [avatar.render(n, pose, cam, size=size, background=background)[0] for n in names]
        write_png(out, np.concatenate(images, axis=1))
        say(f"wrote {out}")
        return 0
    bar = progress_bar(total, "render", "frame", args.quiet, frames)
    try:
        write_frames(out, bar, fps)
    finally:
        bar.close()
    say(f"wrote {out} ({total} frames at {fps:g} fps)")
    return 0


def _run_swap(args: argparse.Namespace) -> int:
    from anr_studio.avatar.tryon import load_mask, save_mask, swap_identity

    if not (args.region or args.mask):
        raise AnrError("swap: neither --region nor --mask given, expected one of them")
    _output(args, args.out, (".anr",), edits_avatar=True)
    _output(args, args.mask_out, (".png",), "--mask-out")
    _output(args, args.preview, (".png",), "--preview")
    avatar = _load(args)
    size = int(avatar.texture(avatar.identities[0]).shape[-1])
    mask = load_mask(args.mask, size, warn=say) if args.mask else None
    mask = swap_identity(avatar, args.source, args.target, args.name, args.region, mask, args.feather)
    avatar.save(args.out)
    say(f"wrote {args.out}: identity {args.name!r} is {args.target!r} wearing the {args.region or 'painted'} region "
        f"of {args.source!r} ({float((mask > 0.5).mean()) * 100:.1f}% of the texels)")
    if args.mask_out:
        save_mask(args.mask_out, mask)
    if args.preview:
        from anr_studio.avatar.video import write_png

        cam = avatar.default_camera(args.preview_size, args.target)
        row = [avatar.render(n, np.zeros((24, 3), np.float32), cam, size=args.preview_size)[0]
               for n in (args.source, args.target, args.name)]
        write_png(args.preview, np.concatenate(row, axis=1))
        say(f"wrote {args.preview} ({args.source} | {args.target} | {args.name})")
    return 0


def _run_tune_tryon(args: argparse.Namespace) -> int:
    import time

    from anr_studio.train.tryon_tune import tune_for_tryon

    out = _output(args, args.out, (".anr",), edits_avatar=True)
    avatar = _load(args)
    if len(avatar.identities) < 2:
        raise AnrError(f"{args.avatar}: one identity ({avatar.identities[0]!r}), expected at least two: try-on swaps "
                       "regions between identities")
    keep = {k: v.detach().clone() for k, v in avatar.renderer.state_dict().items()}

    def save(renderer, progress: dict[str, float]) -> None:  # the avatar as tuned so far; its renderer as it was
        avatar.renderer.load_state_dict(renderer.state_dict())
        avatar.save(out)
        avatar.renderer.load_state_dict(keep)
        say(f"{progress['steps']} steps in {progress['seconds']:.0f} s; wrote {out}")

    bar, start = progress_bar(int(args.seconds), "tune-tryon", "s", args.quiet), time.perf_counter()

    def progress(line: str) -> None:  # every 200 steps: "step N: keep K, mix M"
        bar.n = min(int(time.perf_counter() - start), bar.total)
        bar.set_postfix_str(line, refresh=False)
        bar.refresh()

    try:
        result = tune_for_tryon(avatar, args.seconds, args.size, args.batch_size, log=progress, checkpoint=save)
    finally:
        bar.close()
    avatar.save(out)
    say(f"wrote {out}: renderer fine-tuned for try-on, {result['steps']} steps in {args.seconds:g} s "
        f"(last step: keep {result['keep']:.4f}, mix {result['mix']:.4f})")
    return 0


def fit_output(args: argparse.Namespace) -> Path:
    """Returns where `fit` writes: --out, the input with --in-place, else a new file AVATAR-NAME.anr beside the input."""
    source = Path(args.avatar)
    if args.in_place:
        if args.out and Path(args.out).resolve() != source.resolve():
            raise AnrError(f"--in-place and --out {args.out}: both given, expected one of them")
        return source
    if args.out:
        return Path(args.out)
    return source.with_name(f"{source.stem}-{args.name}{source.suffix or '.anr'}")


def _run_fit(args: argparse.Namespace) -> int:
    from anr_studio.capture import Capture
    from anr_studio.train.fit import fit_identity

    named = args.name is not None
    if not named:
        with Capture(args.capture) as cap:
            args.name = cap.identity
    out = fit_output(args)
    _output(args, str(out), (".anr",), edits_avatar=True, overwrite=args.resume)  # a resumed fit's own output
    avatar = _load(args)
    if not named and args.name in avatar.identities:
        raise AnrError(f"{args.capture}: its identity {args.name!r} is already an identity of the avatar, expected --name with a new name for the fitted one")
    work = Path(args.work) if args.work else out.with_name(f"{out.stem}.fit-{args.name}")
    bar = progress_bar(args.steps, f"fit {args.name}", "step", args.quiet)

    def progress(step: int, total: int, losses: dict[str, float]) -> None:
        bar.n = step
        bar.set_postfix(loss=f"{losses.get('total', float('nan')):.4f}", refresh=False)
        bar.refresh()

    try:  # SIGTERM and SIGHUP stop it as a stop does (Trainer.run): the fit checkpoints, then says how to go on
        result = fit_identity(avatar, args.capture, args.name, work, steps=args.steps, resume=args.resume,
                              keyframe_fraction=args.keyframe_fraction, lr=args.lr, batch_size=args.batch_size,
                              checkpoint_every=args.checkpoint_every, time_budget_s=args.time_budget or 0.0,
                              progress=progress, warn=say)
    finally:
        bar.close()
    if result.reason == "stopped":
        say(f"stopped at step {result.step}; continue with --resume (work folder {work})")
        return 130
    avatar.save(out)
    say(f"wrote {out}: identity {args.name!r} after {result.step} steps ({result.seconds:.1f} s, "
         f"loss {result.losses.get('total', float('nan')):.4f}); renderer unchanged")
    return 0


def _run_export(args: argparse.Namespace) -> int:
    from anr_studio.avatar.export import export_mesh, mesh_files, texture_images
    from anr_studio.avatar.tryon import export_region_masks
    from anr_studio.avatar.video import write_png

    if not (args.mesh or args.texture or args.uv_masks):
        raise AnrError("export: nothing to export, expected --mesh, --texture or --uv-masks")
    if args.mesh:
        for path in mesh_files(_output(args, args.mesh, (".obj", ".glb"), "--mesh"), not args.no_mesh_texture)[1:]:
            _output(args, str(path), (path.suffix,), "--mesh")  # an .obj's material and texture image
    if args.texture:
        texture = _output(args, args.texture, (".png",), "--texture")
        pca = _output(args, str(texture.with_name(f"{texture.stem}_pca.png")), (".png",), "--texture")
    _output(args, args.uv_masks, ("",), "--uv-masks")
    avatar = _load(args)
    identity = args.identity or avatar.identities[0]
    avatar._check(identity)
    if args.mesh:
        written = export_mesh(avatar, args.mesh, parse_pose(args.pose), identity, texture=not args.no_mesh_texture)
        say(f"wrote {written[0]}" + (f" with {written[1].name} and {written[2].name} beside it" if written[1:] else ""))
    if args.texture:
        images = texture_images(avatar.texture(identity))
        write_png(texture, images["rgb"])
        write_png(pca, images["pca"])
        say(f"wrote {texture} (channels 0-2) and {pca} (PCA false colour)")
    if args.uv_masks:
        size = int(avatar.texture(identity).shape[-1]) if not args.mask_size else args.mask_size
        written = export_region_masks(avatar.body, size, args.uv_masks)
        say(f"wrote {len(written)} UV region masks to {args.uv_masks}: {', '.join(written)}")
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("avatar", type=avatar_file, help="avatar file (.anr), or the run folder of anr-studio train holding it")
    add_device(p)
    p.add_argument("--body-model", metavar="PATH", help="the body file the avatar's body model id refers to")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--overwrite", action="store_true", help="replace output files that already exist")


def register(subparsers) -> None:
    """Adds `render`, `swap`, `tune-tryon`, `fit` and `export`."""
    r = subparsers.add_parser("render", help="render an avatar: an image, an orbit (--orbit N) or an animation (--motion M)",
                              description="Render an avatar to a PNG, or to an mp4 / a folder of PNG frames with --orbit "
                              "(novel views around the body) or --motion (walk, turn, arms, dance, .npz, .bvh).")
    _common(r)
    r.add_argument("--identity", help="identity name, or several separated by commas (side by side); default the first")
    r.add_argument("--orbit", type=count(1, 3600), metavar="N", help="N views around the body")
    r.add_argument("--motion", metavar="M", help="walk, turn, arms, dance, an SMPL .npz or a .bvh file")
    r.add_argument("--frames", type=count(1, 1_000_000), metavar="N", help="frames of the motion (default all; more loops it)")
    r.add_argument("--fps", type=number(0, 1000, open_low=True), help="frame rate (motions are resampled to it; orbits default to 30)")
    r.add_argument("--pose", metavar="P", help=f"still pose: {POSE_HELP} (default: rest)")
    r.add_argument("--size", type=image_side, default=512, help="image height (and width) in pixels (default 512)")
    r.add_argument("--width", type=image_side, help="image width, when not square")
    r.add_argument("--azimuth", type=number(), default=0.0, help="camera azimuth in degrees for a still image")
    r.add_argument("--elevation", type=number(-90, 90), default=5.0, help="camera elevation in degrees (default 5)")
    r.add_argument("--background", default="white", help="white, black, grey, transparent (RGBA PNGs), #RRGGBB, R,G,B or an image")
    r.add_argument("--fixed-camera", action="store_true", help="do not follow the body's translation during a motion")
    r.add_argument("--batch-size", type=count(1, 256), default=8, help="frames rendered at once (default 8, on "
                   "CUDA and on the CPU alike: docs/benchmarks.md, \"Rendering on a CPU\")")
    r.add_argument("--bf16", action="store_true", help="on CUDA: bf16 autocast + channels_last (faster, tiny colour differences)")
    r.add_argument("--out", required=True, help="output: .png (still), .mp4, or a folder for PNG frames")
    r.set_defaults(func=_run_render)

    s = subparsers.add_parser("swap", help="virtual try-on: a new identity with another identity's region (UV mask)",
                              description="Make identity NEW = mask*T_from + (1-mask)*T_to (paper Fig. 9) and write an "
                              "avatar holding it beside the others.")
    _common(s)
    s.add_argument("--from", dest="source", required=True, metavar="A", help="identity whose region is taken")
    s.add_argument("--to", dest="target", required=True, metavar="B", help="identity that receives it")
    s.add_argument("--region", choices=["upper", "lower", "shoes", "face", "hair", "arms"], help="preset UV region")
    s.add_argument("--mask", metavar="PNG", help="painted UV mask (texture layout, white = take A); overrides --region")
    s.add_argument("--feather", type=number(0, 1000), default=1.0, help="soft edge of preset masks in texels (default 1)")
    s.add_argument("--name", required=True, help="name of the new identity")
    s.add_argument("--out", required=True, help="avatar file to write (may be the input)")
    s.add_argument("--mask-out", metavar="PNG", help="also write the mask used")
    s.add_argument("--preview", metavar="PNG", help="also write A | B | NEW rendered side by side")
    s.add_argument("--preview-size", type=image_side, default=256, help="preview image size (default 256)")
    s.set_defaults(func=_run_swap)

    t = subparsers.add_parser("tune-tryon", help="fine-tune the renderer so try-on swaps change the region and nothing else",
                              description="Fine-tune the avatar's renderer from its own renders (no captures): it keeps "
                              "rendering every identity as before and learns to render texture-region mixes of two "
                              "identities as one inside the region and the other outside. Minutes on a GPU; writes --out "
                              "every 10 minutes as it goes.")
    _common(t)
    t.add_argument("--out", required=True, help="avatar file to write (may be the input)")
    t.add_argument("--seconds", type=number(0, open_low=True), default=400.0, help="fine-tuning time (default 400)")
    t.add_argument("--size", type=count(16, 1024), default=256, help="side of the rendered views (default 256)")
    t.add_argument("--batch-size", type=count(1, 256), default=16, help="views per step (default 16)")
    t.set_defaults(func=_run_tune_tryon)

    f = subparsers.add_parser("fit", help="add an identity from a new capture, optimising only its texture",
                              description="Fit a new identity's neural texture to a capture with the avatar's renderer "
                              "frozen (paper Fig. 6): keyframes first, then all training frames; resumable.")
    _common(f)
    f.add_argument("--capture", required=True, metavar="H5", help="capture of the new person (with masks)")
    f.add_argument("--name", help="name of the new identity (default: the capture's identity)")
    f.add_argument("--steps", type=count(1), default=FIT_STEPS, help="optimisation steps")
    f.add_argument("--keyframe-fraction", type=number(0, 1), default=0.5, help="share of the steps on keyframes only (default 0.5)")
    f.add_argument("--lr", type=number(0, 10, open_low=True), help="texture learning rate (default: the avatar's training config)")
    f.add_argument("--batch-size", type=count(1, 256), help="frames per step (default: the avatar's training config)")
    f.add_argument("--checkpoint-every", type=count(1), default=100, metavar="N", help="checkpoint every N steps (default 100)")
    f.add_argument("--time-budget", type=number(0, open_low=True), metavar="SECONDS", help="stop when the fit's time reaches SECONDS, the time before a --resume included")
    f.add_argument("--resume", action="store_true", help="continue the fit in the work folder")
    f.add_argument("--work", metavar="DIR", help="work folder for checkpoints (default OUT.fit-NAME beside the output)")
    f.add_argument("--out", help="avatar file to write (default: AVATAR-NAME.anr beside the input)")
    f.add_argument("--in-place", action="store_true", help="add the identity to the input avatar file itself")
    f.set_defaults(func=_run_fit)

    e = subparsers.add_parser("export", help="export the posed mesh (OBJ/GLB), texture pictures or UV region masks",
                              description="Export an avatar for other tools: its coarse body posed as a mesh (OBJ "
                              "with its texture, or GLB), pictures of a neural texture, or the try-on regions as UV masks.")
    _common(e)
    e.add_argument("--identity", help="identity whose shape and texture to use (default the first)")
    e.add_argument("--mesh", metavar="PATH", help="posed coarse mesh: .obj (with NAME.mtl + NAME_texture.png) or .glb")
    e.add_argument("--pose", metavar="P", help=f"{POSE_HELP} (default: rest)")
    e.add_argument("--no-mesh-texture", action="store_true", help="export the mesh with UVs but no texture image")
    e.add_argument("--texture", metavar="PNG", help="neural texture picture (channels 0-2), plus NAME_pca.png")
    e.add_argument("--uv-masks", metavar="DIR", help="write the try-on region presets as UV-layout PNGs")
    e.add_argument("--mask-size", type=count(8, 8192), help="UV mask size (default: the texture size)")
    e.set_defaults(func=_run_export)
