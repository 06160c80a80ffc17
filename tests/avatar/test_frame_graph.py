"""Whole-frame CUDA graphs (`anr_studio.avatar.frame.FrameGraphs`) render what the eager frame renders."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

import anr_studio.avatar.frame as frame_module
from anr_studio.avatar import Avatar
from anr_studio.errors import AnrError
from anr_studio.render import WeakPerspectiveCamera


def _poses(count: int) -> np.ndarray:
    """Returns (count, 24, 3) poses that differ in the root's roll and the limbs."""
    rng = np.random.default_rng(7)
    poses = rng.normal(0.0, 0.15, (count, 24, 3)).astype(np.float32)
    poses[:, 0] = 0.0
    poses[:, 0, 2] = np.linspace(-0.5, 0.5, count)
    return poses


def test_frame_graphs_stage_new_inputs_like_eager_on_the_cpu(avatar_path, body, monkeypatch):
    # Off CUDA the graph cache runs the frame step where it would replay: checks on the CPU that
    # every input (pose, betas, translation, camera, background kind) goes through the static
    # buffers and that the packed output unpacks to the eager frame, bit for bit.
    monkeypatch.setattr(frame_module, "capturable", lambda device: True)
    eager = Avatar.load(avatar_path, body=body)
    graphed = Avatar.load(avatar_path, body=body)
    graphed._frames = frame_module.FrameGraphs(max_graphs=8, warmup=0)
    poses = _poses(3)
    camera = eager.default_camera(40, "bob")
    image_bg = np.random.default_rng(1).integers(0, 256, (3, 40, 40, 3), dtype=np.uint8)
    calls = [
        dict(pose=poses[0]), dict(pose=poses[1]), dict(pose=poses[0], transl=[0.0, 0.1, 0.0]),
        dict(pose=poses, batch_size=2, background=None), dict(pose=poses, background=image_bg),
        dict(pose=poses[2], background=image_bg[0], betas=np.full(3, 0.5, np.float32)),
        dict(pose=poses[1], camera=None),
    ]
    for kwargs in calls:
        kwargs = {"camera": camera, "size": 40, **kwargs}
        want = eager.render("bob", **kwargs)
        got = graphed.render("bob", **kwargs)
        for g, w in zip(got, want):
            assert g.shape == w.shape and g.dtype == w.dtype
            np.testing.assert_array_equal(g, w)
    # New layouts: the first call, + transl, batch 2 and 1 without background, 3 over images, other betas shape;
    # the second and last calls (another pose, the default camera) replay the first graph.
    assert graphed._frames.graphs.captured == len(graphed._frames.graphs) == 6
    assert not np.array_equal(graphed.render("bob", poses[0], camera, size=40)[1], graphed.render("bob", poses[2], camera, size=40)[1])
    # Not replayable -> the eager path, with its errors and its results.
    weak = WeakPerspectiveCamera(scale=torch.tensor([20.0]), offset=torch.tensor([[20.0, 30.0]]))
    np.testing.assert_array_equal(graphed.render("bob", poses[0], weak, size=40)[0], eager.render("bob", poses[0], weak, size=40)[0])
    with pytest.raises(AnrError, match="pose contains NaN or Inf values"):
        graphed.render("bob", np.full((24, 3), np.nan), camera, size=40)
    with pytest.raises(AnrError, match="betas has batch size 2"):
        graphed.render("bob", poses, camera, betas=np.zeros((2, 3)), size=40)
    assert graphed._frames.graphs.captured == 6


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_whole_frame_graph_equals_eager_tuned_frame_on_cuda(avatar_path, body):
    # Same bf16 autocast and channels_last weights, op by op vs replayed. Differences come only from
    # summation order: vertex normals are summed with atomics, and cuDNN may pick other algorithms
    # inside the capture; in bf16 such a change flips the rounding of single activations by one
    # bf16 step (2^-8 relative). At the output one step of tanh's input in [-2, 2] is <= 2^-7,
    # i.e. <= 1 level of 255 after the [-1, 1] -> 0..255 map, plus 1 for rounding: max 3 levels
    # leaves one level for accumulation through the layers; the mean must stay far below one level.
    body = copy.deepcopy(body)  # moved to CUDA: keep the session's body on the CPU
    eager = Avatar.load(avatar_path, device="cuda", body=body).tune(graphs=False)
    graphed = Avatar.load(avatar_path, device="cuda", body=body).tune()
    assert eager._frames is None and graphed._frames is not None
    camera = eager.default_camera(48, "bob")
    poses = _poses(2)
    images = []
    warmup = graphed._frames.graphs.warmup
    for pose in [poses[0], poses[1]] * (warmup // 2 + 2):  # eager warm-up frames, capture, then replays
        before = graphed._frames.graphs.captured
        want, want_mask = eager.render("bob", pose, camera, size=48, background=None)
        got, got_mask = graphed.render("bob", pose, camera, size=48, background=None)
        diff = np.abs(got.astype(int) - want.astype(int))
        assert diff.max() <= 3 and diff.mean() < 0.1, (diff.max(), diff.mean())
        np.testing.assert_allclose(got_mask, want_mask, atol=2e-2)
        images.append((got, before))
    assert len(graphed._frames.graphs) == 1 and graphed._frames.graphs.captured == 1
    assert sum(before for _, before in images) >= 2  # replays with both poses, after the capture
    images = [image for image, _ in images]
    # New inputs are used: the two poses' frames differ far beyond the tolerance, and repeat exactly.
    assert np.abs(images[0].astype(int) - images[1].astype(int)).max() > 50
    assert np.abs(images[0].astype(int) - images[2].astype(int)).max() <= 3
    assert np.abs(images[0].astype(int) - images[-2].astype(int)).max() <= 3  # a replay of the first pose
    assert np.abs(images[1].astype(int) - images[-1].astype(int)).max() <= 3
