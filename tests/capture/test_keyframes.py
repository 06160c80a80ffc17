"""Keyframe selection: greedy coverage of UV texels and silhouettes, stored in the capture."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from anr_studio.capture import Capture
from anr_studio.capture.keyframes import greedy_cover, keyframe_budget, select_keyframes, texel_faces
from anr_studio.capture.synth.generate import SynthConfig, generate_capture
from anr_studio.cli import main
from anr_studio.errors import AnrError


@pytest.fixture(scope="module")
def cap_path(tmp_path_factory):
    torch.set_num_threads(1)
    path = tmp_path_factory.mktemp("kf") / "kf.h5"
    generate_capture(path, SynthConfig(seed=4, frames=24, size=64, motion="dance", views=3))
    return path


def test_greedy_cover_picks_the_best_frames_first():
    texels = np.array([[1, 1, 0, 0, 0, 0], [1, 1, 1, 1, 0, 0], [0, 0, 0, 0, 1, 1], [1, 0, 0, 0, 0, 0]], bool)
    outline = np.zeros((4, 2), bool)
    picked, cov, sil = greedy_cover(texels, outline, budget=4)
    assert picked == [1, 2]  # then nothing new: it stops before the budget
    np.testing.assert_allclose(cov, [4 / 6, 1.0])
    outline = np.array([[0, 0], [0, 0], [0, 0], [1, 1]], bool)
    picked, _, sil = greedy_cover(texels, outline, budget=3, silhouette_weight=0.6)
    assert picked == [3, 1, 2]  # the whole silhouette (0.6 * 2/2 + 1/6) beats 4/6 new texels
    np.testing.assert_allclose(sil, [1.0, 1.0, 1.0])


def test_texel_map_matches_the_uv_triangle_areas():
    from anr_studio.body import BodyModel

    body = BodyModel.default()
    grid = 128
    texel, face = texel_faces(body, grid)
    fu = body.face_uvs.double()
    area = 0.5 * torch.abs((fu[:, 1, 0] - fu[:, 0, 0]) * (fu[:, 2, 1] - fu[:, 0, 1])
                           - (fu[:, 2, 0] - fu[:, 0, 0]) * (fu[:, 1, 1] - fu[:, 0, 1]))
    # Each face holds about its UV area in texels (overlapping islands count once per face); a
    # few more because centres on shared edges count for both faces and tiny faces get one.
    assert 0.95 * float(area.sum()) < len(texel) / grid**2 < 1.15 * float(area.sum())
    assert set(face.tolist()) == set(range(len(fu)))  # every face sees at least one texel
    assert texel.min() >= 0 and texel.max() < grid**2
    big = int(torch.argmax(area))
    assert abs((face == big).sum() - float(area[big]) * grid**2) < 0.2 * float(area[big]) * grid**2 + 3


def test_budget_default_is_ten_percent_with_a_floor():
    assert keyframe_budget(300) == 30
    assert keyframe_budget(20) == 4
    assert keyframe_budget(3) == 3


def test_keyframes_cover_what_training_sees_and_are_stored(cap_path):
    sel = select_keyframes(cap_path)  # the default budget: 10 % of training frames, at least 4
    cap = Capture(cap_path)
    train = set(cap.split("train").tolist())
    assert set(sel.indices.tolist()) <= train and len(set(sel.indices.tolist())) == len(sel.indices)
    assert len(sel.indices) <= sel.budget
    assert np.all(np.diff(sel.coverage) >= 0) and np.all(np.diff(sel.silhouette_coverage) >= 0)
    assert sel.coverage[-1] >= 0.95
    assert sel.coverage[0] < sel.coverage[-1]  # one frame never sees the whole body
    np.testing.assert_array_equal(cap.keyframes, sel.indices)
    np.testing.assert_allclose(cap.keyframe_coverage, sel.coverage)


def test_keyframes_cli_and_bad_fraction(cap_path, capsys):
    assert main(["keyframes", str(cap_path), "--fraction", "0.3"]) == 0
    out = capsys.readouterr().out
    assert "keyframes (budget " in out and f"), written to {cap_path}: " in out and "coverage" in out
    assert len(Capture(cap_path).keyframes) >= 1
    with pytest.raises(AnrError, match="fraction"):
        select_keyframes(cap_path, fraction=0.0)


def test_keyframes_need_the_capture_body(tmp_path):
    from anr_studio.capture import CaptureWriter

    path = tmp_path / "smpl.h5"
    eye = np.eye(3, dtype=np.float32)
    with CaptureWriter(path, "x", 8, 8, 30.0, betas=np.zeros(10), camera=(eye, eye, np.zeros(3)),
                       body_model="ab" * 32) as w:
        w.append(np.zeros((8, 8, 3), np.uint8), pose=np.zeros((24, 3)), transl=np.zeros(3))
    with pytest.raises(AnrError, match="--body"):
        select_keyframes(path)


def test_select_keyframes_takes_a_body_object(tmp_path):
    """Any body model drives the coverage: here the stand-in figure its capture was made with."""
    from tests.standin import standin_body, write_standin_capture

    body = standin_body()
    path = write_standin_capture(tmp_path / "s.h5", body, frames=6, size=32)
    with pytest.raises(AnrError, match="not the built-in body"):
        select_keyframes(path, 0.5, write=False)  # the capture names "standin", not the built-in body
    sel = select_keyframes(path, 1.0, body=body, write=False)  # a budget of every training frame
    assert 1 <= len(sel.indices) <= sel.budget == 5 and set(sel.indices.tolist()) <= set(range(5))
    assert np.all(np.diff(sel.coverage) > 0) and sel.coverage[-1] == pytest.approx(1.0)
