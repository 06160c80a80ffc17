"""`anr-studio body --pose bent --out body.png`: the coarse body shaded and with a UV checker, front and side,
at rest and in the chosen pose, through the render path training and the studio use."""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from anr_studio.cli.argtypes import device
from anr_studio.errors import AnrError

if TYPE_CHECKING:
    import torch

    from anr_studio.body import BodyModel

BACKGROUND = np.array([34, 36, 42], dtype=np.float32)
CHECKER_COLOURS = ((240, 140, 40), (40, 110, 230))  # orange, blue
SKIN = np.array([225, 205, 185], dtype=np.float32)
# Towards the light, in camera space (OpenCV: y down, z away from the viewer): up, left, front.
LIGHT = np.array([-0.35, -0.5, -1.0]) / np.linalg.norm([-0.35, -0.5, -1.0])


def bent_pose() -> torch.Tensor:
    """Returns a (24,3) pose with shoulders, elbows, hips and knees at 90 degrees (rest frames: x left, y up, z forward).

    Left arm raised forward, forearm up; right arm down, forearm forward; left thigh forward, shin down;
    right knee bent backwards.
    """
    import torch

    from anr_studio.body.skeleton import joint_index

    half = math.pi / 2
    pose = torch.zeros(24, 3)
    pose[joint_index("left_shoulder")] = torch.tensor([0.0, -half, 0.0])  # +x arm -> +z
    pose[joint_index("left_elbow")] = torch.tensor([0.0, 0.0, half])  # forearm -> up
    pose[joint_index("right_shoulder")] = torch.tensor([0.0, 0.0, half])  # -x arm -> down
    pose[joint_index("right_elbow")] = torch.tensor([0.0, half, 0.0])  # forearm -> +z
    pose[joint_index("left_hip")] = torch.tensor([-half, 0.0, 0.0])  # thigh (-y) -> +z
    pose[joint_index("left_knee")] = torch.tensor([half, 0.0, 0.0])  # shin hangs down again
    pose[joint_index("right_knee")] = torch.tensor([half, 0.0, 0.0])  # shin (-y) -> -z (backwards)
    return pose


POSE_HELP = ("rest, bent (elbows/knees/shoulders at 90 degrees), MOTION:FRAME (a frame of walk, turn, arms, dance or an "
             ".npz/.bvh file, e.g. walk:12; MOTION alone: a third of the way in) or a .npy (24,3)")
"""What --pose accepts, in the help of every command that has it (`parse_pose` reads it)."""


def parse_pose(text: str | None, frame: int | None = None) -> np.ndarray | None:
    """Returns a (24,3) pose from --pose text (see `POSE_HELP`; ``frame``: the frame of a motion given without one),
    or None without text."""
    if not text:
        return None
    if text in ("rest", "bent"):
        return np.zeros((24, 3), np.float32) if text == "rest" else bent_pose().numpy()
    if text.lower().endswith(".npy"):
        from anr_studio.safe_npz import load_npy

        arr = load_npy(text, "a (24, 3) or (72,) axis-angle pose")
        if arr.size != 72:
            raise AnrError(f"--pose {text}: holds shape {arr.shape}, expected (24, 3) or (72,) axis-angle")
        pose = arr.reshape(24, 3).astype(np.float32)
        if not np.isfinite(pose).all() or np.abs(pose).max() > 100:
            raise AnrError(f"--pose {text}: holds NaN, Inf or angles beyond 100 rad, expected finite axis-angles")
        return pose
    from anr_studio.motion import ALIASES, BUILTIN_MOTIONS, load_motion

    motion, colon, index = text.rpartition(":")
    motion = motion if colon else text
    known = ALIASES.get(motion, motion) in BUILTIN_MOTIONS or Path(motion).suffix.lower() in (".npz", ".bvh")
    if not known or (colon and not index.isdigit()):
        raise AnrError(f"--pose {text}: unknown pose, expected {POSE_HELP}")
    clip = load_motion(motion)
    i = int(index) if colon else len(clip) // 3 if frame is None else frame
    if not 0 <= i < len(clip):
        option = f"--pose {text}" if colon or frame is None else f"--frame {frame}"
        raise AnrError(f"{option}: past the {len(clip)} frames of {motion}, expected 0..{len(clip) - 1}")
    return clip.poses[i]


def checkerboard(size: int = 512, checks: int = 16) -> torch.Tensor:
    """Returns a two-colour checkerboard texture (1,3,size,size) in [0,1] (row 0 is v = 1)."""
    import torch

    idx = torch.arange(size) * checks // size
    odd = (idx[:, None] + idx[None, :]) % 2
    colours = torch.tensor(CHECKER_COLOURS, dtype=torch.float32) / 255.0
    return colours[odd].permute(2, 0, 1)[None]


