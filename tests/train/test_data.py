"""Data: crop + rescale keeps image and intrinsics consistent, grid jitter bounds, step plans, bad captures."""

import numpy as np
import pytest
import torch

from anr_studio.capture import Capture
from anr_studio.errors import AnrError
from anr_studio.render import BACKGROUND_UV
from anr_studio.train.augment import crop_image, crop_intrinsics, sample_view
from anr_studio.train.config import DataConfig, OptimConfig
from anr_studio.train.data import FrameDataset, FramePools, StepBatches, open_captures, step_plan
from anr_studio.avatar.forward import grid_jitter
from tests.train.helpers import write_tiny_capture


@pytest.mark.parametrize("f, offset", [(0.5, (-10, -6)), (0.8, (3, 5)), (1.25, (20, 11))])
def test_crop_and_rescale_moves_pixels_where_the_new_intrinsics_project(f, offset):
    h, w, crop = 60, 80, 48
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32) + 0.5  # continuous pixel-centre coordinates
    image = np.stack([xs, ys], -1)  # a linear image: each pixel holds its own coordinate
    scaled = (round(h * f), round(w * f))
    out = crop_image(image, scaled, offset, crop, fill=-1)
    K = np.array([[100, 0, 40], [0, 100, 30], [0, 0, 1]], np.float32)
    K2 = crop_intrinsics(K, (h, w), scaled, offset)
    point = np.array([0.05, -0.1, 1.0], np.float32)  # a camera-space point
    src = (K @ point)[:2]
    dst = (K2 @ point)[:2]
    j, i = int(dst[0]), int(dst[1])  # the crop pixel that holds the projection
    assert 2 <= i < crop - 2 and 2 <= j < crop - 2
    # The crop pixel at the projection holds (up to resampling) the source coordinate of the point.
    centre = np.array([j + 0.5, i + 0.5])
    expected = (centre + np.array(offset[::-1])) / np.array([scaled[1] / w, scaled[0] / h])
    np.testing.assert_allclose(out[i, j], expected, atol=0.35 / min(f, 1))
    np.testing.assert_allclose(dst, src * np.array([scaled[1] / w, scaled[0] / h]) - np.array(offset[::-1]), atol=1e-4)


def test_sample_view_stays_in_range_and_covers_small_images():
    rng = np.random.default_rng(0)
    for _ in range(200):
        f, scaled, (y0, x0) = sample_view(rng, (64, 64), 64, (0.5, 1.25))
        assert 0.5 <= f <= 1.25
        assert min(0, scaled[0] - 64) <= y0 <= max(0, scaled[0] - 64)
        assert min(0, scaled[1] - 64) <= x0 <= max(0, scaled[1] - 64)


def test_grid_jitter_bounds_clamp_and_background():
    torch.manual_seed(0)
    uv = torch.rand(2, 32, 32, 2) * 2 - 1
    uv[:, :4] = 1.0  # at the texture's edge: jitter must not push it off
    uv[:, -5:] = BACKGROUND_UV
    out = grid_jitter(uv, 0.02, torch.Generator().manual_seed(1))
    fg = uv[..., 0] > -1.5
    delta = (out - uv)[fg]
    assert delta.abs().max() <= 0.02 + 1e-6
    assert delta.abs().max() > 0.015  # noise is really there and spans the range
    assert out[fg].min() >= -1 and out[fg].max() <= 1
    assert torch.equal(out[~fg], uv[~fg])  # background stays -2 (reads zeros)
    assert (delta.abs() > 0).float().mean() > 0.4  # clamping only removes noise at the edge


def test_step_plan_alternates_keyframe_and_renderer_only_steps():
    optim = OptimConfig(seed=3)
    kinds = [step_plan(s, 2, optim)[1] for s in range(8)]
    assert kinds == [True, False] * 4
    ids = {step_plan(s, 2, optim)[0] for s in range(50)}
    assert ids == {0, 1}
    assert not any(step_plan(s, 2, OptimConfig(split_optimization=False))[1] for s in range(10))


def test_batches_draw_keyframes_on_keyframe_steps_and_shard_by_rank(captures):
    caps = [Capture(p) for p in captures]
    pools = FramePools.from_captures(caps, warn=print)
    data, optim = DataConfig(batch_size=3), OptimConfig()
    seen = {0: set(), 1: set()}
    for rank in (0, 1):
        it = iter(StepBatches(pools, data, optim, start_step=0, rank=rank, world=2))
        for step in range(12):
            batch = next(it)
            identity, key_step = batch[0][0], batch[0][3]
            frames = {b[1] for b in batch}
            keys = set(caps[identity].keyframes.tolist())
            assert frames <= keys if key_step else not frames & keys
            seen[rank] |= {(identity, f) for f in frames}
    assert not seen[0] & seen[1]  # ranks read disjoint shards


