import math

import numpy as np
import pytest
import torch

from anr_studio.body import BodyModel, joint_index
from anr_studio.body import model as model_module
from anr_studio.body.lbs import axis_angle_to_matrix, matrix_to_axis_angle
from anr_studio.errors import AnrError
from tests.body.synthetic import REST_JOINTS, box_body, smpl_arrays


@pytest.fixture(scope="module")
def box():
    return box_body(with_phenotype=True)


def zero_pose(batch=1):
    return torch.zeros(batch, 24, 3)


def test_axis_angle_matches_known_rotations():
    rot = axis_angle_to_matrix(torch.tensor([[0.0, 0.0, math.pi / 2], [0.0, 0.0, 0.0], [1e-6, 0.0, 0.0]]))
    torch.testing.assert_close(rot[0] @ torch.tensor([1.0, 0.0, 0.0]), torch.tensor([0.0, 1.0, 0.0]), atol=1e-6, rtol=0)
    torch.testing.assert_close(rot[1], torch.eye(3))
    assert torch.allclose(rot[2], torch.eye(3), atol=1e-5)
    # Orthonormal for random large angles.
    r = axis_angle_to_matrix(torch.randn(50, 3, generator=torch.Generator().manual_seed(0)) * 2)
    torch.testing.assert_close(r @ r.transpose(1, 2), torch.eye(3).expand(50, 3, 3), atol=1e-5, rtol=0)
    assert torch.allclose(torch.linalg.det(r), torch.ones(50), atol=1e-5)


def test_matrix_to_axis_angle_round_trips_up_to_pi():
    gen = torch.Generator().manual_seed(4)
    axis = torch.nn.functional.normalize(torch.randn(400, 3, generator=gen), dim=1)
    angle = torch.rand(400, 1, generator=gen) * math.pi
    angle[:50] = math.pi - torch.rand(50, 1, generator=gen) * 1e-3  # near a half turn
    angle[50:60] = 0.0
    rotvec = axis * angle
    back = matrix_to_axis_angle(axis_angle_to_matrix(rotvec.double())).float()
    torch.testing.assert_close(axis_angle_to_matrix(back), axis_angle_to_matrix(rotvec), atol=1e-5, rtol=0)
    torch.testing.assert_close(back[60:], rotvec[60:], atol=1e-4, rtol=0)  # unique away from pi


def test_rest_pose_returns_template(box):
    out = box(zero_pose(2))
    assert out.vertices.shape == (2, box.num_vertices, 3) and out.joints.shape == (2, 24, 3)
    torch.testing.assert_close(out.vertices[1], box.v_template, atol=1e-6, rtol=0)
    torch.testing.assert_close(out.joints[0], torch.as_tensor(REST_JOINTS, dtype=torch.float32), atol=1e-6, rtol=0)


def test_transl_and_flat_pose(box):
    out = box(torch.zeros(1, 72), transl=torch.tensor([[1.0, 2.0, 3.0]]))
    torch.testing.assert_close(out.vertices[0], box.v_template + torch.tensor([1.0, 2.0, 3.0]))


def test_elbow_at_90_degrees_moves_the_forearm_forward(box):
    elbow, wrist = joint_index("left_elbow"), joint_index("left_wrist")
    pose = zero_pose()
    pose[0, elbow] = torch.tensor([0.0, -math.pi / 2, 0.0])  # about y: the left forearm (+x) turns to +z
    out = box(pose)
    e = torch.as_tensor(REST_JOINTS[elbow], dtype=torch.float32)
    forearm_len = float(REST_JOINTS[wrist][0] - REST_JOINTS[elbow][0])
    torch.testing.assert_close(out.joints[0, wrist], e + torch.tensor([0.0, 0.0, forearm_len]), atol=1e-5, rtol=0)
    forearm = slice(8 * elbow, 8 * elbow + 8)  # the box skinned to the elbow
    rest = box.v_template[forearm] - e
    expected = e + torch.stack([-rest[:, 2], rest[:, 1], rest[:, 0]], dim=1)  # R_y(-90°) applied
    torch.testing.assert_close(out.vertices[0, forearm], expected, atol=1e-5, rtol=0)
    # The upper arm and the other side do not move.
    upper = slice(8 * joint_index("left_shoulder"), 8 * joint_index("left_shoulder") + 8)
    torch.testing.assert_close(out.vertices[0, upper], box.v_template[upper])
    # A parent's rotation carries its children: shoulder down 90° about z puts the elbow below the shoulder.
    pose = zero_pose()
    pose[0, joint_index("left_shoulder")] = torch.tensor([0.0, 0.0, -math.pi / 2])
    joints = box(pose).joints[0]
    s = joints[joint_index("left_shoulder")]
    torch.testing.assert_close(joints[elbow], s + torch.tensor([0.0, -0.26, 0.0]), atol=1e-5, rtol=0)
    torch.testing.assert_close(joints[wrist], s + torch.tensor([0.0, -0.52, 0.0]), atol=1e-5, rtol=0)