def render_views(body: BodyModel, pose: torch.Tensor, size: int) -> list[np.ndarray]:
    """Returns four (size,size,3) uint8 images of ``body`` in ``pose`` (24,3): shaded front and side, checker front and side."""
    import torch
    import torch.nn.functional as F

    from anr_studio.model.images import composite
    from anr_studio.render import orbit_camera, render_body_maps

    with torch.no_grad():
        verts = body(pose[None].to(body.v_template.device)).vertices[0]
        texture = checkerboard().to(verts.device)
        light = torch.as_tensor(LIGHT, dtype=torch.float32, device=verts.device)
        # The camera sees the body's bounding sphere, with 2 % to spare, in its 30 degree field of view.
        centre = (verts.min(0).values + verts.max(0).values) / 2
        distance = float((verts - centre).norm(dim=1).max()) / math.sin(math.radians(15.0)) * 1.02
        shaded, checked = [], []
        for azimuth in (0.0, 90.0):
            camera = orbit_camera(azimuth, 0.0, distance, target=centre, image_size=(size, size), fov_deg=30.0)
            maps = render_body_maps(body, verts[None], camera, (size, size))
            lambert = (maps.normals[0] * light[:, None, None]).sum(0).clamp_min(0)  # (H, W)
            intensity = (0.25 + 0.75 * lambert).cpu().numpy()[..., None]
            mask = maps.mask[0, 0].cpu().numpy()[..., None]
            colour = F.grid_sample(texture, maps.uv, mode="bilinear", padding_mode="zeros", align_corners=False)
            colour = colour[0].permute(1, 2, 0).cpu().numpy() * 255.0
            for out, albedo, light_scale in ((shaded, SKIN, intensity), (checked, colour, 0.45 + 0.55 * intensity)):
                img = composite(albedo * light_scale, mask, BACKGROUND)
                out.append(np.ascontiguousarray(np.clip(img + 0.5, 0, 255).astype(np.uint8)))
    return shaded + checked


def body_grid(body: BodyModel, poses: dict[str, torch.Tensor], size: int) -> np.ndarray:
    """Returns an (R*size, 4*size, 3) uint8 grid: one row per pose, columns as in :func:`render_views`."""
    import cv2

    rows = []
    scale = max(size / 700.0, 0.3)
    for name, pose in poses.items():
        views = render_views(body, pose, size)
        for view, caption in zip(views, ("front, shaded", "side, shaded", "front, UV checker", "side, UV checker")):
            cv2.putText(view, f"{name}: {caption}", (int(8 * scale) + 2, int(24 * scale) + 4), cv2.FONT_HERSHEY_SIMPLEX,
                        scale, (235, 235, 235), max(1, int(round(2 * scale))), cv2.LINE_AA)
        rows.append(np.concatenate(views, axis=1))
    return np.concatenate(rows, axis=0)


def _run(args: argparse.Namespace) -> int:
    import torch

    from anr_studio.avatar.video import write_png
    from anr_studio.body import load_body
    from anr_studio.fileio import check_output

    if not 16 <= args.size <= 4096:
        raise AnrError(f"--size is {args.size}, expected a cell size in pixels between 16 and 4096")
    names = [n.strip() for n in args.pose.split(",") if n.strip()]
    out = check_output(args.out, (".png",), inputs=[args.model, args.uv_obj, *names], overwrite=args.overwrite)
    poses = {"rest": torch.zeros(24, 3)}
    for name in names:
        if name != "rest":
            poses[Path(name).name] = torch.from_numpy(parse_pose(name, args.frame))
    body = load_body(args.model, device=device(args.device), uv_obj=args.uv_obj)
    grid = body_grid(body, poses, args.size)
    write_png(out, grid)
    print(f"wrote {out} ({grid.shape[1]}x{grid.shape[0]}, body {body.model_id}, {body.num_vertices} vertices)")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds the `body` sub-command."""
    p = subparsers.add_parser("body", help="render the coarse body (shaded and UV-checkered, front and side) to a PNG",
                              description="Render the coarse body shaded and with a UV checkerboard, front and side, "
                              "in the rest pose and in --pose, as one grid PNG.")
    p.add_argument("--pose", default="bent", metavar="P", help=f"{POSE_HELP}; several separated by commas, one row "
                   "each after the rest pose (default: bent)")
    p.add_argument("--out", required=True, metavar="PNG", help="output image")
    p.add_argument("--size", type=int, default=512, help="pixels per view (default 512)")
    p.add_argument("--frame", type=int, default=None, help="frame of a motion given without :FRAME (default: a third "
                   "of the way in)")
    p.add_argument("--body-model", "--model", dest="model", default=None, metavar="PATH",
                   help="a body .safetensors or an SMPL .npz/.pkl (default: the built-in body)")
    p.add_argument("--uv-obj", default=None, metavar="OBJ", help="UV layout for an SMPL --body-model")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="torch device (default cpu)")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.set_defaults(func=_run)
