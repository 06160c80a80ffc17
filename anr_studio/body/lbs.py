"""Linear blend skinning in torch (batched, differentiable): axis-angle rotations, the kinematic chain,
skinning. The math is SMPL's (Loper et al. 2015) and matches ``smplx.lbs.lbs`` on the same arrays."""

from __future__ import annotations

import functools
from typing import Sequence

import torch

# Below this angle (radians) the rotation uses its Taylor series, so the gradient at the
# rest pose (angle 0) is exact instead of 0/0.
_SMALL_ANGLE = 1e-4


def axis_angle_to_matrix(rotvec: torch.Tensor) -> torch.Tensor:
    """Returns rotation matrices (..., 3, 3) for axis-angle vectors ``rotvec`` (..., 3) (Rodrigues)."""
    theta2 = (rotvec * rotvec).sum(-1, keepdim=True)[..., None]  # (..., 1, 1)
    small = theta2 < _SMALL_ANGLE**2
    # Keep the argument of sqrt away from 0 on the branch that is not selected, so that
    # torch.where does not let a NaN gradient through.
    theta2_safe = torch.where(small, torch.ones_like(theta2), theta2)
    theta = torch.sqrt(theta2_safe)
    a = torch.where(small, 1.0 - theta2 / 6.0, torch.sin(theta) / theta)
    b = torch.where(small, 0.5 - theta2 / 24.0, (1.0 - torch.cos(theta)) / theta2_safe)
    x, y, z = rotvec.unbind(-1)
    zero = torch.zeros_like(x)
    skew = torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], dim=-1).reshape(*rotvec.shape[:-1], 3, 3)
    eye = torch.eye(3, dtype=rotvec.dtype, device=rotvec.device)
    return eye + a * skew + b * (skew @ skew)


def matrix_to_axis_angle(rot: torch.Tensor) -> torch.Tensor:
    """Returns axis-angle vectors (..., 3) (angle in [0, pi]) for rotation matrices ``rot`` (..., 3, 3),
    through the quaternion of Shepperd's method (accurate near pi)."""
    m = rot
    trace = m[..., 0, 0] + m[..., 1, 1] + m[..., 2, 2]
    # Four candidate quaternions (w, x, y, z), each accurate when its own component is large.
    cands = torch.stack([
        torch.stack([1 + trace, m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1]], -1),
        torch.stack([m[..., 2, 1] - m[..., 1, 2], 1 + m[..., 0, 0] - m[..., 1, 1] - m[..., 2, 2], m[..., 0, 1] + m[..., 1, 0], m[..., 0, 2] + m[..., 2, 0]], -1),
        torch.stack([m[..., 0, 2] - m[..., 2, 0], m[..., 0, 1] + m[..., 1, 0], 1 - m[..., 0, 0] + m[..., 1, 1] - m[..., 2, 2], m[..., 1, 2] + m[..., 2, 1]], -1),
        torch.stack([m[..., 1, 0] - m[..., 0, 1], m[..., 0, 2] + m[..., 2, 0], m[..., 1, 2] + m[..., 2, 1], 1 - m[..., 0, 0] - m[..., 1, 1] + m[..., 2, 2]], -1),
    ], dim=-2)  # (..., 4, 4): row k is 4 * q_k * q
    diag = torch.stack([1 + trace, 1 + m[..., 0, 0] - m[..., 1, 1] - m[..., 2, 2],
                        1 - m[..., 0, 0] + m[..., 1, 1] - m[..., 2, 2], 1 - m[..., 0, 0] - m[..., 1, 1] + m[..., 2, 2]], -1)
    best = diag.argmax(-1)
    quat = torch.gather(cands, -2, best[..., None, None].expand(*best.shape, 1, 4))[..., 0, :]
    quat = quat / quat.norm(dim=-1, keepdim=True)
    quat = torch.where(quat[..., :1] < 0, -quat, quat)  # w >= 0: angle in [0, pi]
    sin_half = quat[..., 1:].norm(dim=-1, keepdim=True)
    angle = 2 * torch.atan2(sin_half, quat[..., :1])
    # angle / sin(angle/2) -> 2 as the angle -> 0
    scale = torch.where(sin_half > 1e-8, angle / sin_half.clamp_min(1e-8), torch.full_like(angle, 2.0))
    return quat[..., 1:] * scale


