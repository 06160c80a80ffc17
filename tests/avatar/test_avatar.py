"""Avatar API: load/save, render (single, batched, backgrounds, RGBA), default camera, the one render path, bad input."""

import copy

import numpy as np
import pytest
import torch

from anr_studio.avatar import Avatar
from anr_studio.capture import Capture
from anr_studio.errors import AnrError
from anr_studio.model import NeuralTexture
from anr_studio.model.images import composite, to_pixels
from anr_studio.render import PerspectiveCamera
from anr_studio.train.evaluate import run_avatar
from anr_studio.avatar.file import read_avatar
from tests.train.helpers import tiny_body


@pytest.fixture()
def avatar(avatar_path, body):
    return Avatar.load(avatar_path, body=body)


def test_load_identities_betas(avatar, captures):
    assert avatar.identities == ["alice", "bob"]
    np.testing.assert_allclose(avatar.identity_betas("bob"), Capture(captures[1]).betas[: avatar.body.num_betas])
    assert avatar.texture("alice").shape == (8, 32, 32)
    assert not any(p.requires_grad for p in avatar.renderer.parameters())


def test_render_single_batched_and_backgrounds(avatar):
    pose = np.zeros((3, 24, 3), np.float32)
    pose[:, 0, 1] = [0.0, 0.5, -0.5]
    cam = avatar.default_camera(40, "alice")
    img, mask = avatar.render("alice", pose[0], cam, size=40)
    assert img.shape == (40, 40, 3) and img.dtype == np.uint8
    assert mask.shape == (40, 40) and mask.dtype == np.float32 and 0 <= mask.min() and mask.max() <= 1
    imgs, masks = avatar.render("alice", pose, cam, size=40, batch_size=2)
    assert imgs.shape == (3, 40, 40, 3) and masks.shape == (3, 40, 40)
    np.testing.assert_allclose(masks[0], mask, atol=1e-5)
    assert np.abs(imgs[0].astype(int) - img.astype(int)).max() <= 1
    assert np.abs(imgs[1].astype(int) - imgs[2].astype(int)).mean() > 0.5  # different poses differ
    # Colour backgrounds show through where the mask is 0; transparent output carries the mask as alpha.
    black, m = avatar.render("alice", pose[0], cam, size=40, background=(0, 0, 0))
    white, _ = avatar.render("alice", pose[0], cam, size=40, background=(255, 255, 255))
    diff = white.astype(float) - black.astype(float)
    np.testing.assert_allclose(diff, 255 * (1 - m)[..., None].repeat(3, -1), atol=1.01)
    rgba, m2 = avatar.render("alice", pose[0], cam, size=40, background=None)
    assert rgba.shape == (40, 40, 4)
    np.testing.assert_allclose(rgba[..., 3] / 255.0, m2, atol=1 / 255 + 1e-6)
    plate = np.full((40, 40, 3), 17, np.uint8)
    over_plate, _ = avatar.render("alice", pose[0], cam, size=40, background=plate)
    far = m < 1e-3
    if far.any():
        assert np.abs(over_plate[far].astype(int) - 17).max() <= 1
    with pytest.raises(AnrError, match="background"):
        avatar.render("alice", pose[0], cam, size=40, background=np.zeros((10, 10, 3), np.uint8))


def test_same_pixels_as_the_training_render_path(avatar, captures, body):
    from anr_studio.avatar.forward import render_views

    cap = Capture(captures[0])
    K, R, t = cap.camera(3)
    camera = PerspectiveCamera(K, R, t)
    img, mask = avatar.render("alice", cap.pose(3), camera, betas=cap.betas, transl=cap.transl(3),
                              size=cap.image_size, background=cap.background)
    background = torch.from_numpy(cap.background).permute(2, 0, 1)[None].float() / 127.5 - 1
    texture = NeuralTexture(8, 32)
    with torch.no_grad():
        texture.texture.copy_(avatar.texture("alice")[None])
        views = render_views(body, avatar.renderer, texture,
                             torch.from_numpy(cap.pose(3))[None], torch.from_numpy(cap.betas)[None],
                             torch.from_numpy(cap.transl(3))[None], camera, cap.image_size)
    truth = to_pixels(composite(views["rgb"], views["mask"], background))[0].numpy()
    assert np.abs(img.astype(int) - truth.astype(int)).max() <= 1
    np.testing.assert_allclose(mask, views["mask"][0, 0].numpy(), atol=1e-6)


def test_a_run_folder_without_its_avatar_file_opens_from_the_newest_checkpoint(avatar, avatar_path, tmp_path, body):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(avatar_path.parent, run)
    (run / "avatar.anr").unlink()
    again = run_avatar(run, body=body)
    assert again.identities == avatar.identities and again.source.endswith(".json")
    for name in avatar.identities:
        torch.testing.assert_close(again.texture(name), avatar.texture(name))
    betas, cam = avatar.identity_betas("bob"), avatar.default_camera(32, "bob")  # checkpoints keep no shapes
    np.testing.assert_array_equal(again.render("bob", np.zeros((24, 3)), cam, betas=betas, size=32)[0],
                                  avatar.render("bob", np.zeros((24, 3)), cam, size=32)[0])
    with pytest.raises(AnrError, match="holds neither avatar.anr nor a checkpoint"):
        run_avatar(tmp_path, body=body)
    with pytest.raises(AnrError, match="nothing: not found, expected a run folder of anr-studio train or an .anr avatar"):
        run_avatar(tmp_path / "nothing", body=body)


