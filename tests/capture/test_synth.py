"""Synthetic captures: the person is not the coarse body, tracking is noisy, seeds differ, splits hold out."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch

from anr_studio.capture import Capture
from anr_studio.capture.check import OUTLINE_RGB, contact_sheet
from anr_studio.capture.synth.generate import SynthConfig, compose, generate_capture, retime, tracker_noise
from anr_studio.cli import main
from benchmarks.synth_speed import angle_between, outside_share

NOISE_DEG = 5.0


@pytest.fixture(scope="module")
def caps(tmp_path_factory):
    """Two tiny captures of different seeds (12 frames at 64x64, dance motion)."""
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("synth")
    out = {}
    for seed in (0, 1):
        path = root / f"s{seed}.h5"
        generate_capture(path, SynthConfig(seed=seed, frames=12, size=64, motion="dance", tracking_noise=NOISE_DEG))
        out[seed] = Capture(path)
    return out


@pytest.mark.parametrize("seed", [0, 1])
def test_true_person_reaches_beyond_the_coarse_body(caps, seed):
    cap = caps[seed]
    assert outside_share(cap, truth=True) >= 0.05  # clothes and hair alone
    assert outside_share(cap) >= 0.05  # what training sees (plus tracking error)


def test_masks_are_soft_and_frames_show_the_person(caps):
    cap = caps[0]
    m = np.stack([cap.mask(i) for i in range(len(cap))])
    assert m.max() == 255 and m.min() == 0
    partial = ((m > 0) & (m < 255)).sum() / max((m > 0).sum(), 1)
    assert 0.02 < partial < 0.6  # antialiased edges, not a blurry blob
    assert 0.03 < (m > 127).mean() < 0.6
    border = m[:, [0, -1], :].sum() + m[:, :, [0, -1]].sum()
    assert border < 0.01 * m.sum()  # the cameras keep the person in frame
    frame, bg = cap.frame(0).astype(int), cap.background.astype(int)
    diff = np.abs(frame - bg).sum(-1)
    # Off the person the frame is the plate (up to sensor noise); on the person it is not.
    assert np.median(diff[m[0] == 0]) < 8
    assert np.median(diff[m[0] == 255]) > 20


def test_tracking_noise_matches_the_requested_degrees(caps):
    cap = caps[0]
    truth = cap.truth("pose")
    stored = np.stack([cap.pose(i) for i in range(len(cap))])
    angles = angle_between(stored, truth)  # (N, 24) degrees
    rms = float(np.sqrt(np.mean(angles**2)))
    assert 0.6 * NOISE_DEG < rms < 1.4 * NOISE_DEG
    shift = np.linalg.norm(np.stack([cap.transl(i) for i in range(len(cap))]) - cap.truth("transl"), axis=1)
    assert 0.002 < float(np.sqrt(np.mean(shift**2))) < 0.06
    np.testing.assert_allclose(cap.betas, cap.truth("betas"), atol=1e-6)


def test_noise_model_rms_and_zero():
    rng = np.random.default_rng(0)
    noise = tracker_noise(rng, (400, 24, 3), np.deg2rad(4.0))
    angle = np.rad2deg(np.linalg.norm(noise, axis=-1))
    assert abs(np.sqrt(np.mean(angle**2)) - 4.0) < 0.4
    pose = rng.normal(0, 0.5, (5, 24, 3))
    np.testing.assert_allclose(compose(np.zeros_like(pose), pose), pose, atol=1e-5)
    assert not tracker_noise(rng, (3, 24, 3), 0.0).any()


def test_retime_keeps_all_poses_without_repeats():
    rng = np.random.default_rng(1)
    poses = rng.normal(0, 0.3, (10, 24, 3)).astype(np.float32)
    transl = rng.normal(0, 1, (10, 3)).astype(np.float32)
    p, t, speed = retime(poses, transl, 19)
    assert p.shape == (19, 24, 3) and t.shape == (19, 3) and speed == pytest.approx(0.5)
    np.testing.assert_allclose(angle_between(p[::2], poses), 0, atol=1e-3)  # every other frame is an original
    p, t, speed = retime(poses, transl, 4)
    np.testing.assert_allclose(p, poses[:4])


def test_different_seeds_differ(caps):
    a, b = caps[0], caps[1]
    assert np.abs(a.betas - b.betas).max() > 0.05
    assert np.abs(a.frame(0).astype(int) - b.frame(0).astype(int)).mean() > 10
    assert np.abs(a.background.astype(int) - b.background.astype(int)).mean() > 10
    ia, ib = json.loads(a.attrs["synth_identity"]), json.loads(b.attrs["synth_identity"])
    assert ia != ib
    # The people's colours differ: compare mean colours under each true mask.
    ca = np.mean([a.frame(i)[a.mask(i) > 200].mean(0) for i in range(len(a))], 0)
    cb = np.mean([b.frame(i)[b.mask(i) > 200].mean(0) for i in range(len(b))], 0)
    assert np.abs(ca - cb).max() > 10


def test_split_holds_out_a_block_of_unseen_poses(caps):
    cap = caps[0]
    train, test = cap.split("train"), cap.split("test")
    assert len(test) >= 1 and len(train) >= 1
    assert not set(train) & set(test)
    assert sorted(set(train) | set(test)) == list(range(len(cap)))
    assert np.all(np.diff(test) == 1) and test[0] > train.max()  # one contiguous block after training
    truth = cap.truth("pose")
    # No test pose equals a training pose (a retimed or cut clip never repeats a frame).
    for i in test:
        assert angle_between(np.repeat(truth[i][None], len(train), 0), truth[train]).max(1).min() > 0.5


def test_same_seed_reproduces_and_views_cycle(tmp_path):
    cfg = SynthConfig(seed=3, frames=4, size=32, motion="dance", views=2)
    generate_capture(tmp_path / "a.h5", cfg)
    generate_capture(tmp_path / "b.h5", cfg)
    a, b = Capture(tmp_path / "a.h5"), Capture(tmp_path / "b.h5")
    assert np.array_equal(a.frame(3), b.frame(3)) and np.array_equal(a.pose(2), b.pose(2))
    R = np.stack([a.camera(i)[1] for i in range(4)])
    np.testing.assert_allclose(R[0], R[2])
    np.testing.assert_allclose(R[1], R[3])
    assert np.abs(R[0] - R[1]).max() > 0.5  # two views half a turn apart


def test_contact_sheet_draws_the_coarse_outline(caps):
    sheet = contact_sheet(caps[0], count=4, columns=2, tile=96)
    assert sheet.shape == (192, 192, 3) and sheet.dtype == np.uint8
    outline = np.all(np.abs(sheet.astype(int) - OUTLINE_RGB) < 40, -1)
    assert outline.sum() > 4 * 40  # each tile has an outline around the body


def test_cli_synth_writes_a_capture_and_rejects_bad_input(tmp_path, capsys):
    from anr_studio.motion import MOTION_DIR

    out = tmp_path / "cli.h5"
    npz = MOTION_DIR / "aist_demo.npz"  # a motion given as an SMPL .npz path
    assert main(["synth", "--out", str(out), "--seed", "2", "--frames", "3", "--size", "32", "--motion", str(npz),
                 "--views", "3", "--tracking-noise", "0", "--quiet"]) == 0
    said = capsys.readouterr()  # one line like the other writing commands; the summary as JSON only with --json
    assert said.out == "" and re.fullmatch(rf"anr-studio: wrote {re.escape(str(out))}: identity synth-2, 3 frames of "
                                           r"32x32 \(2 train, 1 test\)\n", said.err), said.err
    assert main(["synth", "--out", str(tmp_path / "j.h5"), "--frames", "2", "--size", "16", "--quiet", "--json"]) == 0
    said = capsys.readouterr()
    assert json.loads(said.out)["identity"] == "synth-0" and said.err.startswith("anr-studio: wrote ")
    cap = Capture(out)
    assert len(cap) == 3 and cap.image_size == (32, 32) and cap.has_masks
    np.testing.assert_allclose(cap.poses, cap.truth("pose"), atol=1e-5)  # --tracking-noise 0: no noise
    assert main(["synth", "--out", str(tmp_path / "m.h5"), "--motion", "moonwalk", "--quiet"]) == 2
    assert "moonwalk" in capsys.readouterr().err
    assert main(["synth", "--out", str(tmp_path / "f.h5"), "--fine-body", str(tmp_path / "typo.safetensors")]) == 2
    assert capsys.readouterr().err == (f"anr-studio: error: --fine-body {tmp_path / 'typo.safetensors'}: file not found, "
                                       "expected a body file (.safetensors) for the synthetic person\n")
    bad = tmp_path / "bad.h5"
    assert main(["synth", "--out", str(bad), "--frames", "1", "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "frames" in err[0]
    assert not bad.exists() and not list(tmp_path.glob(".bad.h5*"))


def test_true_person_skins_like_the_fine_body_where_it_is_undressed():
    """Bare skin (hands, neck, face) moves exactly like BodyModel on the fine body; clothes do not."""
    from anr_studio.body import BodyModel
    from anr_studio.capture.synth.appearance import FACE, SKIN, SHIRT, Identity
    from anr_studio.capture.synth.generate import FINE_BODY_PATH
    from anr_studio.capture.synth.person import TruePerson

    fine = BodyModel.load(FINE_BODY_PATH)
    betas = torch.linspace(-1, 1, fine.num_betas)
    person = TruePerson(fine, Identity.from_seed(5), betas)
    pose = torch.as_tensor(np.random.default_rng(0).normal(0, 0.3, (2, 24, 3)), dtype=torch.float32)
    transl = torch.tensor([[0.1, 0.0, -0.2], [0.0, 0.3, 0.0]])
    with torch.no_grad():
        ref = fine(pose, betas[None].expand(2, -1), transl).vertices
        ours = person.pose(pose, transl)
    nb = fine.num_vertices
    bare = np.zeros(len(person.rest), bool)
    bare[:nb] = np.isin(person.region[:nb], (SKIN, FACE)) & (np.linalg.norm(person.offset, axis=1) < 1e-9)
    assert bare.sum() > 500
    torch.testing.assert_close(ours[:, bare], ref[:, bare], atol=1e-4, rtol=0)
    shirt = person.region == SHIRT
    gap = (ours[:, shirt] - ref[:, shirt]).norm(dim=-1)
    assert float(gap.mean()) > 0.01  # the shirt stands off the body


def test_clothes_deform_with_the_pose():
    """A bent elbow bunches a long sleeve; spread legs flare a skirt; a straight pose leaves both alone."""
    from anr_studio.body import BodyModel
    from anr_studio.capture.synth.appearance import Identity
    from anr_studio.capture.synth.generate import FINE_BODY_PATH
    from anr_studio.capture.synth.person import L_ELBOW, L_HIP, R_HIP, TruePerson

    fine = BodyModel.load(FINE_BODY_PATH)
    seed = next(s for s in range(30) if Identity.from_seed(s).top == "longsleeve" and Identity.from_seed(s).bottoms == "skirt")
    person = TruePerson(fine, Identity.from_seed(seed), torch.zeros(fine.num_betas))
    pose = torch.zeros(2, 24, 3)
    pose[1, L_ELBOW, 1] = 1.5
    pose[1, L_HIP, 2] = 0.5
    pose[1, R_HIP, 2] = -0.5
    with torch.no_grad():
        dressed = person.pose(pose)
        fields, person.pose_fields = person.pose_fields, []
        plain = person.pose(pose)
        person.pose_fields = fields
    moved = (dressed - plain).norm(dim=-1)
    assert float(moved[0].max()) == 0.0  # rest pose: no pose-dependent change
    nb = fine.num_vertices
    assert float(moved[1, :nb].max()) > 0.02  # the sleeve at the elbow
    assert float(moved[1, nb:].max()) > 0.02  # the skirt's hem
