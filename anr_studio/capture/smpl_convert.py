"""SMPL fits to the built-in body: the pelvis convention, a matching shape and the rest-pose bones.

SMPL poses ``R_root (v - J0) + J0 + trans`` about its pelvis J0 (0.22 m below its origin); the built-in
body poses about its own pelvis (origin at the soles), with another shape space and rest skeleton.
:func:`convert_smpl_fit` gives the built-in body:

- ``betas``: the phenotype whose distances between joints that are the same point in both skeletons
  (not pelvis and spine: the built-in pelvis sits on the hip line, SMPL's 9 cm above) best match
  SMPL's mean neutral body (SMPL's betas need its shape basis: ``import --body-model SMPL_FILE``);
- ``pose``: per joint ``L_ours = Q_parent^T L_smpl Q_joint``, ``Q_joint`` the smallest rotation taking
  the built-in rest bone onto SMPL's;
- ``transl = trans + J0_smpl - J0_ours``, then a few L-BFGS steps toward SMPL's posed joints.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from anr_studio.body.lbs import axis_angle_to_matrix, kinematic_chain, matrix_to_axis_angle
from anr_studio.body.skeleton import NUM_JOINTS, SMPL_PARENTS

# SMPL's neutral model at its mean shape: rest joints (J_regressor @ v_template), metres, SMPL's
# frame (y up, x the body's left, z forward, origin near the pelvis). The values are those that
# public SMPL tools print for the neutral model; the two hand joints are the wrists moved along
# the forearm by SMPL's hand offset (about 8.7 cm).
SMPL_REST_JOINTS = np.array([
    [-0.0018, -0.2233, 0.0282], [0.0677, -0.3147, 0.0214], [-0.0695, -0.3139, 0.0239],
    [-0.0043, -0.1144, 0.0015], [0.1020, -0.6899, 0.0169], [-0.1078, -0.6964, 0.0150],
    [0.0012, 0.0208, 0.0026], [0.0884, -1.0879, -0.0268], [-0.0920, -1.0948, -0.0273],
    [0.0026, 0.0737, 0.0280], [0.1148, -1.1437, 0.0925], [-0.1174, -1.1430, 0.0961],
    [-0.0002, 0.2876, -0.0148], [0.0815, 0.1955, -0.0061], [-0.0791, 0.1926, -0.0106],
    [0.0050, 0.3526, 0.0365], [0.1724, 0.2260, -0.0149], [-0.1752, 0.2251, -0.0197],
    [0.4320, 0.2132, -0.0424], [-0.4289, 0.2118, -0.0411], [0.6813, 0.2222, -0.0435],
    [-0.6842, 0.2196, -0.0467], [0.7684, 0.2135, -0.0152], [-0.7711, 0.2111, -0.0159],
])
SMPL_PELVIS = SMPL_REST_JOINTS[0]

# The long limb bones (joint -> child) turned onto SMPL's rest directions: thighs, shins, upper
# arms, forearms. Short bones (spine, collars, hands, feet) keep SMPL's rotation: their rest
# directions differ by up to 30 degrees between the two skeletons, but turning them would swing
# everything above them.
_LIMBS = {1: 4, 2: 5, 4: 7, 5: 8, 16: 18, 17: 19, 18: 20, 19: 21}
# Squared metres of joint error that one squared radian of rotation change from the start costs.
_ROTATION_PRIOR = 1e-3
_FITTED_PHENOTYPE = ("gender", "height", "proportions")
# Joints whose rest offsets from the pelvis set the root offset (every joint but the hands and feet).
_TRUNK_AND_LIMBS = [j for j in range(NUM_JOINTS) if j not in (10, 11, 22, 23)]


@lru_cache(maxsize=4)
def _fitted(body) -> tuple[np.ndarray, torch.Tensor, np.ndarray, np.ndarray]:
    """Returns (betas (K,), rest joints (24,3) float64, alignment rotations Q (24,3,3), root offset (3,)) for ``body``;
    the offset (pelvis frame) is the mean of SMPL's pelvis-relative rest joints minus ours after alignment."""
    betas = _shape_like_smpl(body)
    with torch.no_grad():
        rest = body.rest_joints(torch.as_tensor(betas[None], dtype=body.v_template.dtype))[0].cpu().double()
    q = np.repeat(np.eye(3)[None], NUM_JOINTS, axis=0)
    for j, c in _LIMBS.items():
        q[j] = _rotation_between((rest[c] - rest[j]).numpy(), SMPL_REST_JOINTS[c] - SMPL_REST_JOINTS[j])
    aligned = kinematic_chain(torch.as_tensor(_local_rotations(np.eye(3)[None, None].repeat(NUM_JOINTS, 1), q)),
                              rest[None], list(SMPL_PARENTS))[0][0].numpy()
    ours = aligned - aligned[0]
    smpl = SMPL_REST_JOINTS - SMPL_PELVIS
    offset = (smpl - ours)[_TRUNK_AND_LIMBS].mean(0)
    return betas, rest, q, offset


