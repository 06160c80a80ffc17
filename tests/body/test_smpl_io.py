import hashlib
import os
import pickle

import numpy as np
import pytest
import torch

from anr_studio.body import BodyModel
from anr_studio.body.skeleton import BODY_PART_NAMES, joint_index, part_indices
from anr_studio.errors import AnrError
from tests.body.synthetic import save_npz, save_pkl, smpl_arrays

smplx_lbs = pytest.importorskip("smplx.lbs")


@pytest.fixture(scope="module")
def arrays():
    return smpl_arrays(num_vertices=200, num_betas=10, seed=0)


def smplx_reference(arrays, pose, betas, transl):
    """Posed vertices and joints from smplx's own lbs on the raw arrays, the way smplx.SMPL sets them up."""
    f32 = lambda a: torch.as_tensor(np.asarray(a), dtype=torch.float32)  # noqa: E731
    parents = torch.as_tensor(arrays["kintree_table"][0].astype(np.int64))
    parents[0] = -1
    verts, joints = smplx_lbs.lbs(
        betas, pose.reshape(pose.shape[0], -1), f32(arrays["v_template"]), f32(arrays["shapedirs"]),
        f32(arrays["posedirs"].reshape(-1, 207).T), f32(arrays["J_regressor"]), parents, f32(arrays["weights"]),
    )
    return verts + transl[:, None], joints + transl[:, None]


@pytest.mark.parametrize("fmt", ["npz", "pkl-python2", "pkl-protocol2", "pkl-protocol0", "pkl-protocol5"])
def test_posed_vertices_match_smplx(arrays, tmp_path, fmt):
    if fmt == "npz":
        path = save_npz(tmp_path / "model.npz", arrays)
    elif fmt == "pkl-python2":
        path = save_pkl(tmp_path / "model.pkl", arrays, python2=True)
    else:
        path = save_pkl(tmp_path / "model.pkl", arrays, protocol=int(fmt[-1]))
    body = BodyModel.from_smpl(path)
    assert body.num_betas == 10 and body.num_vertices == 200 and body.posedirs is not None
    assert body.model_id == hashlib.sha256(path.read_bytes()).hexdigest()
    gen = torch.Generator().manual_seed(0)
    pose = torch.randn(3, 24, 3, generator=gen) * 0.6
    betas = torch.randn(3, 10, generator=gen)
    transl = torch.randn(3, 3, generator=gen)
    out = body(pose, betas, transl)
    ref_v, ref_j = smplx_reference(arrays, pose, betas, transl)
    torch.testing.assert_close(out.vertices, ref_v, atol=1e-5, rtol=0)
    torch.testing.assert_close(out.joints, ref_j, atol=1e-5, rtol=0)
    # The poses are not trivial: the body really moved.
    assert (out.vertices - body.v_template).abs().max() > 0.1


def test_pkl_and_npz_load_the_same_arrays(arrays, tmp_path):
    a = BodyModel.from_smpl(save_npz(tmp_path / "m.npz", arrays))
    b = BodyModel.from_smpl(save_pkl(tmp_path / "m.pkl", arrays))
    for name in ("v_template", "faces", "shapedirs", "posedirs", "J_regressor", "lbs_weights", "parents"):
        torch.testing.assert_close(getattr(a, name), getattr(b, name))


def test_part_labels_follow_skinning(arrays, tmp_path):
    arrays = dict(arrays)
    dominant = arrays["weights"].argmax(1)
    faces = arrays["f"].copy()
    # Faces made of vertices that the left elbow / right knee dominate are forearm / shin faces.
    faces[0] = np.flatnonzero(dominant == joint_index("left_elbow"))[:3]
    faces[1] = np.flatnonzero(dominant == joint_index("right_knee"))[:3]
    arrays["f"] = faces
    body = BodyModel.from_smpl(save_npz(tmp_path / "m.npz", arrays))
    assert body.part_names == list(BODY_PART_NAMES)
    assert not body.has_uvs
    assert [BODY_PART_NAMES[p] for p in body.face_parts[:2].tolist()] == ["forearm_l", "shin_r"]
    assert part_indices(body.part_names, ["forearms"]) == [BODY_PART_NAMES.index("forearm_l"), BODY_PART_NAMES.index("forearm_r")]


def write_uv_obj(path, arrays, rotate=True, quad_extra=False):
    """An OBJ with the model's vertices, its faces (corners rotated) and one vt per face corner."""
    faces = arrays["f"].astype(np.int64)
    lines = [f"v {x} {y} {z}" for x, y, z in arrays["v_template"]]
    rng = np.random.default_rng(7)
    uvs = rng.random((len(faces) * 3, 2))
    lines += [f"vt {u} {v}" for u, v in uvs]
    for i, (a, b, c) in enumerate(faces):
        ta, tb, tc = 3 * i + 1, 3 * i + 2, 3 * i + 3
        if rotate:  # same triangle, other starting corner: the loader must match corner by vertex
            lines.append(f"f {b + 1}/{tb} {c + 1}/{tc} {a + 1}/{ta}")
        else:
            lines.append(f"f {a + 1}/{ta} {b + 1}/{tb} {c + 1}/{tc}")
    path.write_text("\n".join(lines) + "\n")
    return uvs.reshape(-1, 3, 2)


