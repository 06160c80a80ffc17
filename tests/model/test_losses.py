"""Each loss against a value computed by hand on tiny tensors, and ANRLoss's combination."""

import math

import pytest
import torch
from torch import nn

from anr_studio.model import ANRLoss, LossConfig, MultiScaleDiscriminator, RenderOutput, discriminator_input
from anr_studio.model.losses import (
    VGG_LAYER_WEIGHTS,
    feature_loss,
    gan_discriminator_loss,
    gan_generator_loss,
    mask_bce_loss,
    pixel_loss,
    tv_loss,
)


def val(x):
    """Returns a 0-dim tensor's value without autograd warnings."""
    return x.detach().item()


def t(values):
    """Returns a (1, 1, h, w) tensor from a nested list of rows."""
    return torch.tensor(values, dtype=torch.float32).view(1, 1, len(values), -1)


def test_pixel_loss_is_mask_weighted_mean_l1():
    pred, target, mask = t([[0.5, -1.0]]), t([[0.0, 0.0]]), t([[1.0, 0.5]])
    # (1 * 0.5 + 0.5 * 1) / (1 channel * 1.5 mask weight)
    assert val(pixel_loss(pred, target, mask)) == pytest.approx(1.0 / 1.5)
    rgb = torch.cat([pred, 2 * pred, 0 * pred], dim=1)  # 3 channels share the mask
    assert val(pixel_loss(rgb, torch.zeros_like(rgb), mask)) == pytest.approx((1.0 + 2.0 + 0.0) / (3 * 1.5))
    assert val(pixel_loss(pred, target, torch.zeros_like(mask))) == 0.0


def test_mask_bce_with_logits():
    logits, target = t([[0.0, 2.0]]), t([[1.0, 0.5]])
    s = 1 / (1 + math.exp(-2.0))
    expected = (math.log(2) + -0.5 * math.log(s) - 0.5 * math.log(1 - s)) / 2
    assert val(mask_bce_loss(logits, target)) == pytest.approx(expected, rel=1e-5)


def test_tv_loss_sums_vertical_and_horizontal_mean_differences():
    assert val(tv_loss(t([[0.0, 1.0], [3.0, 5.0]]))) == pytest.approx(3.5 + 1.5)
    assert val(tv_loss(torch.ones(2, 3, 4, 4))) == 0.0


def disc_outputs(*scales):
    """Returns outputs[scale][layer] from lists of plain numbers (each a 1x1xN tensor)."""
    return [[torch.tensor(layer, dtype=torch.float32).view(1, 1, 1, -1) for layer in scale] for scale in scales]


def test_lsgan_generator_side():
    fake = disc_outputs([[9.0], [0.5]], [[9.0], [1.0, 3.0]])  # last entry of each scale = logits
    assert val(gan_generator_loss(fake)) == pytest.approx((0.25 + 2.0) / 2)


def test_lsgan_discriminator_side():
    real = disc_outputs([[1.0]], [[0.0, 2.0]])
    fake = disc_outputs([[0.5]], [[1.0, 3.0]])
    assert val(gan_discriminator_loss(real, fake)) == pytest.approx((0.5 * 0.25 + 0.5 * (1.0 + 5.0)) / 2)


class TwoLayerExtractor(nn.Module):
    def forward(self, x):
        return [2 * x, nn.functional.avg_pool2d(x, 2)]


def test_feature_loss_with_explicit_extractor_and_layer_weights():
    pred = torch.full((1, 3, 4, 4), 0.5, requires_grad=True)
    target = torch.zeros(1, 3, 4, 4)
    loss = feature_loss(pred, target, TwoLayerExtractor(), [1.0, 0.5])
    assert val(loss) == pytest.approx(1.0 * 1.0 + 0.5 * 0.5)
    loss.backward()
    assert pred.grad.abs().sum() > 0


def fake_output(kind="anr", b=1, h=8, w=8):
    torch.manual_seed(0)
    rgb = (torch.rand(b, 3, h, w) * 2 - 1).requires_grad_(True)
    logits = torch.randn(b, 1, h, w, requires_grad=True) if kind != "dnr" else None
    coarse = (torch.rand(b, 3, h, w) * 2 - 1) if kind == "anr" else None
    return RenderOutput(rgb=rgb, mask_logits=logits, coarse_rgb=coarse)


def judged(loss_fn, out, frame, mask, background, normals):
    """Returns the discriminator's inputs (real, fake) in `ANRLoss.joint`: one call each, real first."""
    seen = []

    def disc(x):
        seen.append(x.detach())
        return [[x.mean(dim=1, keepdim=True)]]  # one scale, its logits

    loss_fn.joint(out, frame, mask, background, disc, normals)
    assert len(seen) == 2
    return seen