def test_default_camera_frames_the_body(avatar):
    for size in [(48, 48), (32, 64)]:
        _, mask = avatar.render("bob", np.zeros((24, 3)), None, size=size)
        body = avatar.render("bob", np.zeros((24, 3)), None, size=size, background=None)[1]
        cam = avatar.default_camera(size, "bob")
        from anr_studio.avatar.forward import body_maps

        maps = body_maps(avatar.body, torch.zeros(1, 24, 3), None, None, cam, size)
        m = maps.mask[0, 0].numpy()
        assert m[0].sum() == 0 and m[-1].sum() == 0 and m[:, 0].sum() == 0 and m[:, -1].sum() == 0  # whole body ...
        rows, cols = np.flatnonzero(m.any(1)), np.flatnonzero(m.any(0))
        assert rows[-1] - rows[0] > 0.6 * size[0] or cols[-1] - cols[0] > 0.6 * size[1]  # ... and large
        assert abs((rows[0] + rows[-1]) / 2 - size[0] / 2) < 0.1 * size[0]  # centred
        assert abs((cols[0] + cols[-1]) / 2 - size[1] / 2) < 0.1 * size[1]
        assert mask.shape == body.shape == size


def test_save_round_trip_and_add_identity(avatar, tmp_path):
    avatar.add_identity("copy", avatar.texture("bob") * 0.5, betas=np.array([0.3, 0.0], np.float32))
    path = avatar.save(tmp_path / "a.anr")
    again = Avatar.load(path, body=avatar.body)
    assert again.identities == ["alice", "bob", "copy"]
    torch.testing.assert_close(again.texture("copy"), avatar.texture("bob") * 0.5)
    np.testing.assert_allclose(again.identity_betas("copy"), [0.3, 0.0])
    a, b = read_avatar(path), read_avatar(avatar.source)
    for k, v in b.renderer_state.items():
        assert torch.equal(a.renderer_state[k], v), k
    img1, _ = avatar.render("copy", np.zeros((24, 3)), None, size=32)
    img2, _ = again.render("copy", np.zeros((24, 3)), None, size=32)
    np.testing.assert_array_equal(img1, img2)


def test_file_stores_the_model_config_and_older_files_load_from_the_training_config(avatar, avatar_path, tmp_path):
    from anr_studio.avatar.file import write_avatar

    data = read_avatar(avatar_path)
    assert data.meta["model"] == avatar.renderer.config.to_dict() and data.meta["renderer"] == "anr"
    for meta in ({k: v for k, v in data.meta.items() if k != "config"},  # what rendering needs, nothing more
                 {k: v for k, v in data.meta.items() if k != "model"}):  # a file from before "model" existed
        path = write_avatar(tmp_path / "x.anr", data.renderer_state, data.textures, meta)
        again = Avatar.load(path, body=avatar.body)
        assert again.renderer.config == avatar.renderer.config
        img, _ = again.render("bob", np.zeros((24, 3)), None, size=32)
        np.testing.assert_array_equal(img, avatar.render("bob", np.zeros((24, 3)), None, size=32)[0])
    meta = {k: v for k, v in data.meta.items() if k not in ("model", "config")}
    with pytest.raises(AnrError, match="metadata has no 'model' mapping"):
        Avatar.load(write_avatar(tmp_path / "y.anr", data.renderer_state, data.textures, meta), body=avatar.body)


def test_bad_input(avatar, avatar_path):
    with pytest.raises(AnrError, match=r"unknown identity 'zoe', expected one of alice, bob"):
        avatar.render("zoe", np.zeros((24, 3)), None, size=32)
    with pytest.raises(AnrError, match=r"pose has shape \(23, 3\)"):
        avatar.render("alice", np.zeros((23, 3)), None, size=32)
    with pytest.raises(AnrError, match="body_model is 'box' but the body in use is 'default'"):
        Avatar.load(avatar_path, body=tiny_body())
    with pytest.raises(AnrError, match="texture of 'x' has shape"):
        avatar.add_identity("x", torch.zeros(8, 16, 16))
    with pytest.raises(AnrError, match="file not found, expected an ANR Studio avatar file"):
        Avatar.load(avatar_path.parent / "missing.anr", body=avatar.body)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_render_on_cuda_matches_cpu(avatar_path, body):
    cpu = Avatar.load(avatar_path, body=body)
    gpu = Avatar.load(avatar_path, device="cuda", body=copy.deepcopy(body))  # load moves the body it is given
    a, ma = cpu.render("alice", np.zeros((24, 3)), None, size=48)
    b, mb = gpu.render("alice", np.zeros((24, 3)), None, size=48)
    assert np.abs(a.astype(int) - b.astype(int)).mean() < 1.0
    np.testing.assert_allclose(ma, mb, atol=1e-2)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_tuned_cuda_render_matches_eager(avatar_path, body):
    body = copy.deepcopy(body)  # moved to CUDA: keep the session's body on the CPU
    eager = Avatar.load(avatar_path, device="cuda", body=body)
    graphs = Avatar.load(avatar_path, device="cuda", body=body).tune(bf16=False, channels_last=False, graphs=True)
    fast = Avatar.load(avatar_path, device="cuda", body=body).tune()
    pose = np.zeros((3, 24, 3), np.float32)
    pose[:, 0, 1] = [0.0, 0.4, -0.4]
    ref, mref = eager.render("bob", pose, None, size=48, background=None)
    for av, tol in ((graphs, 1.0), (fast, 3.0)):
        for _ in range(2):  # the second call replays the captured graph
            img, m = av.render("bob", pose, None, size=48, background=None)
            assert img.shape == (3, 48, 48, 4) and m.dtype == np.float32
            assert np.abs(img.astype(int) - ref.astype(int)).mean() < tol
            np.testing.assert_allclose(m, mref, atol=0.05)
