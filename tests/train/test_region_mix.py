"""Region-mix training (try-on locality): draws, the loss on local and non-local renderers, training and exact resume."""

import torch
import torch.nn.functional as F

from anr_studio.model.renderer import RenderOutput
from anr_studio.avatar.file import read_avatar
from anr_studio.train.region_mix import RegionMixer, region_mix_loss
from anr_studio.train.trainer import Trainer
from tests.train.test_trainer import Recorder, small


def test_draws_are_reproducible_and_pick_another_identity():
    masks = torch.zeros((2, 16, 16))
    masks[0, :8], masks[1, :, :4] = 1, 1
    mixer = RegionMixer(masks, identities=3, seed=0)
    for step in range(20):
        partner, mask = mixer.draw(step, identity=step % 3)
        again = mixer.draw(step, identity=step % 3)
        assert partner != step % 3 and partner == again[0] and torch.equal(mask, again[1])
        assert mask.shape == (1, 1, 16, 16) and 0 < mask.mean() < 1


def _uv_grid(b: int, size: int) -> torch.Tensor:
    ys, xs = torch.meshgrid(torch.linspace(-0.9, 0.9, size), torch.linspace(-0.9, 0.9, size), indexing="ij")
    return torch.stack([xs, ys], -1).expand(b, -1, -1, -1).contiguous()


def _loss_of(render) -> torch.Tensor:
    t_a, t_b = torch.full((1, 4, 16, 16), 0.8), torch.full((1, 4, 16, 16), -0.8)  # A light, B dark
    uv = _uv_grid(4, 24)
    mixer = RegionMixer(torch.zeros((0, 16, 16)), identities=2, seed=0)
    p = {"uv": uv, **mixer.inputs(3, 0, [t_b, t_a], uv)}
    out = render(F.grid_sample(t_b.expand(4, -1, -1, -1), uv, align_corners=False))
    return region_mix_loss(render, t_b, out, p)


def test_a_pointwise_renderer_honours_the_mix_and_a_global_one_does_not():
    def pointwise(neural):
        return RenderOutput(rgb=neural[:, :3], mask_logits=torch.full_like(neural[:, 3:], 4.0), coarse_rgb=None)

    def global_mean(neural):  # every pixel sees the whole image, as a deep U-Net can
        return pointwise(neural.mean((2, 3), keepdim=True).expand_as(neural))

    local, non_local = float(_loss_of(pointwise)), float(_loss_of(global_mean))
    assert local < 1e-4 and non_local > 0.1


def test_training_with_the_mix_resumes_exactly(tmp_path, captures, body):
    recorder = Recorder()
    straight = Trainer(small("tiny", "optim.steps=4", "optim.checkpoint_every=2", "loss.region_mix=10"), captures,
                       tmp_path / "a", device="cpu", body=body, callbacks=[recorder])
    straight.run()
    assert all("region_mix" in info.losses for info in recorder.steps)
    assert any(info.losses["region_mix"] > 0 for info in recorder.steps)
    first = Trainer(small("tiny", "optim.steps=2", "loss.region_mix=10"), captures, tmp_path / "b", device="cpu", body=body)
    first.run()
    resumed = Trainer(small("tiny", "optim.steps=4", "loss.region_mix=10"), captures, tmp_path / "b", device="cpu",
                      body=body, resume=True)
    resumed.run()
    for k, v in straight.renderer.state_dict().items():
        assert torch.equal(v, resumed.renderer.state_dict()[k]), k
    stored = read_avatar(tmp_path / "a" / "avatar.anr").renderer_state
    assert all(torch.equal(stored[k], v.float()) for k, v in straight.renderer.state_dict().items())