def _local_rotations(local: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Returns the built-in body's local rotations (N,24,3,3) for SMPL's ``local`` (N,24,3,3): Q_parent^T L Q."""
    parent_q = np.stack([np.eye(3) if p < 0 else q[p] for p in SMPL_PARENTS])
    return np.einsum("jba,njbc,jcd->njad", parent_q, local, q)


# Distances matched by the shape: (joint, joint) pairs, "hips" and "shoulders" their midpoints.
# Limbs, the trunk from the hip line to the shoulder line, the shoulders' width, neck and head;
# the hips' width counts less (the built-in hip joints sit about 5 cm wider on each side).
_MATCHED = (((1, 4), 1.0), ((2, 5), 1.0), ((4, 7), 1.0), ((5, 8), 1.0), ((16, 18), 1.0), ((17, 19), 1.0),
            ((18, 20), 1.0), ((19, 21), 1.0), (("hips", "shoulders"), 1.0), ((16, 17), 1.0),
            (("shoulders", 12), 1.0), ((12, 15), 1.0), (("hips", 1), 0.2), (("hips", 2), 0.2))


def _point(joints: torch.Tensor, name) -> torch.Tensor:
    """Returns the joint ``name`` (an index, "hips" or "shoulders": a midpoint) of ``joints`` (..., 24, 3): (..., 3)."""
    return joints[..., {"hips": [1, 2], "shoulders": [16, 17]}.get(name, [name]), :].mean(-2)


def _matched_distances(joints: torch.Tensor) -> torch.Tensor:
    """Returns the _MATCHED distances (..., P) of rest joints (..., 24, 3)."""
    return torch.stack([(_point(joints, a) - _point(joints, b)).norm(dim=-1) for (a, b), _ in _MATCHED], dim=-1)


def _shape_like_smpl(body) -> np.ndarray:
    """Returns built-in betas (K,) whose _MATCHED joint distances best match SMPL's mean neutral body: gender,
    height and proportions searched on ever finer grids (zeros for a body without a phenotype)."""
    if body.phenotype is None or body.phenotype_regressor is None:
        return np.zeros(body.num_betas, np.float32)
    from anr_studio.body.model import phenotype_features

    names = list(body.phenotype["names"])
    bounds = np.array(body.phenotype_table("ranges"), np.float64)
    start = np.array(body.phenotype_table("defaults"), np.float64)
    free = np.array([n in _FITTED_PHENOTYPE for n in names])
    reg = body.phenotype_regressor.detach().cpu().double()
    shape_joints = torch.einsum("jv,vck->jck", body.J_regressor.detach().cpu().double(), body.shapedirs.detach().cpu().double())
    mean_joints = body.J_regressor.detach().cpu().double() @ body.v_template.detach().cpu().double()
    target = _matched_distances(torch.as_tensor(SMPL_REST_JOINTS))
    weight = torch.tensor([w for _, w in _MATCHED], dtype=torch.float64)
    degree = int(body.phenotype.get("degree", 2))
    centre = np.where(free, bounds.mean(1), start)
    half = np.where(free, (bounds[:, 1] - bounds[:, 0]) / 2, 0.0)
    for _ in range(4):  # each round: 9 values per fitted phenotype around the best, the step a quarter of the last
        axes = [np.unique(np.clip(c + h * np.linspace(-1, 1, 9), lo, hi)) for c, h, (lo, hi) in zip(centre, half, bounds)]
        values = torch.as_tensor(np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, len(names)))
        betas = phenotype_features(values, degree) @ reg.T  # (G, K)
        joints = mean_joints + torch.einsum("jck,gk->gjc", shape_joints, betas)
        best = int((weight * (_matched_distances(joints) - target) ** 2).sum(-1).argmin())
        centre, half = values[best].numpy(), half / 4
    return betas[best].numpy().astype(np.float32)


def _rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Returns the smallest rotation (3,3) taking the direction of ``a`` (3,) onto that of ``b`` (3,)."""
    a = a / np.linalg.norm(a)
    b = b / np.linalg.norm(b)
    v, c = np.cross(a, b), float(a @ b)
    if c < -0.999999:  # opposite: half a turn about any axis normal to a
        axis = np.cross(a, [1.0, 0, 0] if abs(a[0]) < 0.9 else [0, 1.0, 0])
        axis /= np.linalg.norm(axis)
        return 2 * np.outer(axis, axis) - np.eye(3)
    k = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + k + k @ k / (1 + c)


def convert_smpl_fit(pose: np.ndarray, trans: np.ndarray, body) -> dict[str, np.ndarray]:
    """Returns ``pose (N,24,3)``, ``transl (N,3)``, ``betas (K,)`` for the built-in ``body`` from SMPL's
    ``pose (N,24,3)`` axis-angle and ``trans (N,3)`` (module docstring: what is matched and how)."""
    betas, rest, q, offset = _fitted(body)
    local = axis_angle_to_rotations(pose)  # (N,24,3,3)
    pose_ours = rotations_to_axis_angle(_local_rotations(local, q))
    transl = np.asarray(trans, np.float64) + (SMPL_PELVIS - rest[0].numpy()) + local[:, 0] @ offset
    pose_ours, transl = _refine_to_smpl_joints(rest, local, np.asarray(trans, np.float64), pose_ours, transl)
    return {"pose": pose_ours.astype(np.float32), "transl": transl.astype(np.float32), "betas": betas.copy()}


def smpl_joints(pose: np.ndarray, trans: np.ndarray) -> np.ndarray:
    """Returns SMPL's posed joints (N,24,3) at its mean neutral shape for SMPL ``pose (N,24,3)``, ``trans (N,3)``."""
    rot = torch.as_tensor(axis_angle_to_rotations(pose))
    rest = torch.as_tensor(SMPL_REST_JOINTS)[None].expand(rot.shape[0], -1, -1)
    return kinematic_chain(rot, rest, list(SMPL_PARENTS))[0].numpy() + np.asarray(trans, np.float64)[:, None]


def _refine_to_smpl_joints(rest: torch.Tensor, local: np.ndarray, trans: np.ndarray,
                           pose: np.ndarray, transl: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Returns (pose (N,24,3), transl (N,3)) moved so the built-in joints (``rest`` (24,3)) lie nearer SMPL's posed
    joints (L-BFGS, all frames at once; a prior keeps each rotation near its start, so limb twist stays SMPL's)."""
    target = torch.as_tensor(smpl_joints(rotations_to_axis_angle(local), trans))
    n = pose.shape[0]
    start = torch.as_tensor(pose, dtype=torch.float64)
    delta = torch.zeros(n, NUM_JOINTS, 3, dtype=torch.float64, requires_grad=True)
    shift = torch.zeros(n, 3, dtype=torch.float64, requires_grad=True)
    base = torch.as_tensor(transl, dtype=torch.float64)
    weight = torch.ones(NUM_JOINTS, dtype=torch.float64)
    # Joints the two skeletons place differently (hips, spine, collars, hand and foot tips) count
    # less, so they do not pull the pelvis, knees, ankles and shoulders off SMPL's.
    weight[[1, 2, 3, 6, 9, 13, 14]] = 0.3
    weight[[10, 11, 22, 23]] = 0.1
    opt = torch.optim.LBFGS([delta, shift], lr=1.0, max_iter=25, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        joints = kinematic_chain(axis_angle_to_matrix(start + delta), rest[None].expand(n, -1, -1), list(SMPL_PARENTS))[0]
        err = ((joints + (base + shift)[:, None] - target) ** 2).sum(-1)
        loss = (err * weight).sum() / n + _ROTATION_PRIOR * (delta**2).sum() / n
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    return (start + delta).detach().numpy(), (base + shift).detach().numpy()


def rotations_to_axis_angle(rot: np.ndarray) -> np.ndarray:
    """Returns axis-angle vectors (..., 3) float64 for rotation matrices ``rot`` (..., 3, 3)."""
    return matrix_to_axis_angle(torch.as_tensor(rot, dtype=torch.float64)).numpy()


def axis_angle_to_rotations(aa: np.ndarray) -> np.ndarray:
    """Returns rotation matrices (..., 3, 3) float64 for axis-angle vectors ``aa`` (..., 3)."""
    return axis_angle_to_matrix(torch.as_tensor(aa, dtype=torch.float64)).numpy()
