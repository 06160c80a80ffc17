"""A small stand-in body for tests (one cylinder per bone) and a capture writer for it.

``standin_body()`` is a real ``BodyModel`` (rigid skinning, 4 betas that scale the figure about
the pelvis, UVs in a 5x5 atlas, body-part labels) of a few thousand faces: tests of the studio
and of jobs pose, render, train on it in milliseconds and deterministically. Its captures name
the body model "standin", so avatars trained on them open on this body.
"""

from __future__ import annotations

import numpy as np
import torch

from anr_studio.body import BodyModel
from anr_studio.body.skeleton import BODY_PART_NAMES, SMPL_PARENTS, joint_part_indices

# Approximate SMPL rest joints (metres, y up, the body's left is +x, facing +z).
REST_JOINTS = np.array(
    [
        [0.0, 0.93, 0.0], [0.07, 0.84, 0.0], [-0.07, 0.84, 0.0], [0.0, 1.03, 0.0], [0.1, 0.47, 0.0],
        [-0.1, 0.47, 0.0], [0.0, 1.16, 0.0], [0.1, 0.07, 0.0], [-0.1, 0.07, 0.0], [0.0, 1.22, 0.0],
        [0.11, 0.02, 0.12], [-0.11, 0.02, 0.12], [0.0, 1.44, 0.0], [0.08, 1.36, 0.0], [-0.08, 1.36, 0.0],
        [0.0, 1.52, 0.02], [0.18, 1.38, 0.0], [-0.18, 1.38, 0.0], [0.44, 1.38, 0.0], [-0.44, 1.38, 0.0],
        [0.68, 1.38, 0.0], [-0.68, 1.38, 0.0], [0.76, 1.38, 0.0], [-0.76, 1.38, 0.0],
    ],
    np.float32,
)
# Where each bone's segment ends (a child joint, or a tip for leaves) and its radius.
_BONE_END = {0: 3, 3: 6, 6: 9, 9: 12, 12: 15, 1: 4, 2: 5, 4: 7, 5: 8, 7: 10, 8: 11, 13: 16, 14: 17, 16: 18, 17: 19, 18: 20, 19: 21, 20: 22, 21: 23}
_TIPS = {15: (0.0, 0.2, 0.02), 22: (0.09, 0.0, 0.0), 23: (-0.09, 0.0, 0.0), 10: (0.0, 0.0, 0.07), 11: (0.0, 0.0, 0.07)}
_RADIUS = {0: 0.13, 3: 0.13, 6: 0.14, 9: 0.08, 12: 0.05, 15: 0.1, 1: 0.075, 2: 0.075, 4: 0.055, 5: 0.055, 7: 0.045,
           8: 0.045, 10: 0.04, 11: 0.04, 13: 0.05, 14: 0.05, 16: 0.05, 17: 0.05, 18: 0.04, 19: 0.04, 20: 0.035,
           21: 0.035, 22: 0.03, 23: 0.03}
SEGMENTS = 10
RINGS = 4
NUM_BETAS = 4