@functools.cache
def _chain_plan(parents: tuple[int, ...], device: torch.device) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Returns (parent index (J,) with roots -> J, [ancestor index (J+1,) per pointer-jumping round]) on
    ``device``; index J is the world frame. Cached, so a pose copies no indices to the device."""
    joints = len(parents)
    parent = [p if p >= 0 else joints for p in parents]
    anc = parent + [joints]
    rounds = []
    while any(a != joints for a in anc):
        rounds.append(anc)
        anc = [anc[a] for a in anc]
    return (torch.tensor(parent, dtype=torch.long, device=device),
            [torch.tensor(r, dtype=torch.long, device=device) for r in rounds])


def _compose(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Returns a @ b for (..., 4, 4) matrices as a multiply-and-sum: exact float32 even where TF32 matmuls are on."""
    return (a.unsqueeze(-1) * b.unsqueeze(-3)).sum(dim=-2)


def kinematic_chain(rot_mats: torch.Tensor, rest_joints: torch.Tensor,
                    parents: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Returns (posed joints (B,J,3), skinning rotations (B,J,3,3), skinning translations (B,J,3)).

    ``rot_mats`` (B,J,3,3) are local joint rotations, ``rest_joints`` (B,J,3) the rest-pose joint
    positions, ``parents`` the parent index of each joint (parents precede children, -1 = root).
    A rest-pose point p skinned rigidly to joint j moves to ``R[j] @ p + t[j]``. Composed by pointer jumping: each
    round multiplies every joint by its current ancestor, so ceil(log2 depth) rounds (4 for SMPL), not one per joint.
    """
    batch, joints = rot_mats.shape[:2]
    parent_idx, rounds = _chain_plan(tuple(int(p) for p in parents), rot_mats.device)
    padded = torch.cat([rest_joints, torch.zeros_like(rest_joints[:, :1])], dim=1)  # (B, J+1, 3): world origin last
    offset = rest_joints - padded.index_select(1, parent_idx)  # joint position in its parent's frame
    local = torch.cat([rot_mats, offset.unsqueeze(-1)], dim=-1)  # (B, J, 3, 4)
    # Both from one eye(4) kernel, no host-to-device copy: the chain runs inside CUDA graph captures.
    eye4 = torch.eye(4, dtype=rot_mats.dtype, device=rot_mats.device)
    bottom = eye4[3:].expand(batch, joints, 1, 4)
    eye = eye4.expand(batch, 1, 4, 4)
    world = torch.cat([torch.cat([local, bottom], dim=-2), eye], dim=1)  # (B, J+1, 4, 4)
    for anc in rounds:
        world = _compose(world.index_select(1, anc), world)
    rot = world[:, :joints, :3, :3]
    posed = world[:, :joints, :3, 3]
    trans = posed - (rot * rest_joints.unsqueeze(-2)).sum(dim=-1)
    return posed, rot, trans


def linear_blend_skinning(points: torch.Tensor, weights: torch.Tensor, rot: torch.Tensor,
                          trans: torch.Tensor) -> torch.Tensor:
    """Returns skinned points (B,V,3): ``sum_j w[v,j] (R[j] @ p[v] + t[j])`` for rest points (B,V,3),
    ``weights`` (V,J) and ``rot`` (B,J,3,3), ``trans`` (B,J,3) from :func:`kinematic_chain`."""
    batch, joints = rot.shape[:2]
    transforms = torch.cat([rot.reshape(batch, joints, 9), trans], dim=-1)  # (B, J, 12)
    blended = torch.matmul(weights, transforms)  # (B, V, 12): one matmul instead of V*J 4x4s
    blended_rot = blended[..., :9].reshape(batch, -1, 3, 3)
    return (blended_rot @ points[..., None])[..., 0] + blended[..., 9:]