def test_dataset_item_shapes_and_ranges(captures):
    caps = [Capture(p) for p in captures]
    ds = FrameDataset(caps, DataConfig(resolution=48))
    item = ds[(1, 2, 123, True)]
    assert item["frame"].shape == (48, 48, 3) and item["frame"].dtype == torch.uint8
    assert item["mask"].shape == (48, 48) and item["background"].shape == (48, 48, 3)
    assert item["K"].shape == (3, 3) and item["pose"].shape == (24, 3) and item["betas"].shape == (2,)
    assert item["identity"] == 1 and item["is_keyframe"] is True
    again = ds[(1, 2, 123, True)]
    assert torch.equal(item["frame"], again["frame"]) and torch.equal(item["K"], again["K"])  # seeded


def test_open_captures_rejects_mixed_resolutions_body_models_and_missing_masks(tmp_path, body, captures):
    other = write_tiny_capture(tmp_path / "wide.h5", "carol", body, size=(64, 80))
    with pytest.raises(AnrError, match=r"wide.h5: image size 64x80 differs from alice.h5 \(64x64\)"):
        open_captures([captures[0], str(other)])
    smpl = write_tiny_capture(tmp_path / "smpl.h5", "dave", body, body_model="ab" * 32)
    with pytest.raises(AnrError, match="smpl.h5: body model abababab"):
        open_captures([captures[0], str(smpl)])
    bare = write_tiny_capture(tmp_path / "bare.h5", "erin", body, masks=False)
    with pytest.raises(AnrError, match=r"bare.h5: masks are missing.*anr-studio masks"):
        open_captures([str(bare)])
    with pytest.raises(AnrError, match="identity 'alice' appears in more than one capture"):
        open_captures([captures[0], captures[0]])


def test_capture_without_keyframes_trains_on_all_training_frames(tmp_path, body):
    path = write_tiny_capture(tmp_path / "nokeys.h5", "nokeys", body, keyframes=False)
    cap = Capture(path)
    warnings_seen = []
    pools = FramePools.from_captures([cap], warn=warnings_seen.append)
    assert "anr-studio keyframes" in warnings_seen[0]
    np.testing.assert_array_equal(pools.keyframes[0], cap.split("train"))
    item = FrameDataset([cap], DataConfig(resolution=48))[(0, 1, 5, True)]
    assert item["is_keyframe"] is False and item["frame"].shape == (48, 48, 3)


def test_training_poses_refined_against_the_masks(tmp_path):
    import shutil

    import h5py

    from anr_studio.train.callbacks import Callback
    from anr_studio.train.data import refined_poses
    from anr_studio.train.trainer import Trainer
    from tests.standin import standin_body, write_standin_capture
    from tests.train.test_trainer import small

    body = standin_body()
    truth = Capture(write_standin_capture(tmp_path / "true.h5", body, frames=6, size=96))
    path = tmp_path / "noisy.h5"
    shutil.copy(truth.path, path)
    rng = np.random.default_rng(0)
    with h5py.File(path, "r+") as f:  # the masks show the stored poses; now the arms and the body are off in the image plane
        f["body/pose"][:, [16, 17, 18, 19], 2] += rng.normal(0, 0.15, (6, 4)).astype(np.float32)
        f["body/transl"][:, :2] += rng.normal(0, 0.04, (6, 2)).astype(np.float32)
    noisy = Capture(str(path))
    pose, transl = refined_poses(body, noisy, steps=60)
    train, test = noisy.split("train"), noisy.split("test")  # frames 0-4, and the held-out frame 5
    assert np.abs(transl - truth.transls)[train].mean() < 0.5 * np.abs(noisy.transls - truth.transls)[train].mean()
    arms = (train[:, None], [16, 17, 18, 19], 2)
    assert np.abs(pose - truth.poses)[arms].mean() < 0.9 * np.abs(noisy.poses - truth.poses)[arms].mean()
    # training never draws held-out frames: they keep their stored poses
    np.testing.assert_array_equal(pose[test], noisy.poses[test])
    np.testing.assert_array_equal(transl[test], noisy.transls[test])
    class Reported(Callback):
        calls: list = []

        def on_pose_fit(self, trainer, identity, done, total):
            self.calls.append((identity, done, total))

    trainer = Trainer(small("tiny", "data.refine_poses=60"), [str(path)], tmp_path / "run", device="cpu", body=body,
                      callbacks=[Reported()])
    assert Reported.calls == [(noisy.identity, 0, 5), (noisy.identity, 5, 5)]  # 5 training frames: one batch
    item = trainer.dataset[(0, 3, 0, False)]
    np.testing.assert_allclose(item["pose"].numpy(), pose[3], atol=1e-5)
    np.testing.assert_allclose(item["transl"].numpy(), transl[3], atol=1e-5)
    trainer.close()
