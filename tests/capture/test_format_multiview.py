"""Multi-camera datasets: EasyMocap (yml cameras, json fits) and ZJU-MoCap (annots.npy, npy fits),
one camera imported, frames and masks undistorted, Rh/Th turned into SMPL's parameters."""

from __future__ import annotations

import json
import os

import cv2
import numpy as np
import pytest

from anr_studio.capture.formats.sources import axis_angle_to_rotations
from anr_studio.capture.importers import import_capture
from anr_studio.capture.smpl_convert import SMPL_PELVIS
from anr_studio.capture.check import coarse_masks
from anr_studio.errors import AnrError
from tests.capture.tool_scene import (H, N, W, distort, frame_images, iou, joint_error, reference_capture, smpl_pixels,
                                      world_scene, write_images)

K0 = np.array([[100.0, 0, W / 2], [0, 100.0, H / 2], [0, 0, 1]])
K1 = np.array([[120.0, 0, W / 2 + 2], [0, 121.0, H / 2 - 1], [0, 0, 1]])
D1 = np.array([0.9, 0.0, 0.0, 0.0, 0.0])


def _rh_th(world):
    """Returns EasyMocap's Rh, Th, poses (root zeroed) for SMPL fits: the body rotated about SMPL's origin."""
    r = axis_angle_to_rotations(world["pose"][:, 0])
    th = world["trans"] - r @ SMPL_PELVIS + SMPL_PELVIS  # inverse of trans = Th + R J0 - J0
    poses = world["pose"].reshape(N, 72).copy()
    poses[:, :3] = 0
    return world["pose"][:, 0], th, poses


def _cameras():
    world, E1 = world_scene()
    E0 = np.eye(4)
    E0[:3, :3] = cv2.Rodrigues(np.array([np.pi, 0.3, 0.0]))[0]
    E0[:3, 3] = [0.2, 0.1, 3.0]
    return world, E0, E1


def _truth_masks(tmp_path, world, K, E):
    ref = reference_capture(tmp_path, world, K, E)
    return coarse_masks(ref, range(N))


def _easymocap(tmp_path, world, E0, E1, recorded):
    src = tmp_path / "easymocap_seq"
    intri = cv2.FileStorage(str(_mk(src) / "intri.yml"), cv2.FILE_STORAGE_WRITE)
    extri = cv2.FileStorage(str(src / "extri.yml"), cv2.FILE_STORAGE_WRITE)
    intri.startWriteStruct("names", cv2.FileNode_SEQ)  # EasyMocap's FileStorage.write(..., 'list')
    for name in ("01", "02"):
        intri.write("", name)
    intri.endWriteStruct()
    for name, K, D, E in (("01", K0, np.zeros(5), E0), ("02", K1, D1, E1)):
        intri.write(f"K_{name}", K)
        intri.write(f"dist_{name}", D[None])
        extri.write(f"R_{name}", cv2.Rodrigues(E[:3, :3])[0])
        extri.write(f"Rot_{name}", E[:3, :3])
        extri.write(f"T_{name}", E[:3, 3:4])
    intri.release()
    extri.release()
    for name in ("01", "02"):
        write_images(src / "images" / name, frame_images(), "{:06d}.jpg")
    for i, m in enumerate(recorded):
        _mk(src / "mask" / "02")
        cv2.imwrite(str(src / "mask" / "02" / f"{i:06d}.png"), m.astype(np.uint8) * 255)
    rh, th, poses = _rh_th(world)
    for i in range(N):
        person = {"id": 0, "Rh": [rh[i].tolist()], "Th": [th[i].tolist()], "poses": [poses[i].tolist()],
                  "shapes": [world["betas"].tolist()]}
        other = {**person, "id": 1, "Th": [[5.0, 0, 0]]}
        (_mk(src / "output" / "smpl") / f"{i:06d}.json").write_text(json.dumps([person, other]))
    return src


def _mk(path):
    path.mkdir(parents=True, exist_ok=True)
    return path


def test_easymocap_camera_view_lands_on_the_person(tmp_path):
    world, E0, E1 = _cameras()
    truth = _truth_masks(tmp_path, world, K1, E1)
    recorded = np.stack([distort(m.astype(np.uint8), K1, D1) > 0 for m in truth])
    src = _easymocap(tmp_path, world, E0, E1, recorded)
    cap = import_capture(src, tmp_path / "out.h5", view="02")
    K, R, t = cap.camera(0)
    np.testing.assert_allclose(K, K1, rtol=1e-6)
    np.testing.assert_allclose(R, E1[:3, :3], atol=1e-6)
    np.testing.assert_allclose(t, E1[:3, 3], atol=1e-6)
    assert joint_error(cap, smpl_pixels(world, K1, E1[:3, :3], E1[:3, 3])) < 3.0
    imported = np.stack([cap.mask(i) > 127 for i in range(N)])
    assert iou(recorded, truth) < 0.9 and iou(imported, truth) > 0.95  # undistorted
    cap0 = import_capture(src, tmp_path / "cam01.h5")  # the first camera by default
    assert joint_error(cap0, smpl_pixels(world, K0, E0[:3, :3], E0[:3, 3])) < 3.0 and not cap0.has_masks
    with pytest.raises(AnrError, match=r"--view: '07' is not a camera of .*intri.yml, expected one of 01, 02"):
        import_capture(src, tmp_path / "x.h5", view="07")
    with pytest.raises(AnrError, match="000000.json: has no person with id 4, expected the person in every frame"):
        import_capture(src, tmp_path / "x.h5", person=4)
    (src / "output" / "smpl" / "000002.json").write_text(json.dumps([{"id": 0, "Rh": [[0, 0, 0]], "poses": [[0] * 72]}]))
    with pytest.raises(AnrError, match=r"000002.json: has no Th \(found Rh, id, poses\), expected EasyMocap's"):
        import_capture(src, tmp_path / "x.h5")
    assert not (tmp_path / "x.h5").exists()


