"""People-Snapshot folders: InstantAvatar / GART's preprocessed layout and the release layout."""

from __future__ import annotations

import pickle

import cv2
import h5py
import numpy as np
import pytest

from anr_studio.capture.check import check_alignment
from anr_studio.capture.importers import import_capture
from anr_studio.capture.check import coarse_masks
from anr_studio.errors import AnrError
from tests.capture.tool_scene import (H, N, W, distort, frame_images, iou, joint_error, reference_capture, smpl_pixels,
                                      world_scene, write_video)

K = np.array([[120.0, 0, W / 2], [0, 120.0, H / 2], [0, 0, 1]])


def _processed(tmp_path, world, E, masks):
    src = tmp_path / "male-3-casual"
    (src / "images").mkdir(parents=True)
    (src / "masks").mkdir()
    np.savez(src / "cameras.npz", intrinsic=K, extrinsic=E, height=H, width=W)
    np.savez(src / "poses.npz", betas=world["betas"][None].astype(np.float32),
             thetas=world["pose"].reshape(N, 72).astype(np.float32), transl=world["trans"].astype(np.float32))
    for i, f in enumerate(frame_images()):
        cv2.imwrite(str(src / "images" / f"image_{i:04d}.png"), f[..., ::-1])
        np.save(src / "masks" / f"mask_{i:04d}.npy", masks[i].astype(np.uint8))  # 0/1, as the preprocessing writes
    return src


def test_instant_avatar_folder_lands_on_the_person(tmp_path):
    world, E = world_scene()
    ref = reference_capture(tmp_path, world, K, E)
    masks = coarse_masks(ref, range(N))  # the person's silhouette: the converted body seen by the camera
    src = _processed(tmp_path, world, E, masks)
    cap = import_capture(src, tmp_path / "out.h5")
    assert len(cap) == N and cap.image_size == (H, W) and cap.identity == "male-3-casual"
    for i in range(N):  # the same parameters as the generic layout gives
        np.testing.assert_allclose(cap.pose(i), ref.pose(i), atol=1e-5)
        np.testing.assert_allclose(cap.transl(i), ref.transl(i), atol=1e-5)
        np.testing.assert_array_equal(cap.frame(i), frame_images()[i])
        np.testing.assert_array_equal(cap.mask(i) > 127, masks[i])
    K_, R, t = cap.camera(0)
    np.testing.assert_allclose(R, E[:3, :3], atol=1e-6)
    np.testing.assert_allclose(t, E[:3, 3], atol=1e-6)
    assert joint_error(cap, smpl_pixels(world, K, E[:3, :3], E[:3, 3])) < 3.0
    assert np.median(check_alignment(cap).iou) > 0.97


def test_body_pose_layout_and_png_masks(tmp_path):
    world, E = world_scene()
    src = _processed(tmp_path, world, E, np.ones((N, H, W), bool))
    np.savez(src / "poses.npz", betas=world["betas"], global_orient=world["pose"][:, 0],
             body_pose=world["pose"][:, 1:].reshape(N, 69), transl=world["trans"])
    for p in sorted((src / "masks").glob("*.npy")):
        p.unlink()
        cv2.imwrite(str(p.with_suffix(".png")), np.full((H, W), 255, np.uint8))
    cap = import_capture(src, tmp_path / "out.h5", fmt="gart")
    assert joint_error(cap, smpl_pixels(world, K, E[:3, :3], E[:3, 3])) < 3.0
    assert cap.mask(1).min() == 255


def test_release_folder_is_undistorted(tmp_path):
    world, E = world_scene()
    ref = reference_capture(tmp_path, world, K, E)
    truth = coarse_masks(ref, range(N))
    D = np.array([0.9, 0.0, 0.0, 0.0, 0.0])
    recorded = np.stack([distort(m.astype(np.uint8), K, D) for m in truth])
    src = tmp_path / "female-4-casual"
    src.mkdir()
    rt = cv2.Rodrigues(E[:3, :3])[0].reshape(3)
    with open(src / "camera.pkl", "wb") as f:  # the release's camera, a protocol-2 pickle of arrays
        pickle.dump({"camera_f": K[[0, 1], [0, 1]], "camera_c": K[:2, 2], "camera_k": D, "camera_rt": rt,
                     "camera_t": E[:3, 3], "width": W, "height": H}, f, protocol=2)
    with h5py.File(src / "reconstructed_poses.hdf5", "w") as h5:
        h5["betas"], h5["pose"], h5["trans"] = world["betas"], world["pose"].reshape(N, 72), world["trans"]
    with h5py.File(src / "masks.hdf5", "w") as h5:
        h5["masks"] = recorded
    write_video(src / "female-4-casual.mp4", frame_images())
    cap = import_capture(src, tmp_path / "out.h5")
    imported = np.stack([cap.mask(i) > 127 for i in range(N)])
    assert iou(recorded.astype(bool), truth) < 0.9  # the distortion matters ...
    assert iou(imported, truth) > 0.95  # ... and is undone
    assert joint_error(cap, smpl_pixels(world, K, E[:3, :3], E[:3, 3])) < 3.0
    assert cap.fps == pytest.approx(25)


def test_bad_people_snapshot_folders(tmp_path):
    world, E = world_scene()
    src = _processed(tmp_path, world, E, np.ones((N, H, W), bool))
    out = tmp_path / "out.h5"
    np.savez(src / "poses.npz", betas=world["betas"], thetas=world["pose"].reshape(N, 72))
    with pytest.raises(AnrError, match=r"poses.npz: has no transl \(found betas, thetas\), expected transl"):
        import_capture(src, out)
    np.savez(src / "poses.npz", betas=world["betas"], thetas=world["pose"].reshape(N, 72)[:, :70], transl=world["trans"])
    with pytest.raises(AnrError, match="poses has 70 values per frame, expected 72"):
        import_capture(src, out)
    bad = world["trans"].copy()
    bad[1, 2] = np.nan
    np.savez(src / "poses.npz", betas=world["betas"], thetas=world["pose"].reshape(N, 72), transl=bad)
    with pytest.raises(AnrError, match="trans contains NaN"):
        import_capture(src, out)
    np.savez(src / "poses.npz", betas=world["betas"], thetas=world["pose"].reshape(N, 72)[:2], transl=world["trans"][:2])
    with pytest.raises(AnrError, match=r"images: holds 3 images, expected 2 \(one per row of poses.npz\)"):
        import_capture(src, out)
    np.savez(src / "cameras.npz", intrinsic=K[:2], extrinsic=E, height=H, width=W)
    with pytest.raises(AnrError, match=r"cameras.npz: intrinsic has shape \(2, 3\), expected \(3, 3\)"):
        import_capture(src, out)
    assert not out.exists()
