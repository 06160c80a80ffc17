"""A small BodyModel-compatible figure (one cylinder per bone) for when the built-in body is missing.

The studio shows it, with a visible note, if ``resources/body/anr_body.safetensors`` is absent
(a fresh checkout before the body is built) so posing, orbiting and painting still work; the
GUI tests use it because it is tiny and fully deterministic. It follows the BodyModel contract
in docs/interfaces.md: ``body(pose (B,24,3), betas (B,K), transl (B,3)) -> (vertices (B,V,3),
joints (B,24,3))`` plus ``faces``, ``uv``, ``uv_faces``, ``face_uvs``, ``face_parts``,
``part_names``, ``parents``, ``lbs_weights``, ``num_betas``, ``joint_names``, ``model_id``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from anr_studio.body.skeleton import BODY_PART_NAMES, SMPL_JOINT_NAMES, SMPL_PARENTS, joint_part_indices

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


class StandinOutput(NamedTuple):
    """vertices (B,V,3) and posed joints (B,24,3), like BodyOutput."""

    vertices: torch.Tensor
    joints: torch.Tensor


def axis_angle_to_matrix(aa: torch.Tensor) -> torch.Tensor:
    """Returns rotation matrices (...,3,3) for axis-angle vectors (...,3) (Rodrigues)."""
    angle = aa.norm(dim=-1, keepdim=True).clamp_min(1e-8)
    axis = aa / angle
    x, y, z = axis.unbind(-1)
    zero = torch.zeros_like(x)
    k = torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], -1).reshape(*aa.shape[:-1], 3, 3)
    s, c = torch.sin(angle)[..., None], torch.cos(angle)[..., None]
    eye = torch.eye(3, dtype=aa.dtype, device=aa.device).expand_as(k)
    return eye + s * k + (1 - c) * (k @ k)


class StandinBody(torch.nn.Module):
    """Returns StandinOutput from pose (B,24,3), betas (B,4) | None, transl (B,3) | None.

    The four betas scale height, girth, arm length and leg length by ``1 + 0.1 * beta``.
    """

    model_id = "standin"

    def __init__(self) -> None:
        super().__init__()
        verts, faces, uvs, weights, face_parts = [], [], [], [], []
        part_of_joint = joint_part_indices()
        for cell, j in enumerate(range(24)):
            start = REST_JOINTS[j]
            end = REST_JOINTS[_BONE_END[j]] if j in _BONE_END else start + np.array(_TIPS[j], np.float32)
            axis = end - start
            length = float(np.linalg.norm(axis))
            a = axis / length
            ref = np.array([0, 0, 1.0]) if abs(a[2]) < 0.9 else np.array([1.0, 0, 0])
            b1 = np.cross(a, ref)
            b1 /= np.linalg.norm(b1)
            b2 = np.cross(a, b1)
            cu, cv = (cell % 5) / 5.0, 1.0 - (cell // 5 + 1) / 5.0  # a 5x5 atlas cell per bone
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
            for r in range(RINGS - 1):
                for s in range(SEGMENTS):
                    p, q = base + r * n + s, base + (r + 1) * n + s
                    faces += [(p, p + 1, q + 1), (p, q + 1, q)]
            for s in range(SEGMENTS):
                faces += [(cap0, base + s + 1, base + s), (cap1, base + (RINGS - 1) * n + s, base + (RINGS - 1) * n + s + 1)]
            face_parts += [part_of_joint[j]] * (2 * (RINGS - 1) * SEGMENTS + 2 * SEGMENTS)
        v = np.concatenate(verts)
        self.register_buffer("v_template", torch.from_numpy(v))
        self.register_buffer("faces", torch.tensor(faces, dtype=torch.long))
        self.register_buffer("uv", torch.from_numpy(np.concatenate(uvs)))
        self.register_buffer("uv_faces", self.faces.clone())
        self.register_buffer("face_uvs", self.uv[self.uv_faces])
        self.register_buffer("lbs_weights", torch.from_numpy(np.concatenate(weights)))
        self.register_buffer("face_parts", torch.tensor(face_parts, dtype=torch.long))
        self.register_buffer("parents", torch.tensor(SMPL_PARENTS, dtype=torch.long))
        self.register_buffer("rest_joints", torch.from_numpy(REST_JOINTS.copy()))
        self.part_names = list(BODY_PART_NAMES)
        self.joint_names = list(SMPL_JOINT_NAMES)
        self.num_betas = NUM_BETAS

    def forward(self, pose: torch.Tensor, betas: torch.Tensor | None = None, transl: torch.Tensor | None = None) -> StandinOutput:
        pose = pose.reshape(-1, 24, 3).float()
        bsz = pose.shape[0]
        vt = self.v_template.expand(bsz, -1, -1).clone()
        joints_rest = self.rest_joints.expand(bsz, -1, -1).clone()
        if betas is not None:
            betas = betas.reshape(bsz, -1)[:, :NUM_BETAS].float()
            betas = torch.nn.functional.pad(betas, (0, NUM_BETAS - betas.shape[1]))
            # Scale about the pelvis: height (y), girth (x,z); limbs are folded into height for simplicity.
            scale = torch.stack([1 + 0.1 * betas[:, 1], 1 + 0.1 * betas[:, 0], 1 + 0.1 * betas[:, 1]], -1)[:, None]
            pelvis = self.rest_joints[0]
            vt = (vt - pelvis) * scale + pelvis
            joints_rest = (joints_rest - pelvis) * scale + pelvis
        rots = axis_angle_to_matrix(pose)  # (B,24,3,3)
        world_r, world_t = [], []
        for j in range(24):
            p = int(self.parents[j])
            if p < 0:
                world_r.append(rots[:, j])
                world_t.append(joints_rest[:, j])
            else:
                world_r.append(world_r[p] @ rots[:, j])
                world_t.append(world_t[p] + (world_r[p] @ (joints_rest[:, j] - joints_rest[:, p])[..., None])[..., 0])
        R = torch.stack(world_r, 1)
        T = torch.stack(world_t, 1)
        # Rigid skinning: x' = R_j (x - rest_j) + posed_j, blended by the (here one-hot) weights.
        local = vt[:, :, None, :] - joints_rest[:, None, :, :]  # (B,V,24,3)
        posed = torch.einsum("bjxy,bvjy->bvjx", R, local) + T[:, None]
        verts = (self.lbs_weights[None, :, :, None] * posed).sum(2)
        if transl is not None:
            verts = verts + transl.reshape(bsz, 1, 3)
            T = T + transl.reshape(bsz, 1, 3)
        return StandinOutput(verts, T)


def write_standin_capture(path, body, frames: int = 6, size: int = 64, identity: str = "tiny", seed: int = 0,
                          palette=((220, 60, 50), (240, 230, 200))) -> str:
    """Returns ``path`` after writing a real capture of ``body`` (UV-checker clothes over a grey plate).

    The arms and the root turn over the frames; masks are the rasterized body; the last frame is
    the test split and two frames are keyframes. Used by tests, the screenshots and demos.
    """
    import numpy as np
    import torch

    from anr_studio.capture import CaptureWriter
    from anr_studio.jobs.scene import OrbitView
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
    with CaptureWriter(str(path), identity, size, size, fps=10.0, betas=np.zeros(4, np.float32), camera=(K, R, t), background=plate) as w:
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
