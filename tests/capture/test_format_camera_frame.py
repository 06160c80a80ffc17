"""Camera-frame fits: WHAM, GLAMR, SMPLer-X, and ROMP / BEV's weak-perspective results."""

from __future__ import annotations

import collections
import json
import pickle

import numpy as np
import pytest

from anr_studio.capture.formats.camera_frame import SMPLX_PELVIS
from anr_studio.capture.importers import import_capture
from anr_studio.capture.smpl_convert import SMPL_PELVIS, smpl_joints
from anr_studio.cli import main
from anr_studio.errors import AnrError
from tests.capture.tool_scene import (H, N, W, camera_frame_fits, frame_images, joint_error, smpl_pixels, write_images,
                                      write_joblib, write_video)


def _scaled(f: float):
    fits = camera_frame_fits()
    fits["trans"] = fits["trans"] * (f / 120.0)  # the same apparent size under the tool's focal length
    return fits


def test_wham_output_with_frame_ids(tmp_path):
    f = float(np.hypot(W, H))  # WHAM's compute_cam_intrinsics
    fits = _scaled(f)
    K = np.array([[f, 0, W / 2], [0, f, H / 2], [0, 0, 1]])
    frames = frame_images(5)
    video = write_video(tmp_path / "clip.mp4", frames)
    results = collections.defaultdict(dict)  # demo.py: defaultdict(dict) by subject id
    results[0].update(pose=fits["pose"].reshape(N, 72).astype(np.float32), trans=fits["trans"].astype(np.float32),
                      pose_world=np.zeros((N, 72), np.float32), trans_world=np.zeros((N, 3), np.float32),
                      betas=np.zeros((N, 10), np.float32), verts=np.zeros((N, 4, 3), np.float32),
                      frame_ids=np.array([1, 2, 4]))
    results[3].update(pose=np.zeros((1, 72)), trans=np.array([[0, 0, 5.0]]), betas=np.zeros((1, 10)), frame_ids=np.array([0]))
    pkl = write_joblib(results, tmp_path / "wham_output.pkl")
    cap = import_capture(video, tmp_path / "out.h5", poses=pkl)
    assert len(cap) == N and cap.fps == pytest.approx(25)
    for i, j in enumerate([1, 2, 4]):  # the subject's frames only
        assert np.abs(cap.frame(i).astype(int) - frames[j]).mean() < 6
    np.testing.assert_allclose(cap.camera(0)[0], K, rtol=1e-6)
    assert joint_error(cap, smpl_pixels(fits, K)) < 3.0
    results[0]["frame_ids"] = np.array([1, 2, 9])
    write_joblib(results, pkl)
    with pytest.raises(AnrError, match="clip.mp4: has 5 frames, expected frame 9 that the fits name"):
        import_capture(video, tmp_path / "bad.h5", poses=pkl)
    results[0]["frame_ids"] = np.array([1, 2, 4])
    results[0]["trans"] = fits["trans"][:2]
    write_joblib(results, pkl)
    with pytest.raises(AnrError, match=r"subject 0: trans has shape \(2, 3\), expected \(3, 3\)"):
        import_capture(video, tmp_path / "bad.h5", poses=pkl)
    assert not (tmp_path / "bad.h5").exists()


def test_glamr_pickle_root_trans_is_the_pelvis(tmp_path):
    fits = camera_frame_fits()
    K = np.array([[120.0, 0, W / 2], [0, 120.0, H / 2], [0, 0, 1]])
    video = write_video(tmp_path / "basketball.mp4", frame_images())
    person = {"smpl_orient_cam": fits["pose"][:, 0], "smpl_pose": fits["pose"][:, 1:].reshape(N, 69),
              "smpl_beta": np.zeros((N, 10)), "root_trans_cam": smpl_joints(fits["pose"], fits["trans"])[:, 0],
              "cam_K": np.repeat(K[None], N, 0), "visible": np.ones(N), "frames": np.arange(N)}
    pkl = tmp_path / "basketball_seed1.pkl"
    pkl.write_bytes(pickle.dumps({"seq_name": "basketball", "person_data": {0: person}, "meta": {"num_fr": N}}))
    cap = import_capture(video, tmp_path / "out.h5", poses=pkl)
    assert joint_error(cap, smpl_pixels(fits, K)) < 3.0
    person["visible"] = np.array([1.0, 0.0, 1.0])  # infilled where unseen: those frames stay out
    pkl.write_bytes(pickle.dumps({"seq_name": "basketball", "person_data": {0: person}}))
    seen = import_capture(video, tmp_path / "seen.h5", poses=pkl)
    assert len(seen) == 2 and np.abs(seen.frame(1).astype(int) - frame_images()[2]).mean() < 6
    assert joint_error(seen, smpl_pixels({k: v[[0, 2]] for k, v in fits.items() if k != "betas"}, K)) < 3.0
    person["cam_K"] = np.repeat(np.diag([2.0, 2.0, 1.0])[None] @ K[None], N, 0)  # GLAMR ran on a 2x larger video
    pkl.write_bytes(pickle.dumps({"seq_name": "basketball", "person_data": {0: person}}))
    small = import_capture(video, tmp_path / "small.h5", poses=pkl)
    np.testing.assert_allclose(small.camera(0)[0], K, rtol=1e-6)  # scaled to these frames
    person["cam_K"][:, 0, 2] *= 1.5  # another aspect ratio: not these frames
    pkl.write_bytes(pickle.dumps({"seq_name": "basketball", "person_data": {0: person}}))
    with pytest.raises(AnrError, match=r"cam_K is for 384x192 frames, expected the frames the tool ran on"):
        import_capture(video, tmp_path / "bad.h5", poses=pkl)
    del person["cam_K"]
    pkl.write_bytes(pickle.dumps({"person_data": {0: person}}))
    with pytest.raises(AnrError, match=r"person_data\[0\]: has no cam_K .*expected GLAMR's"):
        import_capture(video, tmp_path / "out.h5", poses=pkl)