def test_uvs_from_obj(arrays, tmp_path):
    # Unique faces only: random triangles may repeat a vertex triple with different UVs.
    arrays = dict(arrays)
    faces = arrays["f"]
    keep = np.unique(np.sort(faces, 1), axis=0, return_index=True)[1]
    faces = faces[np.sort(keep)]
    faces = faces[(faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]) & (faces[:, 0] != faces[:, 2])]
    arrays["f"] = faces
    expected = write_uv_obj(tmp_path / "uv.obj", arrays)
    body = BodyModel.from_smpl(save_npz(tmp_path / "m.npz", arrays), uv_obj=tmp_path / "uv.obj")
    assert body.has_uvs and body.face_uvs.shape == (len(faces), 3, 2)
    torch.testing.assert_close(body.face_uvs, torch.as_tensor(expected, dtype=torch.float32))


def test_uv_obj_problems(arrays, tmp_path):
    npz = save_npz(tmp_path / "m.npz", arrays)
    obj = tmp_path / "uv.obj"
    obj.write_text("v 0 0 0\nvt 0 0\nf 1/1 1/1 1/1\n")
    with pytest.raises(AnrError, match=r"uv.obj: the OBJ has 1 vertices, expected 200"):
        BodyModel.from_smpl(npz, uv_obj=obj)
    obj.write_text("v 0 0 0\n" * 200 + "vt 0 0\nf 1/1 2/1 3/1\n")
    with pytest.raises(AnrError, match=r"uv.obj: model face 0 .* is not in the OBJ"):
        BodyModel.from_smpl(npz, uv_obj=obj)
    obj.write_text("v 0 0 0\n" * 200 + "vt 0 0\nf 1 2 3\n")
    with pytest.raises(AnrError, match=r"uv.obj: line 202: face corner '1' has no vt index"):
        BodyModel.from_smpl(npz, uv_obj=obj)


def test_forbidden_global_is_refused_and_not_run(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"v_template": Evil()}, protocol=2))
    with pytest.raises(AnrError, match=r"evil.pkl: not a loadable SMPL pickle \(refusing global (posix|os|nt)\.system\)"):
        BodyModel.from_smpl(path)
    assert not marker.exists()
    path.write_bytes(pickle.dumps({"x": eval}, protocol=4))
    with pytest.raises(AnrError, match="refusing global builtins.eval"):
        BodyModel.from_smpl(path)


def test_truncated_and_wrong_files(arrays, tmp_path):
    npz = save_npz(tmp_path / "m.npz", arrays)
    data = npz.read_bytes()
    npz.write_bytes(data[: len(data) // 2])
    with pytest.raises(AnrError, match="m.npz"):
        BodyModel.from_smpl(npz)
    pkl = save_pkl(tmp_path / "m.pkl", arrays)
    data = pkl.read_bytes()
    pkl.write_bytes(data[: len(data) // 2])
    with pytest.raises(AnrError, match="m.pkl: damaged or truncated SMPL pickle"):
        BodyModel.from_smpl(pkl)
    (tmp_path / "list.pkl").write_bytes(pickle.dumps([1, 2]))
    with pytest.raises(AnrError, match="holds a list, expected a dict"):
        BodyModel.from_smpl(tmp_path / "list.pkl")
    with pytest.raises(AnrError, match="expected .npz or .pkl"):
        BodyModel.from_smpl(_touch(tmp_path / "m.obj"))
    with pytest.raises(AnrError, match=r"nope.npz: file not found, expected an SMPL model \(.npz, .pkl\)"):
        BodyModel.from_smpl(tmp_path / "nope.npz")


def _touch(path):
    path.write_text("")
    return path


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("shapedirs", None, "field shapedirs is missing"),
        ("shapedirs", np.zeros((200, 10)), r"field shapedirs has shape \(200, 10\), expected \(200, 3, K\)"),
        ("weights", np.zeros((200, 23)), r"field weights has shape \(200, 23\), expected \(200, 24\)"),
        ("J_regressor", np.zeros((23, 200)), r"field J_regressor has shape \(23, 200\), expected \(24, 200\)"),
        ("posedirs", np.zeros((200, 3, 10)), r"field posedirs has shape \(200, 3, 10\), expected \(200, 3, 207\)"),
        ("kintree_table", np.zeros((2, 24), dtype=np.int64), "kintree_table has parents"),
        ("v_template", np.array(["a", "b"]), "array 'v_template' has dtype <U1, expected numbers"),
        ("f", np.full((5, 3), 900), r"field f \(faces\) index vertices 900..900, expected 0..199"),
    ],
)
def test_wrong_fields_are_named(arrays, tmp_path, field, value, message):
    bad = dict(arrays)
    if value is None:
        del bad[field]
    else:
        bad[field] = value
    with pytest.raises(AnrError, match=message):
        BodyModel.from_smpl(save_npz(tmp_path / "bad.npz", bad))


def test_npz_object_arrays_are_not_unpickled(arrays, tmp_path):
    bad = dict(arrays)
    bad["weights"] = np.array([{"a": 1}], dtype=object)
    with pytest.raises(AnrError, match="array .weights. has dtype object, expected numbers"):
        BodyModel.from_smpl(save_npz(tmp_path / "obj.npz", bad))


def test_saved_smpl_body_round_trips(arrays, tmp_path):
    body = BodyModel.from_smpl(save_pkl(tmp_path / "m.pkl", arrays))
    body.save(tmp_path / "m.safetensors")
    again = BodyModel.load(tmp_path / "m.safetensors")
    assert again.model_id == body.model_id
    pose = torch.randn(2, 24, 3, generator=torch.Generator().manual_seed(5)) * 0.5
    torch.testing.assert_close(again(pose).vertices, body(pose).vertices)