def test_the_discriminator_judges_the_frame_over_the_plate_through_the_true_mask_beside_the_normals():
    frame, mask, plate = t([[1.0, 1.0]]).expand(1, 3, 1, 2), t([[0.25, 1.0]]), t([[-1.0, 0.5]]).expand(1, 3, 1, 2)
    normals = torch.randn(1, 3, 1, 2)
    out = RenderOutput(rgb=torch.zeros(1, 3, 1, 2), mask_logits=torch.zeros(1, 1, 1, 2), coarse_rgb=None)
    real, fake = judged(ANRLoss(LossConfig(feature=0)), out, frame, mask, plate, normals)
    assert real.shape == fake.shape == (1, 6, 1, 2)
    assert torch.equal(real[:, :3], normals) and torch.equal(fake[:, :3], normals)
    assert real[0, 3:, 0, 0].tolist() == [-0.5] * 3  # 0.25 * 1 + 0.75 * -1
    assert real[0, 3:, 0, 1].tolist() == [1.0] * 3


def test_the_discriminator_terms_stay_away_from_the_mask():
    cfg = LossConfig(pixel=0, pixel_coarse=0, mask=0, feature=0, tv_image=0, tv_mask=0, adversarial=1.5)
    torch.manual_seed(2)
    disc = MultiScaleDiscriminator(6, num_scales=2, base_channels=4, num_layers=2)
    out = fake_output(b=2, h=16, w=16)
    frame, mask, bg = torch.rand(2, 3, 16, 16) * 2 - 1, (torch.rand(2, 1, 16, 16) > 0.5).float(), torch.rand(1, 3, 16, 16)
    total, d_loss, _ = ANRLoss(cfg).joint(out, frame, mask, bg, disc, torch.randn(2, 3, 16, 16))
    total.backward(inputs=[out.rgb, out.mask_logits], retain_graph=True)
    assert out.rgb.grad.abs().sum() > 0
    assert out.mask_logits.grad is None or out.mask_logits.grad.abs().sum() == 0
    d_loss.backward(inputs=list(disc.parameters()))  # the discriminator still learns
    assert all(p.grad is not None for p in disc.parameters())


def test_a_perfect_render_is_real_to_the_discriminator_even_where_the_plate_is_not_the_frames_background():
    # The frame's background is the plate plus sensor noise; I' shows the clean plate. Judged
    # against the composite, a render with the true colours and mask is the real image exactly.
    torch.manual_seed(1)
    plate = torch.rand(2, 3, 8, 8) * 2 - 1
    mask = (torch.rand(2, 1, 8, 8) > 0.5).float()
    person = torch.rand(2, 3, 8, 8) * 2 - 1
    frame = mask * person + (1 - mask) * (plate + 0.05 * torch.randn(2, 3, 8, 8))
    out = RenderOutput(rgb=person, mask_logits=torch.where(mask > 0, 30.0, -30.0), coarse_rgb=None)
    real, fake = judged(ANRLoss(LossConfig(feature=0)), out, frame, mask, plate, torch.zeros(2, 3, 8, 8))
    assert torch.allclose(real, fake, atol=1e-6)
    assert not torch.allclose(frame, fake[:, 3:], atol=1e-2)  # what the frame itself would have shown it


def test_anr_loss_total_is_the_weighted_sum_of_its_terms():
    cfg = LossConfig(pixel=2.0, pixel_coarse=3.0, mask=4.0, feature=5.0, tv_image=0.5, tv_mask=0.25, adversarial=1.5)
    extractor = lambda x: [x, x, x, 2 * x, x]  # noqa: E731 - five "layers", cheap
    loss_fn = ANRLoss(cfg, vgg=extractor)
    out = fake_output()
    frame, mask, bg = torch.rand(1, 3, 8, 8) * 2 - 1, (torch.rand(1, 1, 8, 8) > 0.5).float(), torch.zeros(1, 3, 8, 8)
    total, terms = loss_fn(out, frame, mask, bg)
    weights = {"pixel": 2.0, "pixel_coarse": 3.0, "mask": 4.0, "feature": 5.0, "tv_image": 0.5, "tv_mask": 0.25}
    assert set(terms) == set(weights) | {"total"}
    assert val(total) == pytest.approx(sum(w * val(terms[k]) for k, w in weights.items()), rel=1e-5)
    blended = torch.sigmoid(out.mask_logits) * out.rgb + (1 - torch.sigmoid(out.mask_logits)) * bg
    assert val(terms["pixel"]) == pytest.approx(val(pixel_loss(out.rgb, frame, mask)))
    assert val(terms["pixel_coarse"]) == pytest.approx(val(pixel_loss(out.coarse_rgb, frame, mask)))
    assert val(terms["tv_image"]) == pytest.approx(val(tv_loss(blended)), rel=1e-5)
    layers = sum(VGG_LAYER_WEIGHTS) + VGG_LAYER_WEIGHTS[3]  # the fourth "layer" doubles the difference
    assert val(terms["feature"]) == pytest.approx(layers * val((blended - frame).abs().mean()), rel=1e-5)
    disc = MultiScaleDiscriminator(6, num_scales=2, base_channels=4, num_layers=1)
    total_j, _, terms_j = loss_fn.joint(out, frame, mask, bg, disc, torch.randn(1, 3, 8, 8))
    assert set(terms_j) == set(terms) | {"adversarial", "discriminator"}
    assert val(total_j) == pytest.approx(val(total) + 1.5 * val(terms_j["adversarial"]), rel=1e-5)
    total.backward()
    assert out.rgb.grad.abs().sum() > 0 and out.mask_logits.grad.abs().sum() > 0


