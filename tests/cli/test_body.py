import numpy as np
import pytest
import torch

from anr_studio.body import joint_index
from anr_studio.cli.body import BACKGROUND, bent_pose, parse_pose
from anr_studio.motion import MOTION_DIR
from anr_studio.body.lbs import axis_angle_to_matrix
from anr_studio.cli import main
from tests.body.synthetic import box_body


def read_png(path):
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert img is not None, f"{path} is not a readable PNG"
    return img[..., ::-1]  # RGB


def check_grid(img, size, rows):
    assert img.shape == (rows * size, 4 * size, 3)
    for r in range(rows):
        for c in range(4):
            cell = img[r * size : (r + 1) * size, c * size : (c + 1) * size].astype(np.int32)
            cell = cell[size // 8 :]  # below the caption
            body = np.abs(cell - BACKGROUND.astype(np.int32)).sum(-1) > 30
            assert body.mean() > 0.02, f"row {r} column {c}: almost no body pixels"
            if c >= 2:  # checker views show both colours: orange (R > B) and blue (B > R)
                pix = cell[body]
                orange = (pix[:, 0] > pix[:, 2] + 40).mean()
                blue = (pix[:, 2] > pix[:, 0] + 40).mean()
                assert orange > 0.15 and blue > 0.15, f"row {r} column {c}: orange {orange:.2f}, blue {blue:.2f}"
            else:  # shaded views are grey-ish skin, not checker colours
                pix = cell[body]
                assert (np.abs(pix[:, 0] - pix[:, 2]) < 60).mean() > 0.9


def test_body_command_with_a_saved_body(tmp_path, capsys):
    model = tmp_path / "box.safetensors"
    box_body().save(model)
    out = tmp_path / "body.png"
    assert main(["body", "--pose", "bent", "--out", str(out), "--size", "64", "--body-model", str(model)]) == 0
    assert "wrote" in capsys.readouterr().out
    check_grid(read_png(out), 64, rows=2)


@pytest.mark.parametrize("poses, rows", [("rest", 1), ("bent,aist", 3)])
def test_one_row_per_pose(tmp_path, poses, rows):
    model = tmp_path / "box.safetensors"
    box_body().save(model)
    out = tmp_path / "rest.png"
    assert main(["body", "--pose", poses, "--out", str(out), "--size", "48", "--model", str(model)]) == 0
    check_grid(read_png(out), 48, rows=rows)


def test_body_command_with_the_default_body(tmp_path):
    out = tmp_path / "body.png"
    assert main(["body", "--pose", "aist", "--out", str(out), "--size", "64"]) == 0
    check_grid(read_png(out), 64, rows=2)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--pose", "flying"], "--pose flying: unknown pose, expected rest, bent (elbows"),
        (["--pose", "bent,flying"], "--pose flying: unknown pose"),
        (["--pose", "missing.npz"], "missing.npz: file does not exist, expected a motion file (.npz or .bvh)"),
        (["--pose", "bent", "--size", "3"], "--size is 3"),
        (["--pose", "aist", "--frame", "100000"], "--frame 100000: past the 320 frames of aist, expected 0..319"),
        (["--pose", "walk:100000"], "--pose walk:100000: past the"),
    ],
)
def test_bad_arguments_give_exit_2_and_one_line(tmp_path, capsys, argv, message):
    code = main(["body", "--out", str(tmp_path / "x.png"), *argv])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("anr-studio: error: ") and message in err
    assert not (tmp_path / "x.png").exists()


def test_bad_pose_npz(tmp_path, capsys):
    path = tmp_path / "poses.npz"
    np.savez(path, poses=np.zeros((5, 23, 3)))
    assert main(["body", "--pose", str(path), "--out", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "poses has 69 values per frame, expected 72 (SMPL)" in err


def test_bent_pose_bends_at_90_degrees():
    body = box_body()
    joints = body(bent_pose()[None]).joints[0]

    def direction(a, b):
        d = joints[joint_index(b)] - joints[joint_index(a)]
        return d / d.norm()

    up, down, forward, back = (torch.tensor(v) for v in ([0.0, 1, 0], [0.0, -1, 0], [0.0, 0, 1], [0.0, 0, -1]))
    assert torch.dot(direction("left_shoulder", "left_elbow"), forward) > 0.99
    assert torch.dot(direction("left_elbow", "left_wrist"), up) > 0.99
    assert torch.dot(direction("right_shoulder", "right_elbow"), down) > 0.99
    assert torch.dot(direction("right_elbow", "right_wrist"), forward) > 0.99
    assert torch.dot(direction("left_hip", "left_knee"), forward) > 0.99
    assert torch.dot(direction("left_knee", "left_ankle"), down) > 0.99
    assert torch.dot(direction("right_knee", "right_ankle"), back) > 0.99


def test_aist_frame_is_upright():
    pose = torch.from_numpy(parse_pose("aist:100"))
    assert pose.shape == (24, 3) and torch.isfinite(pose).all()
    root = axis_angle_to_matrix(pose[0])
    assert root[1, 1] > 0.8  # the body's up axis points up
    raw = np.load(MOTION_DIR / "aist_demo.npz")["poses"][100].reshape(24, 3)
    torch.testing.assert_close(pose[1:], torch.from_numpy(raw[1:]))  # only the root is turned
    torch.testing.assert_close(pose, torch.from_numpy(parse_pose("aist", frame=100)))  # --frame: the same frame


def test_body_and_render_read_the_same_pose_forms(tmp_path):
    np.save(tmp_path / "p.npy", bent_pose().numpy().reshape(72))
    assert np.array_equal(parse_pose(str(tmp_path / "p.npy")), bent_pose().numpy())
    assert np.array_equal(parse_pose("rest"), np.zeros((24, 3), np.float32))
    box_body().save(tmp_path / "box.safetensors")
    out = tmp_path / "grid.png"
    assert main(["body", "--pose", f"walk:3,{tmp_path / 'p.npy'}", "--out", str(out), "--size", "48",
                 "--model", str(tmp_path / "box.safetensors")]) == 0
    check_grid(read_png(out), 48, rows=3)


def test_an_unusable_device_is_one_sentence(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["body", "--device", "tpu", "--out", str(tmp_path / "b.png")])
    assert "argument --device: invalid choice: 'tpu'" in capsys.readouterr().err
    if not __import__("torch").cuda.is_available():
        assert main(["body", "--device", "cuda", "--size", "16", "--out", str(tmp_path / "b.png")]) == 2
        assert capsys.readouterr().err == ("anr-studio: error: --device cuda: no CUDA GPU is available on this machine, "
                                           "expected --device cpu\n")