def test_smplerx_output_folder(tmp_path):
    fits = camera_frame_fits()
    frames_dir = tmp_path / "frames"
    write_images(frames_dir, frame_images(N + 1), "{:06d}.jpg", start=1)  # SMPLer-X reads <k:06d>.jpg from 1
    out = tmp_path / "smplerx_out"
    (out / "smplx").mkdir(parents=True)
    (out / "meta").mkdir()
    K = np.array([[110.0, 0, 60.0], [0, 115.0, 50.0], [0, 0, 1]])
    for i in range(N):
        k = i + 2  # fits for frames 2..4
        np.savez(out / "smplx" / f"{k:05}_0.npz", global_orient=fits["pose"][i, :1], body_pose=fits["pose"][i, 1:22],
                 left_hand_pose=np.zeros((15, 3)), right_hand_pose=np.zeros((15, 3)), jaw_pose=np.zeros((1, 3)),
                 leye_pose=np.zeros((1, 3)), reye_pose=np.zeros((1, 3)), betas=np.zeros((1, 10)),
                 expression=np.zeros((1, 10)),
                 # SMPL-X's translation puts its own pelvis where SMPL's fit has it
                 transl=(fits["trans"][i] + SMPL_PELVIS - SMPLX_PELVIS)[None])
        (out / "meta" / f"{k:05}_0.json").write_text(json.dumps(
            {"focal": [110.0, 115.0], "princpt": [60.0, 50.0], "bbox": [0, 0, W, H], "bbox_id": 0,
             "img_path": f"frames/{k:06d}.jpg"}))
    fits["pose"][:, 22:] = 0  # SMPL-X's hands are not SMPL's hand joints
    cap = import_capture(frames_dir, tmp_path / "out.h5", poses=out)
    assert len(cap) == N
    assert np.abs(cap.frame(0).astype(int) - frame_images(N + 1)[1]).mean() < 4  # image 000002.jpg
    assert joint_error(cap, smpl_pixels(fits, K)) < 3.0
    (out / "smplx" / "00003_0.npz").unlink()
    with pytest.raises(AnrError, match="person 0 has no fit for frame 3, expected one for every frame"):
        import_capture(frames_dir, tmp_path / "out.h5", poses=out)


def _romp_results(fits):
    """Returns ROMP's per-frame results: the fits as its weak-perspective cam, and a second, smaller person."""
    s = 2.0 / fits["trans"][:, 2]
    out = []
    for i in range(N):
        cam = np.array([[s[i], fits["trans"][i, 0] * s[i], fits["trans"][i, 1] * s[i]], [0.2, 0.5, 0.5]], np.float32)
        out.append({"cam": cam, "smpl_thetas": np.stack([fits["pose"][i].reshape(72), np.zeros(72)]).astype(np.float32),
                    "smpl_betas": np.zeros((2, 10), np.float32), "center_confs": np.array([0.9, 0.4]),
                    "cam_trans": np.zeros((2, 3), np.float32)})
    return out


def _romp_pixels(fits):
    """Returns ROMP's own drawing of the joints: weak perspective on the padded square (pj2d_org)."""
    side, left, top = max(H, W), 0, (max(H, W) - H) // 2
    s = 2.0 / fits["trans"][:, 2]
    joints = smpl_joints(fits["pose"], np.zeros((N, 3)))
    x = (s[:, None] * joints[..., 0] + (fits["trans"][:, 0] * s)[:, None] + 1) * side / 2 - left
    y = (s[:, None] * joints[..., 1] + (fits["trans"][:, 1] * s)[:, None] + 1) * side / 2 - top
    return np.stack([x, y], -1)