def test_dnr_and_one_stage_leave_out_missing_terms_and_dnr_blends_with_the_coarse_mask():
    loss_fn = ANRLoss(LossConfig(feature=0.0, adversarial=0.0))
    assert loss_fn.vgg is None and not loss_fn.uses_discriminator
    frame, mask, bg = torch.zeros(1, 3, 8, 8), torch.ones(1, 1, 8, 8), torch.full((1, 3, 8, 8), -1.0)
    _, terms = loss_fn(fake_output("anr-1stage"), frame, mask, bg)
    assert set(terms) == {"pixel", "mask", "tv_mask", "tv_image", "total"}
    dnr = fake_output("dnr")
    _, terms = loss_fn(dnr, frame, mask, bg)
    assert set(terms) == {"pixel", "tv_image", "total"}
    coarse = torch.zeros(1, 1, 8, 8)
    coarse[..., :4] = 1
    blended = loss_fn.blend(dnr, bg, coarse)
    torch.testing.assert_close(blended[..., :4], dnr.rgb[..., :4].detach(), check_stride=False)
    assert torch.equal(blended[..., 4:], bg[..., 4:])


def test_joint_equals_the_generator_loss_then_the_discriminator_loss_with_one_pass_per_image():
    cfg = LossConfig(feature=0.0, adversarial=1.5)
    frame, mask, bg = torch.rand(2, 3, 16, 16) * 2 - 1, (torch.rand(2, 1, 16, 16) > 0.5).float(), torch.zeros(1, 3, 16, 16)
    normals = torch.randn(2, 3, 16, 16)
    torch.manual_seed(1)
    disc = MultiScaleDiscriminator(6, num_scales=2, base_channels=4, num_layers=2)
    calls = []

    def counted(x):
        calls.append(x.shape[0])
        return disc(x)

    # Reference, by hand: the generator side with the discriminator frozen (it judges I' over a
    # detached mask), then the discriminator's loss on the composite real image and a detached I'.
    out = fake_output(b=2, h=16, w=16)
    loss_fn = ANRLoss(cfg)
    disc.requires_grad_(False)
    total, terms = loss_fn(out, frame, mask, bg)
    m = torch.sigmoid(out.mask_logits)
    fake = m.detach() * out.rgb + (1 - m.detach()) * bg
    total = total + 1.5 * gan_generator_loss(disc(discriminator_input(fake, normals)))
    total.backward()
    disc.requires_grad_(True)
    real = mask * frame + (1 - mask) * bg
    d_loss = gan_discriminator_loss(disc(discriminator_input(real, normals)),
                                    disc(discriminator_input(loss_fn.blend(out, bg).detach(), normals)))
    d_loss.backward()
    want_out = [out.rgb.grad.clone(), out.mask_logits.grad.clone()]
    want_disc = [p.grad.clone() for p in disc.parameters()]
    disc.zero_grad(set_to_none=True)

    out = fake_output(b=2, h=16, w=16)
    total_j, d_loss_j, terms_j = loss_fn.joint(out, frame, mask, bg, counted, normals)
    assert calls == [2, 2]  # real, then fake: once each
    total_j.backward(inputs=[out.rgb, out.mask_logits], retain_graph=True)
    assert all(p.grad is None for p in disc.parameters())  # the generator's loss never reaches D
    d_loss_j.backward(inputs=list(disc.parameters()))
    for got, want in zip([out.rgb.grad, out.mask_logits.grad], want_out):  # nor D's loss the renderer
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-7)
    for p, want in zip(disc.parameters(), want_disc):
        torch.testing.assert_close(p.grad, want, rtol=1e-4, atol=1e-6)
    assert val(total_j) == pytest.approx(val(total), rel=1e-6) and val(d_loss_j) == pytest.approx(val(d_loss), rel=1e-6)
    assert set(terms_j) == set(terms) | {"adversarial", "discriminator"}


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_the_discriminator_gradient_on_cuda_is_the_cpu_one_for_channels_last_inputs():
    # The coarser scales average-pool the input: CUDA's avg_pool2d has wrong gradients for channels_last inputs.
    torch.manual_seed(0)
    disc = MultiScaleDiscriminator(6, 3, 8, 2, "instance", False)
    x = torch.randn(2, 6, 64, 64)
    grads, tf32 = [], torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = False  # exact convolutions, so that only the pooling can differ
    for device in ("cpu", "cuda"):
        xd = x.to(device).contiguous(memory_format=torch.channels_last).requires_grad_()
        outputs = disc.to(device)(xd)
        loss = sum((out[-1] * torch.linspace(-1, 1, out[-1].numel(), device=device).view(out[-1].shape)).sum() for out in outputs)
        grads.append(torch.autograd.grad(loss, xd)[0].cpu())
    torch.backends.cudnn.allow_tf32 = tf32
    assert float((grads[0] - grads[1]).norm() / grads[0].norm()) < 1e-3