def test_betas_shape_the_template(box):
    betas = torch.zeros(1, 4)
    betas[0, 2] = 1.0
    out = box(zero_pose(), betas)
    torch.testing.assert_close(out.vertices[0], box.v_template + box.shapedirs[:, :, 2])
    torch.testing.assert_close(box.rest_joints(betas)[0], out.joints[0])


def test_gradients_flow_to_pose_betas_and_transl(box):
    pose = (torch.randn(2, 24, 3, generator=torch.Generator().manual_seed(0)) * 0.3).requires_grad_()
    betas = torch.randn(2, 10).requires_grad_()
    transl = torch.zeros(2, 3, requires_grad=True)
    out = box(pose, betas, transl)
    (out.vertices.square().sum() + out.joints.sum()).backward()
    for t in (pose, betas, transl):
        assert t.grad is not None and torch.isfinite(t.grad).all() and t.grad.abs().sum() > 0


def test_gradcheck_including_the_rest_pose():
    arrays = smpl_arrays(num_vertices=12, num_betas=3, seed=3)
    body = BodyModel(arrays["v_template"], arrays["f"].astype(np.int64), arrays["weights"], arrays["J_regressor"],
                     shapedirs=arrays["shapedirs"], posedirs=arrays["posedirs"].reshape(-1, 207).T).double()
    # Joints 3..6: one left at exactly zero (the small-angle branch), three random.
    part = torch.randn(1, 4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    part[0, 0] = 0.0
    part.requires_grad_()
    betas = torch.randn(1, 3, dtype=torch.float64, requires_grad=True)

    def posed(p, b):
        pose = torch.cat([torch.zeros(1, 3, 3, dtype=p.dtype), p, torch.zeros(1, 17, 3, dtype=p.dtype)], dim=1)
        return body(pose, b).vertices

    assert torch.autograd.gradcheck(posed, (part, betas), eps=1e-6, atol=1e-5, fast_mode=True)


@pytest.mark.parametrize(
    "kwargs, field",
    [
        (dict(pose=torch.zeros(2, 23, 3)), r"pose has shape \(2, 23, 3\), expected \(B, 24, 3\)"),
        (dict(pose=torch.zeros(24, 3)), r"pose has shape \(24, 3\), expected \(B, 24, 3\)"),
        (dict(pose=torch.full((1, 24, 3), float("nan"))), "pose contains NaN"),
        (dict(pose=torch.zeros(2, 24, 3), betas=torch.zeros(2, 11)), "betas has 11 values, expected at most num_betas = 10"),
        (dict(pose=torch.zeros(2, 24, 3), betas=torch.zeros(3, 10)), "betas has batch size 3"),
        (dict(pose=torch.zeros(2, 24, 3), transl=torch.zeros(2, 2)), r"transl has shape \(2, 2\), expected \(\*, 3\)"),
        (dict(pose=torch.zeros(1, 24, 3), transl=torch.tensor([[0.0, float("inf"), 0.0]])), "transl contains NaN or Inf"),
    ],
)
def test_bad_inputs_raise_anr_error(box, kwargs, field):
    with pytest.raises(AnrError, match=field):
        box(**kwargs)


def test_host_tensors_are_checked_inside_inputs_checked_on_host(box):
    # The context only skips read-backs of device tensors; CPU inputs are still checked, on the host.
    from anr_studio.errors import device_checks_enabled, inputs_checked_on_host

    with inputs_checked_on_host():
        assert not device_checks_enabled()
        with pytest.raises(AnrError, match="pose contains NaN"):
            box(torch.full((1, 24, 3), float("nan")))
    assert device_checks_enabled()


def test_save_load_round_trip(box, tmp_path):
    path = tmp_path / "body.safetensors"
    box.save(path)
    loaded = BodyModel.load(path)
    assert loaded.model_id == "box" and loaded.part_names == box.part_names and loaded.has_uvs
    torch.testing.assert_close(loaded.face_uvs, box.face_uvs)
    torch.testing.assert_close(loaded.face_uvs, loaded.uv[loaded.uv_faces])
    assert torch.equal(loaded.faces, box.faces) and loaded.faces.dtype == torch.long
    pose = torch.randn(3, 24, 3, generator=torch.Generator().manual_seed(2)) * 0.4
    torch.testing.assert_close(loaded(pose).vertices, box(pose).vertices)
    torch.testing.assert_close(loaded.phenotype_to_betas({"age": 0.2}), box.phenotype_to_betas({"age": 0.2}))


def test_phenotype_to_betas(box):
    betas = box.phenotype_to_betas({"age": 0.2, "weight": 0.9})
    a, w = 0.2, 0.9
    features = torch.tensor([1.0, a, w, a * a, a * w, w * w])
    torch.testing.assert_close(betas, box.phenotype_regressor @ features)
    with pytest.raises(AnrError, match="unknown phenotype 'wingspan'"):
        box.phenotype_to_betas({"wingspan": 1.0})
    with pytest.raises(AnrError, match=r"phenotype age is 1.5, expected a value in \[0.0, 1.0\]"):
        box.phenotype_to_betas({"age": 1.5})
    with pytest.raises(AnrError, match="phenotype data"):
        box_body().phenotype_to_betas({"age": 0.5})


def test_model_without_uvs_says_so():
    arrays = smpl_arrays(num_vertices=30, seed=4)
    body = BodyModel(arrays["v_template"], arrays["f"].astype(np.int64), arrays["weights"], arrays["J_regressor"])
    assert not body.has_uvs and body.uv.shape == (0, 2)
    with pytest.raises(AnrError, match="no UVs"):
        body.face_uvs


def test_constructor_checks(box):
    arrays = smpl_arrays(num_vertices=30, seed=5)
    faces = arrays["f"].astype(np.int64)
    with pytest.raises(AnrError, match="faces index vertices"):
        BodyModel(arrays["v_template"], faces + 100, arrays["weights"], arrays["J_regressor"])
    with pytest.raises(AnrError, match=r"lbs_weights has shape \(30, 23\), expected \(30, 24\)"):
        BodyModel(arrays["v_template"], faces, arrays["weights"][:, :23], arrays["J_regressor"])
    with pytest.raises(AnrError, match="parents"):
        BodyModel(arrays["v_template"], faces, arrays["weights"], arrays["J_regressor"], parents=[-1] + [0] * 23)


def test_broken_files(tmp_path, box):
    with pytest.raises(AnrError, match="not found"):
        BodyModel.load(tmp_path / "missing.safetensors")
    path = tmp_path / "body.safetensors"
    box.save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(AnrError, match=str(path) + r": not a body file \(.safetensors\) or an SMPL model \(.npz, .pkl\): it "):
        BodyModel.load(path)
    from safetensors.torch import save_file

    save_file({"v_template": torch.zeros(3, 3)}, str(path), metadata={"anr_body": "{}"})
    with pytest.raises(AnrError, match="tensor 'faces' is missing"):
        BodyModel.load(path)


def test_default_missing_or_broken(tmp_path, monkeypatch):
    missing = tmp_path / "resources" / "body" / "anr_body.safetensors"
    monkeypatch.setattr(model_module, "DEFAULT_BODY_PATH", missing)
    monkeypatch.setattr(model_module, "_default_cache", {})
    with pytest.raises(AnrError, match="anr_body.safetensors: the built-in body model is missing"):
        BodyModel.default()
    missing.parent.mkdir(parents=True)
    missing.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    with pytest.raises(AnrError, match="anr_body.safetensors"):
        BodyModel.default()
    box_body().save(missing)
    first = BodyModel.default()
    assert first is BodyModel.default() and first.model_id == "default"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu(box):
    pose = torch.randn(4, 24, 3, generator=torch.Generator().manual_seed(3)) * 0.5
    cpu = box(pose).vertices
    gpu = box_body().to("cuda")(pose.cuda()).vertices
    assert gpu.device.type == "cuda"
    torch.testing.assert_close(gpu.cpu(), cpu, atol=1e-5, rtol=0)


def test_phenotype_tables_by_name_and_extra_metadata_round_trip(box, tmp_path):
    by_name = box_body(with_phenotype=True)
    by_name.phenotype = {"names": ["age", "weight"], "ranges": {"age": [0.0, 1.0], "weight": [0.0, 1.0]},
                         "defaults": {"age": 0.5, "weight": 0.5}, "degree": 2}
    torch.testing.assert_close(by_name.phenotype_to_betas({"weight": 0.8}), box.phenotype_to_betas({"weight": 0.8}))
    by_name.extra_metadata = {"rest_pose": "SMPL T-pose"}
    by_name.extra_tensors = {"anny_vertex_ids": torch.arange(by_name.num_vertices)}
    by_name.save(tmp_path / "b.safetensors")
    again = BodyModel.load(tmp_path / "b.safetensors")
    assert again.extra_metadata == {"rest_pose": "SMPL T-pose"} and again.phenotype == by_name.phenotype
    assert list(again.extra_tensors) == ["anny_vertex_ids"]
    assert torch.equal(again.extra_tensors["anny_vertex_ids"], torch.arange(by_name.num_vertices))