def _bev_results(fits):
    """Returns BEV's per-frame results: cam = (s, ty, tx) of the body centred on its hips, 11 betas."""
    tan = np.tan(np.radians(30))
    hips = smpl_joints(fits["pose"], np.zeros((N, 3)))[:, [1, 2]].mean(1)
    root = fits["trans"] + hips  # where BEV puts the hips' midpoint
    s = (1.0 / root[:, 2] - 1e-3) / tan
    cam = np.stack([s, root[:, 1] / (root[:, 2] * tan), root[:, 0] / (root[:, 2] * tan)], 1)
    return [{"cam": cam[i:i + 1].astype(np.float32), "smpl_thetas": fits["pose"][i].reshape(1, 72).astype(np.float32),
             "smpl_betas": np.zeros((1, 11), np.float32), "cam_trans": root[i:i + 1].astype(np.float32),
             "center_confs": np.array([0.8]), "pred_batch_ids": np.zeros(1)} for i in range(N)]


def test_romp_video_results_and_bev_per_frame_files(tmp_path):
    fits = camera_frame_fits()
    video = write_video(tmp_path / "dance.mp4", frame_images())
    np.savez(tmp_path / "video_results.npz",  # save_video_results: by '<index:08d>.png'
             results={f"{i:08d}.png": r for i, r in enumerate(_romp_results(fits))}, sequence_results={})
    cap = import_capture(video, tmp_path / "out.h5", poses=tmp_path / "video_results.npz")
    assert cap.camera(0)[0][0, 0] == max(H, W)
    assert joint_error(cap, _romp_pixels(fits)) < 3.0
    folder = tmp_path / "bev_frames"
    folder.mkdir()
    for i, r in enumerate(_bev_results(fits)):
        np.savez(folder / f"{i:08d}.npz", results=r)
    frames_dir = tmp_path / "frames"
    write_images(frames_dir, frame_images(), "{:08d}.jpg")
    assert main(["import", str(frames_dir), "--out", str(tmp_path / "bev.h5"), "--poses", str(folder),
                 "--format", "bev"]) == 0
    from anr_studio.capture import Capture

    bev = Capture(tmp_path / "bev.h5")
    K_bev = np.array([[443.4 * max(H, W) / 512, 0, W / 2], [0, 443.4 * max(H, W) / 512, H / 2], [0, 0, 1]])
    np.testing.assert_allclose(bev.camera(0)[0], K_bev, rtol=1e-6)
    assert joint_error(bev, smpl_pixels(fits, K_bev)) < 3.0
    (folder / "00000001.npz").unlink()
    np.savez(folder / "00000001.npz", results={"cam": np.zeros((1, 3)), "smpl_thetas": np.zeros((1, 72)),
                                               "smpl_betas": np.zeros((1, 11))})
    with pytest.raises(AnrError, match="frame 00000001: cam scale is 0, expected a positive scale"):
        import_capture(frames_dir, tmp_path / "x.h5", poses=folder)
    (folder / "00000001.npz").unlink()
    with pytest.raises(AnrError, match="bev_frames: has no result for frame 00000001, expected one per frame"):
        import_capture(frames_dir, tmp_path / "x.h5", poses=folder)
    assert not (tmp_path / "x.h5").exists()


def test_ambiguous_and_unknown_layouts(tmp_path, capsys):
    video = write_video(tmp_path / "clip.mp4", frame_images())
    pkl = tmp_path / "fits.pkl"
    pkl.write_bytes(pickle.dumps({"poses": np.zeros((N, 72))}))
    with pytest.raises(AnrError, match="fits.pkl: is not a result file of a known tool, expected 4D-Humans / PHALP, WHAM"):
        import_capture(video, tmp_path / "out.h5", poses=pkl)
    assert main(["import", str(video), "--out", str(tmp_path / "o.h5"), "--poses", str(pkl), "--format", "nope"]) == 2
    err = capsys.readouterr().err
    assert "--format: 'nope' is not a known layout, expected one of folder, people-snapshot" in err
    assert err.rstrip().endswith("glamr, smpler-x") and "gart" not in err  # the layouts, not every alias


def test_import_help_lists_the_tools_layouts(capsys):
    with pytest.raises(SystemExit):
        main(["import", "--help"])
    text = capsys.readouterr().out
    assert "Tools' layouts" in text and "--poses wham_output.pkl" in text and "example:" in text
