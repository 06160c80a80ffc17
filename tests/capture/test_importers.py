"""Importers: a folder of real PNGs with an .npz or metadata.json, a real mp4 with a pose .npz."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from anr_studio.body import BodyModel
from anr_studio.capture import Capture
from anr_studio.capture.importers import import_capture
from anr_studio.capture.smpl_convert import convert_smpl_fit
from anr_studio.cli import main
from anr_studio.errors import AnrError

H, W, N = 40, 32, 5


def _frames(n: int = N) -> np.ndarray:
    """Returns smooth frames (n,H,W,3) uint8 RGB that survive mp4 compression recognisably."""
    yy, xx = np.mgrid[0:H, 0:W]
    frames = []
    for i in range(n):
        r = 40 + 4 * xx + 10 * i
        g = 30 + 3 * yy
        b = np.full_like(xx, 200 - 20 * i)
        frames.append(np.stack([r, g, b], -1).clip(0, 255).astype(np.uint8))
    return np.stack(frames)


def _params(n: int = N, per_frame: bool = True) -> dict:
    rng = np.random.default_rng(0)
    K = np.array([[50.0, 0, W / 2], [0, 50.0, H / 2], [0, 0, 1]])
    E = np.eye(4)
    E[:3, 3] = [0.1, -0.2, 3.0]
    if per_frame:
        K = np.repeat(K[None], n, 0)
        E = np.repeat(E[None], n, 0)
        E[:, 0, 3] += np.arange(n) * 0.01
    return dict(poses=rng.normal(0, 0.2, (n, 72)), trans=rng.normal(0, 0.5, (n, 3)), betas=rng.normal(0, 1, (n, 10)),
                K=K, E=E, fps=np.array(25.0))


def _folder(tmp_path, frames, masks=True, ext=".png"):
    src = tmp_path / "subject1"
    (src / "images").mkdir(parents=True)
    if masks:
        (src / "masks").mkdir()
    for i, f in enumerate(frames):
        cv2.imwrite(str(src / "images" / f"{i:04d}{ext}"), f[..., ::-1])
        if masks:
            m = np.zeros((H, W), np.uint8)
            m[5 + i : 30, 8:24] = 1  # 0/1 label masks are scaled to 0/255
            cv2.imwrite(str(src / "masks" / f"{i:04d}.png"), m)
    return src


def test_folder_with_npz(tmp_path):
    frames = _frames()
    src = _folder(tmp_path, frames)
    p = _params()
    np.savez(src / "smpl.npz", **p)
    cap = import_capture(src, tmp_path / "out.h5")
    assert len(cap) == N and cap.image_size == (H, W) and cap.identity == "subject1" and cap.fps == 25.0
    for i in range(N):
        np.testing.assert_array_equal(cap.frame(i), frames[i])  # PNG is lossless
        assert cap.mask(i)[20, 16] == 255 and cap.mask(i)[2, 2] == 0
    # SMPL's parameters, converted to the built-in body
    ours = convert_smpl_fit(p["poses"].reshape(N, 24, 3), p["trans"], BodyModel.default())
    assert cap.body_model_id == "default"
    np.testing.assert_allclose(cap.pose(3), ours["pose"][3], atol=1e-6)
    np.testing.assert_allclose(cap.transl(1), ours["transl"][1], atol=1e-6)
    np.testing.assert_allclose(cap.betas, ours["betas"], atol=1e-6)
    K, R, t = cap.camera(4)
    np.testing.assert_allclose(R, np.eye(3))
    np.testing.assert_allclose(t, [0.14, -0.2, 3.0], atol=1e-6)
    np.testing.assert_allclose(K[0, 0], 50.0)
    assert not cap.static_camera
    # no background given: the per-pixel median of the frames
    np.testing.assert_allclose(cap.background.astype(int), np.median(frames, 0).round(), atol=1)


def test_folder_with_metadata_json_frames_and_cli(tmp_path, capsys):
    frames = _frames()
    src = _folder(tmp_path, frames, masks=False, ext=".jpg")
    p = _params(per_frame=False)
    meta = {"betas": p["betas"][0].tolist(), "K": p["K"].tolist(), "E": p["E"].tolist(), "fps": 24,
            # listed out of name order: frames follow the metadata, not the directory
            "frames": [{"file": f"{i:04d}.jpg", "poses": p["poses"][i].tolist(), "trans": p["trans"][i].tolist()}
                       for i in (1, 0, 2, 3, 4)]}
    (src / "metadata.json").write_text(json.dumps(meta))
    plate = np.full((H, W, 3), 99, np.uint8)
    cv2.imwrite(str(src / "background.png"), plate)
    out = tmp_path / "meta.h5"
    assert main(["import", str(src), "--out", str(out), "--identity", "ana"]) == 0
    assert "identity    ana" in capsys.readouterr().out
    cap = Capture(out)
    assert cap.static_camera and cap.fps == 24 and not cap.has_masks
    order = [1, 0, 2, 3, 4]
    ours = convert_smpl_fit(p["poses"][order].reshape(N, 24, 3), p["trans"][order], BodyModel.default())
    np.testing.assert_allclose(cap.pose(0), ours["pose"][0], atol=1e-6)
    assert np.abs(cap.frame(0).astype(int) - frames[1]).mean() < 3  # JPEG, the second image
    np.testing.assert_array_equal(cap.background, plate)


def test_video_with_poses_and_mask_video(tmp_path):
    frames = _frames(6)
    video = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 12, (W, H))
    mask_video = tmp_path / "masks.mp4"
    mwriter = cv2.VideoWriter(str(mask_video), cv2.VideoWriter_fourcc(*"mp4v"), 12, (W, H))
    for i, f in enumerate(frames):
        writer.write(f[..., ::-1].copy())
        m = np.zeros((H, W, 3), np.uint8)
        m[8:32, 8 + i : 20 + i] = 255
        mwriter.write(m)
    writer.release()
    mwriter.release()
    params = _params(6)
    params.pop("fps")
    np.savez(tmp_path / "poses.npz", **params)
    cap = import_capture(video, tmp_path / "video.h5", poses=tmp_path / "poses.npz", masks=mask_video)
    assert len(cap) == 6 and cap.image_size == (H, W) and cap.fps == pytest.approx(12)
    for i in range(6):
        assert np.abs(cap.frame(i).astype(int) - frames[i]).mean() < 8  # mp4v is lossy
        assert cap.mask(i)[20, 14 + i] > 200 and cap.mask(i)[20, 2] < 50


def test_failures_leave_no_output(tmp_path):
    frames = _frames()
    src = _folder(tmp_path, frames)
    np.savez(src / "smpl.npz", **_params(N + 1))
    out = tmp_path / "out.h5"
    with pytest.raises(AnrError, match=r"smpl.npz: poses has 6 rows, expected 5"):
        import_capture(src, out)
    (src / "smpl.npz").unlink()
    bad = _params()
    bad["E"][2, 3] = [0, 0, 1, 1]
    np.savez(src / "smpl.npz", **bad)
    with pytest.raises(AnrError, match="last row other than"):
        import_capture(src, out)
    (src / "smpl.npz").unlink()
    np.savez(src / "smpl.npz", **_params())
    cv2.imwrite(str(src / "images" / "0003.png"), np.zeros((H + 2, W, 3), np.uint8))  # a frame of another size
    with pytest.raises(AnrError, match="frame 3 is 32x42, expected 32x40"):
        import_capture(src, out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["subject1"]  # no out.h5, no temporary file
    with pytest.raises(AnrError, match="a video needs its poses"):
        import_capture(_touch(tmp_path / "v.mp4"), out)
    with pytest.raises(AnrError, match="has no images/ folder"):
        import_capture(tmp_path, out)
    (src / "smpl.npz").unlink()
    with pytest.raises(AnrError, match=r"subject1: holds no parameter file, expected the SMPL/camera parameters beside "
                                       r"images/: metadata.json or one SMPL .npz \(or name the file with --poses\)"):
        import_capture(src, out)
    np.savez(src / "a.npz", **_params())
    np.savez(src / "b.npz", **_params())
    with pytest.raises(AnrError, match=r"subject1: holds 2 .npz files \(a.npz, b.npz\), expected the SMPL/camera"):
        import_capture(src, out)


def test_parameters_without_rows_or_with_an_odd_frame_rate_are_one_sentence():
    from anr_studio.capture.importers import parse_parameters

    p = _params()
    with pytest.raises(AnrError, match=r"p.npz: fps is \[\], expected one number from 0.1 to 1000"):
        parse_parameters(dict(p, fps=np.array([])), N, "p.npz")
    with pytest.raises(AnrError, match=r"p.npz: fps is \[25.0, 30.0\]"):
        parse_parameters(dict(p, fps=np.array([25.0, 30.0])), N, "p.npz")
    with pytest.raises(AnrError, match="p.npz: describes 0 frames, expected at least one"):
        parse_parameters(dict(p, poses=np.zeros((0, 72))), 0, "p.npz")
    split = {k: v for k, v in p.items() if k != "poses"}
    with pytest.raises(AnrError, match=r"p.npz: global_orient has shape \(\), expected one row of values per frame"):
        parse_parameters(dict(split, global_orient=np.array(1.0), body_pose=np.zeros((N, 69))), N, "p.npz")


def _touch(path):
    path.write_bytes(b"")
    return path


def test_part_label_masks_are_refused_with_the_conversion(tmp_path):
    frames = _frames()
    src = _folder(tmp_path, frames)
    labels = np.zeros((H, W), np.uint8)
    labels[5:15, 8:24], labels[15:30, 8:24] = 3, 14  # ZJU-MoCap-style part labels
    cv2.imwrite(str(src / "masks" / "0002.png"), labels)
    np.savez(src / "smpl.npz", **_params())
    with pytest.raises(AnrError, match=r"0002.png: holds part labels \(0, 3, 14\).*\(labels > 0\) \* 255"):
        import_capture(src, tmp_path / "out.h5")
    assert not (tmp_path / "out.h5").exists()