def standin_body() -> BodyModel:
    """Returns the stand-in BodyModel (model id "standin"): a cylinder per bone, each skinned rigidly to its joint.

    Betas (4,): 0 scales the height (y), 1 the girth (x, z), by ``1 + 0.1 * beta`` about the pelvis.
    """
    verts, faces, uvs, weights, face_parts, joint_vertex = [], [], [], [], [], []
    part_of_joint = joint_part_indices()
    for j in range(24):
        start = REST_JOINTS[j]
        end = REST_JOINTS[_BONE_END[j]] if j in _BONE_END else start + np.array(_TIPS[j], np.float32)
        axis = end - start
        a = axis / float(np.linalg.norm(axis))
        ref = np.array([0, 0, 1.0]) if abs(a[2]) < 0.9 else np.array([1.0, 0, 0])
        b1 = np.cross(a, ref)
        b1 /= np.linalg.norm(b1)
        b2 = np.cross(a, b1)
        cu, cv = (j % 5) / 5.0, 1.0 - (j // 5 + 1) / 5.0  # a 5x5 atlas cell per bone
        base = sum(len(v) for v in verts)
        ring_pts, ring_uv = [], []
        for r in range(RINGS):
            t = r / (RINGS - 1)
            rad = _RADIUS[j] * (0.85 + 0.3 * np.sin(np.pi * t))  # bulge so the shading reads as a limb
            for s in range(SEGMENTS + 1):  # one duplicated seam column keeps the UVs continuous
                ang = 2 * np.pi * s / SEGMENTS
                ring_pts.append(start + axis * t + rad * (np.cos(ang) * b1 + np.sin(ang) * b2))
                ring_uv.append((cu + 0.02 + 0.16 * s / SEGMENTS, cv + 0.02 + 0.16 * t))
        ring_pts += [start, end]
        ring_uv += [(cu + 0.19, cv + 0.01), (cu + 0.19, cv + 0.19)]
        verts.append(np.array(ring_pts, np.float32))
        uvs.append(np.array(ring_uv, np.float32))
        w = np.zeros((len(ring_pts), 24), np.float32)
        w[:, j] = 1.0
        weights.append(w)
        n = SEGMENTS + 1
        cap0, cap1 = base + RINGS * n, base + RINGS * n + 1
        joint_vertex.append(cap0)  # the joint itself: the regressor reads it back
        for r in range(RINGS - 1):
            for s in range(SEGMENTS):
                p, q = base + r * n + s, base + (r + 1) * n + s
                faces += [(p, p + 1, q + 1), (p, q + 1, q)]
        for s in range(SEGMENTS):
            faces += [(cap0, base + s + 1, base + s), (cap1, base + (RINGS - 1) * n + s, base + (RINGS - 1) * n + s + 1)]
        face_parts += [part_of_joint[j]] * (2 * (RINGS - 1) * SEGMENTS + 2 * SEGMENTS)
    v = np.concatenate(verts)
    regressor = np.zeros((24, len(v)), np.float32)
    regressor[np.arange(24), joint_vertex] = 1.0
    # Scaling about the pelvis is linear in the betas: v + sum_k beta_k * 0.1 * (v - pelvis) on beta k's axes.
    offset = v - REST_JOINTS[0]
    shapedirs = np.zeros((len(v), 3, NUM_BETAS), np.float32)
    shapedirs[:, 1, 0] = 0.1 * offset[:, 1]
    shapedirs[:, [0, 2], 1] = 0.1 * offset[:, [0, 2]]
    return BodyModel(v, np.asarray(faces), np.concatenate(weights), regressor, shapedirs=shapedirs,
                     uv=np.concatenate(uvs), face_parts=np.asarray(face_parts), part_names=list(BODY_PART_NAMES),
                     parents=torch.tensor(SMPL_PARENTS), model_id="standin", source="stand-in body")


def write_standin_capture(path, body, frames: int = 6, size: int = 64, identity: str = "tiny", seed: int = 0,
                          palette=((220, 60, 50), (240, 230, 200))) -> str:
    """Returns ``path`` after writing a real capture of ``body`` (UV-checker clothes over a grey plate).

    The arms and the root turn over the frames; masks are the rasterized body; the last frame is
    the test split and two frames are keyframes. The file names ``body.model_id`` as its body model.
    """
    from anr_studio.capture import CaptureWriter
    from anr_studio.components.scene import OrbitView
    from anr_studio.render import render_body_maps

    rng = np.random.default_rng(seed)
    view = OrbitView(distance=3.6)
    cam = view.camera((size, size))
    K, R, t = cam.K[0].numpy(), cam.R[0].numpy(), cam.t[0].numpy()
    plate = np.full((size, size, 3), 90, np.uint8)
    poses = np.zeros((frames, 24, 3), np.float32)
    poses[:, 16, 2] = np.linspace(-1.0, 0.3, frames)
    poses[:, 17, 2] = np.linspace(1.0, -0.3, frames)
    poses[:, 0, 1] = np.linspace(-0.6, 0.6, frames)
    with CaptureWriter(str(path), identity, size, size, fps=10.0, betas=np.zeros(4, np.float32), camera=(K, R, t), background=plate,
                       body_model=body.model_id) as w:
        for i in range(frames):
            out = body(pose=torch.from_numpy(poses[i])[None])
            maps = render_body_maps(body, out.vertices, cam, (size, size))
            uv = maps.uv[0].numpy()
            checker = ((np.floor((uv[..., 0] + 1) * 8) + np.floor((uv[..., 1] + 1) * 8)) % 2)[..., None]
            person = np.where(checker > 0, palette[0], palette[1]).astype(np.float32)
            m = maps.mask[0, 0].numpy()[..., None]
            frame = (person * m + plate * (1 - m) + rng.normal(0, 2, plate.shape)).clip(0, 255).astype(np.uint8)
            w.append(frame, mask=(m[..., 0] * 255).astype(np.uint8), pose=poses[i], transl=np.zeros(3, np.float32))
        w.set_split(np.arange(frames - 1), np.array([frames - 1]))
        w.set_keyframes(np.array([0, frames // 2]))
    return str(path)


def untrained_avatar(body: BodyModel, preset: str = "tiny", identities=("A", "B"), seed: int = 0):
    """Returns an Avatar of ``preset``'s untrained renderer on ``body``, with clearly different textures per identity."""
    from anr_studio.avatar import Avatar
    from anr_studio.model import build_renderer
    from anr_studio.train.presets import preset as get_preset

    cfg = get_preset(preset)
    torch.manual_seed(seed)
    renderer = build_renderer(cfg.model, cfg.renderer).eval().requires_grad_(False)
    tc = cfg.model.texture
    g = torch.Generator().manual_seed(seed)
    textures = {name: torch.rand(tc.channels, tc.size, tc.size, generator=g) * 2 - 1 for name in identities}
    return Avatar(renderer, textures, body, {"body_model": body.model_id}, source=f"untrained {preset}")