def _zju(tmp_path, world, E0, E1, recorded, labels):
    src = _mk(tmp_path / "CoreView_377")
    R1 = np.round(E1[:3, :3], 4)  # ZJU-MoCap's rotations are stored rounded
    ims = [{"ims": [f"Camera_B1/{i:06d}.jpg", f"Camera_B2/{i:06d}.jpg"], "kintypes": []} for i in range(N)]
    annots = {"cams": {"K": [K0, K1], "D": [np.zeros((5, 1)), D1[:, None]], "R": [E0[:3, :3], R1],
                       "T": [E0[:3, 3:4] * 1000, E1[:3, 3:4] * 1000]}, "ims": ims}
    np.save(src / "annots.npy", annots, allow_pickle=True)  # as the dataset ships it: a pickled dict
    write_images(src / "Camera_B1", frame_images(), "{:06d}.jpg")
    write_images(src / "Camera_B2", frame_images(), "{:06d}.jpg")
    rh, th, poses = _rh_th(world)
    for i in range(N):
        np.save(_mk(src / "new_params") / f"{i}.npy", {"poses": poses[i:i + 1], "Rh": rh[i:i + 1], "Th": th[i:i + 1],
                                                      "shapes": world["betas"][None]}, allow_pickle=True)
        # the person's upper part in mask/ (0/1), the rest as part labels in mask_cihp/
        upper, lower = recorded[i].copy(), recorded[i].copy()
        rows = np.nonzero(recorded[i].any(1))[0]
        cut = (rows.min() + rows.max()) // 2 if len(rows) else 0
        upper[cut:], lower[:cut] = False, False
        cv2.imwrite(str(_mk(src / "mask" / "Camera_B2") / f"{i:06d}.png"), upper.astype(np.uint8))
        cv2.imwrite(str(_mk(src / "mask_cihp" / "Camera_B2") / f"{i:06d}.png"), (lower * labels).astype(np.uint8))
    return src


def test_zju_mocap_annots_and_params(tmp_path):
    world, E0, E1 = _cameras()
    truth = _truth_masks(tmp_path, world, K1, E1)
    recorded = np.stack([distort(m.astype(np.uint8), K1, D1) > 0 for m in truth])
    src = _zju(tmp_path, world, E0, E1, recorded, labels=np.uint8(12))
    cap = import_capture(src, tmp_path / "out.h5", view="Camera_B2")
    np.testing.assert_allclose(cap.camera(0)[2], E1[:3, 3], atol=1e-6)  # millimetres to metres
    assert joint_error(cap, smpl_pixels(world, K1, E1[:3, :3], E1[:3, 3])) < 3.0
    imported = np.stack([cap.mask(i) > 127 for i in range(N)])
    assert iou(imported, truth) > 0.95  # mask and mask_cihp labels united, undistorted
    assert cap.identity == "CoreView_377"


def test_zju_mocap_bad_input(tmp_path):
    world, E0, E1 = _cameras()
    src = _zju(tmp_path, world, E0, E1, np.ones((N, H, W), bool), labels=np.uint8(3))
    out = tmp_path / "out.h5"
    fit = np.load(src / "new_params" / "1.npy", allow_pickle=True).item()
    fit["Th"] = np.full((1, 3), np.nan)
    np.save(src / "new_params" / "1.npy", fit, allow_pickle=True)
    with pytest.raises(AnrError, match=r"1.npy: Th contains NaN or Inf values"):
        import_capture(src, out, view="1")
    (src / "new_params" / "1.npy").unlink()
    with pytest.raises(AnrError, match=r"1.npy: does not exist, expected the SMPL fit of Camera_B1/000001.jpg"):
        import_capture(src, out)
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    np.save(src / "annots.npy", np.array([Payload()], dtype=object), allow_pickle=True)
    with pytest.raises(AnrError, match=r"annots.npy: not read \(refusing global (posix|os|nt)\.system\)"):
        import_capture(src, out)
    assert not marker.exists() and not out.exists()


def test_a_folder_of_two_layouts_asks_for_format(tmp_path):
    src = tmp_path / "both"
    (src / "images").mkdir(parents=True)
    np.savez(src / "cameras.npz", intrinsic=K0, extrinsic=np.eye(4), height=H, width=W)
    (src / "intri.yml").write_text("%YAML:1.0\n")
    (src / "extri.yml").write_text("%YAML:1.0\n")
    with pytest.raises(AnrError, match="both: matches the layouts of people-snapshot and easymocap, expected one: "
                                       "choose with --format people-snapshot"):
        import_capture(src, tmp_path / "out.h5")


def test_easymocap_with_the_smpl_file_keeps_smpls_parameters(tmp_path):
    from anr_studio.body import BodyModel
    from tests.capture.smpl_like import write_smpl_like

    world, E0, E1 = _cameras()
    src = _easymocap(tmp_path, world, E0, E1, np.zeros((0, H, W), bool))
    model = write_smpl_like(tmp_path / "smpl_like.npz")
    cap = import_capture(src, tmp_path / "out.h5", view="02", body_model=model)
    assert cap.body_model_id != "default"
    np.testing.assert_allclose(cap.pose(1), world["pose"][1], atol=1e-5)  # SMPL's own root, from Rh
    np.testing.assert_allclose(cap.transl(1), world["trans"][1], atol=1e-5)  # Th moved by the file's pelvis
    assert joint_error(cap, smpl_pixels(world, K1, E1[:3, :3], E1[:3, 3]), BodyModel.from_smpl(model)) < 0.5
