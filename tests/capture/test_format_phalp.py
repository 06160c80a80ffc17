"""4D-Humans / PHALP result pickles (joblib), read without running pickled code."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
import torch

from anr_studio.capture.formats.phalp import intrinsics
from anr_studio.capture.formats.sources import axis_angle_to_rotations
from anr_studio.capture.importers import import_capture
from anr_studio.errors import AnrError
from tests.capture.tool_scene import H, N, W, camera_frame_fits, frame_images, joint_error, smpl_pixels, write_images, write_joblib

K_PHALP = intrinsics(H, W)


def _fits():
    fits = camera_frame_fits()
    fits["trans"] = fits["trans"] * (K_PHALP[0, 0] / 120.0)  # PHALP's long lens: the person is further away
    return fits


def _person(fits, i, scale=1.0):
    rot = axis_angle_to_rotations(fits["pose"][i]).astype(np.float32)
    return {"global_orient": rot[:1], "body_pose": rot[1:], "betas": np.zeros(10, np.float32)}


def _results(fits, frames, other_track_frames=(1,)):
    """Returns PHALP's final_visuals_dic: track 7 in every frame, track 9 in some."""
    out = {}
    for t, name in enumerate(frames):
        tids = [7] + ([9] if t in other_track_frames else [])
        out[name] = {
            "time": t, "shot": 0, "tid": tids, "tracked_ids": list(tids), "tracked_time": [0] * len(tids),
            "bbox": [np.array([10.0, 20, 30, 60])] * len(tids),
            "smpl": [_person(fits, t)] + ([_person(fits, (t + 1) % N)] if len(tids) > 1 else []),
            "camera": [fits["trans"][t].astype(np.float32)] + ([np.array([1.0, 0, 60], np.float32)] if len(tids) > 1 else []),
            "size": [[H, W]] * len(tids),
            "img_path": [f"_DEMO/clip/img/{name}"] * len(tids), "img_name": [name] * len(tids),
            "conf": [np.float32(0.99)] * len(tids), "class_name": [np.int64(0)] * len(tids),
            "mask": [{"size": [H, W], "counts": b"PPa0"}] * len(tids),
            "embedding": [torch.zeros(8)] * len(tids),  # PHALP keeps torch tensors: never rebuilt on import
            "annotations": [None] * len(tids), "extra_data": [None] * len(tids),
        }
    return out


def _scene(tmp_path, compress=False):
    fits = _fits()
    names = [f"{i + 1:06d}.jpg" for i in range(N)]
    frames_dir = tmp_path / "img"
    write_images(frames_dir, frame_images(), "{:06d}.jpg", start=1)
    pkl = write_joblib(_results(fits, names), tmp_path / "demo_clip.pkl", compress=compress)
    return fits, frames_dir, pkl


@pytest.mark.parametrize("compress", [False, True])
def test_phalp_pickle_lands_on_the_person(tmp_path, compress):
    fits, frames_dir, pkl = _scene(tmp_path, compress)
    cap = import_capture(frames_dir, tmp_path / "out.h5", poses=pkl)
    assert len(cap) == N and cap.image_size == (H, W)
    K, R, t = cap.camera(0)
    np.testing.assert_allclose(K, K_PHALP, rtol=1e-6)  # f = 5000 * max(H, W) / 256, centre of the padded square
    np.testing.assert_allclose(R, np.eye(3), atol=1e-7)
    np.testing.assert_allclose(t, 0, atol=1e-7)
    assert joint_error(cap, smpl_pixels(fits, K_PHALP)) < 3.0


def test_phalp_track_choice_and_bad_input(tmp_path):
    fits, frames_dir, pkl = _scene(tmp_path)
    out = tmp_path / "out.h5"
    with pytest.raises(AnrError, match=r"track 9 is not seen in frame '000001.jpg', expected the person in every frame"):
        import_capture(frames_dir, out, poses=pkl, person=9)
    with pytest.raises(AnrError, match="has no track 4, expected one of 7, 9"):
        import_capture(frames_dir, out, poses=pkl, fmt="4d-humans", person=4)
    bad = _results(fits, [f"{i + 1:06d}.jpg" for i in range(N)])
    del bad["000002.jpg"]["smpl"][0]["betas"]
    write_joblib(bad, pkl)
    with pytest.raises(AnrError, match=r"frame '000002.jpg': has no betas \(found body_pose, global_orient\)"):
        import_capture(frames_dir, out, poses=pkl)
    bad = _results(fits, [f"{i + 1:06d}.jpg" for i in range(N)])
    bad["000003.jpg"]["smpl"][0]["body_pose"] = np.zeros((21, 3, 3), np.float32)
    write_joblib(bad, pkl)
    with pytest.raises(AnrError, match=r"body_pose has shape \(21, 3, 3\), expected \(23, 3, 3\)"):
        import_capture(frames_dir, out, poses=pkl)
    bad = _results(fits, [f"{i + 1:06d}.jpg" for i in range(N)])
    bad["000002.jpg"]["smpl"][0]["betas"] = np.zeros(11, np.float32)  # another shape space midway
    write_joblib(bad, pkl)
    with pytest.raises(AnrError, match=r"frame '000002.jpg': betas has shape \(11,\), expected \(10,\)"):
        import_capture(frames_dir, out, poses=pkl)
    bad = _results(fits, [f"{i + 1:06d}.jpg" for i in range(N)])
    bad["000001.jpg"]["camera"][0][2] = np.nan
    write_joblib(bad, pkl)
    with pytest.raises(AnrError, match="camera contains NaN"):
        import_capture(frames_dir, out, poses=pkl)
    assert not out.exists()


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_malicious_pickle_is_refused_without_running(tmp_path):
    _, frames_dir, _ = _scene(tmp_path)
    marker = tmp_path / "ran"
    pkl = tmp_path / "evil.pkl"
    pkl.write_bytes(pickle.dumps({"000001.jpg": {"smpl": [_Payload(marker)], "camera": [], "tid": []}}))
    with pytest.raises(AnrError, match=r"evil.pkl: not read \(refusing global (posix|os|nt)\.system\)"):
        import_capture(frames_dir, tmp_path / "out.h5", poses=pkl, fmt="phalp")
    assert not marker.exists()
    pkl.write_bytes(b"\x80\x04garbage")
    with pytest.raises(AnrError, match="evil.pkl: damaged or not a pickle"):
        import_capture(frames_dir, tmp_path / "out.h5", poses=pkl)
