"""Each loss against a value computed by hand on tiny tensors, and ANRLoss's combination."""

import math

import pytest
import torch
from torch import nn

from anr_studio.model import ANRLoss, LossConfig, MultiScaleDiscriminator, RenderOutput
from anr_studio.model.losses import (
    feature_loss,
    feature_matching_loss,
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


def test_lsgan_and_hinge_generator_sides():
    fake = disc_outputs([[9.0], [0.5]], [[9.0], [1.0, 3.0]])  # last entry of each scale = logits
    assert val(gan_generator_loss(fake, "lsgan")) == pytest.approx((0.25 + 2.0) / 2)
    assert val(gan_generator_loss(fake, "hinge")) == pytest.approx((-0.5 - 2.0) / 2)


def test_lsgan_and_hinge_discriminator_sides():
    real = disc_outputs([[1.0]], [[0.0, 2.0]])
    fake = disc_outputs([[0.5]], [[1.0, 3.0]])
    assert val(gan_discriminator_loss(real, fake, "lsgan")) == pytest.approx((0.5 * 0.25 + 0.5 * (1.0 + 5.0)) / 2)
    assert val(gan_discriminator_loss(real, fake, "hinge")) == pytest.approx((1.5 + (0.5 + 3.0)) / 2)


def test_feature_matching_skips_logits_and_detaches_real():
    fake = disc_outputs([[1.0, 1.0], [2.0], [100.0]], [[0.5], [0.0], [100.0]])
    real = disc_outputs([[0.0, 2.0], [0.0], [0.0]], [[0.0], [0.0], [0.0]])
    for x in [x for scale in real + fake for x in scale]:
        x.requires_grad_(True)
    loss = feature_matching_loss(fake, real)
    assert val(loss) == pytest.approx(((1.0 + 2.0) + (0.5 + 0.0)) / 2)
    loss.backward()
    assert all(x.grad is None for scale in real for x in scale)
    assert fake[0][0].grad is not None and fake[0][-1].grad is None  # logits are not matched


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


def test_discriminator_real_is_the_frame_over_the_plate_through_the_true_mask():
    frame, mask, plate = t([[1.0, 1.0]]).expand(1, 3, 1, 2), t([[0.25, 1.0]]), t([[-1.0, 0.5]]).expand(1, 3, 1, 2)
    real = ANRLoss(LossConfig(feature=0)).real_image(frame, mask, plate)
    assert real[0, :, 0, 0].tolist() == [-0.5] * 3  # 0.25 * 1 + 0.75 * -1
    assert real[0, :, 0, 1].tolist() == [1.0] * 3
    as_frame = ANRLoss(LossConfig(feature=0, discriminator_real="frame"))
    assert torch.equal(as_frame.real_image(frame, mask, plate), frame)


def test_the_discriminator_judges_images_with_instance_noise_and_a_clean_condition():
    image, normals = torch.zeros(4, 3, 64, 64), torch.ones(4, 3, 64, 64)
    judged = ANRLoss(LossConfig(feature=0, discriminator_noise=0.05)).judged(image, normals)
    assert judged.shape == (4, 6, 64, 64)
    assert judged[:, 3:].std().item() == pytest.approx(0.05, rel=0.05)  # cat(condition, image)
    assert torch.equal(judged[:, :3], normals)
    clean = ANRLoss(LossConfig(feature=0, discriminator_noise=0.0)).judged(image, normals)
    assert torch.equal(clean[:, 3:], image)


@pytest.mark.parametrize("mask_grad", [True, False])
def test_gan_mask_grad_off_keeps_the_discriminator_terms_away_from_the_mask(mask_grad):
    cfg = LossConfig(pixel=0, pixel_coarse=0, mask=0, feature=0, feature_matching=6.0, tv_image=0, tv_mask=0,
                     adversarial=1.5, gan_mask_grad=mask_grad)
    torch.manual_seed(2)
    disc = MultiScaleDiscriminator(3, num_scales=2, base_channels=4, num_layers=2)
    out = fake_output(b=2, h=16, w=16)
    frame, mask, bg = torch.rand(2, 3, 16, 16) * 2 - 1, (torch.rand(2, 1, 16, 16) > 0.5).float(), torch.rand(1, 3, 16, 16)
    total, d_loss, _ = ANRLoss(cfg).joint(out, frame, mask, bg, disc)
    total.backward(inputs=[out.rgb, out.mask_logits], retain_graph=True)
    assert out.rgb.grad.abs().sum() > 0
    reached = out.mask_logits.grad is not None and out.mask_logits.grad.abs().sum() > 0
    assert reached == mask_grad
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
    loss_fn = ANRLoss(LossConfig(feature=0))
    blended = loss_fn.blend(out, plate)
    assert torch.allclose(loss_fn.real_image(frame, mask, plate), blended, atol=1e-6)
    assert not torch.allclose(frame, blended, atol=1e-2)  # what "frame" would have shown the discriminator


def test_anr_loss_total_is_the_weighted_sum_of_its_terms():
    cfg = LossConfig(pixel=2.0, pixel_coarse=3.0, mask=4.0, feature=5.0, feature_matching=6.0,
                     tv_image=0.5, tv_mask=0.25, adversarial=1.5, vgg_layer_weights=(1, 1, 1, 1, 1))
    extractor = lambda x: [x, x, x, 2 * x, x]  # noqa: E731 - five "layers", cheap
    loss_fn = ANRLoss(cfg, vgg=extractor)
    assert loss_fn.feature_source == "vgg19"
    out = fake_output()
    frame, mask, bg = torch.rand(1, 3, 8, 8) * 2 - 1, (torch.rand(1, 1, 8, 8) > 0.5).float(), torch.zeros(1, 3, 8, 8)
    disc = MultiScaleDiscriminator(6, num_scales=2, base_channels=4, num_layers=1)
    total, terms = loss_fn(out, frame, mask, bg, disc, torch.randn(1, 3, 8, 8))
    weights = {"pixel": 2.0, "pixel_coarse": 3.0, "mask": 4.0, "feature": 5.0, "feature_matching": 6.0,
               "tv_image": 0.5, "tv_mask": 0.25, "adversarial": 1.5}
    assert set(terms) == set(weights) | {"total"}
    assert val(total) == pytest.approx(sum(w * val(terms[k]) for k, w in weights.items()), rel=1e-5)
    blended = torch.sigmoid(out.mask_logits) * out.rgb + (1 - torch.sigmoid(out.mask_logits)) * bg
    assert val(terms["pixel"]) == pytest.approx(val(pixel_loss(out.rgb, frame, mask)))
    assert val(terms["pixel_coarse"]) == pytest.approx(val(pixel_loss(out.coarse_rgb, frame, mask)))
    assert val(terms["tv_image"]) == pytest.approx(val(tv_loss(blended)), rel=1e-5)
    assert val(terms["feature"]) == pytest.approx(6 * val((blended - frame).abs().mean()), rel=1e-5)
    total.backward()
    assert out.rgb.grad.abs().sum() > 0 and out.mask_logits.grad.abs().sum() > 0


def test_dnr_and_one_stage_leave_out_missing_terms_and_dnr_blends_with_the_coarse_mask():
    cfg = LossConfig(feature=0.0, adversarial=0.0, feature_matching=0.0)
    loss_fn = ANRLoss(cfg)
    assert loss_fn.feature_source == "off"
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


def test_discriminator_loss_does_not_reach_the_renderer():
    loss_fn = ANRLoss(LossConfig(feature=0.0, gan_mode="hinge"))
    out = fake_output()
    disc = MultiScaleDiscriminator(3, num_scales=2, base_channels=4, num_layers=1)
    blended = loss_fn.blend(out, torch.zeros(1, 3, 8, 8))
    loss, terms = loss_fn.discriminator_loss(disc, torch.zeros(1, 3, 8, 8), blended)
    loss.backward()
    assert out.rgb.grad is None
    assert all(p.grad is not None for p in disc.parameters())
    assert set(terms) == {"d_real", "d_fake", "d_total"} and val(terms["d_total"]) == pytest.approx(val(loss))


@pytest.mark.parametrize("gan_mode", ["lsgan", "hinge"])
def test_joint_equals_the_generator_loss_then_the_discriminator_loss_with_one_pass_per_image(gan_mode):
    # No instance noise: the two paths draw it a different number of times.
    cfg = LossConfig(feature=0.0, feature_matching=6.0, adversarial=1.5, gan_mode=gan_mode, discriminator_noise=0.0)
    frame, mask, bg = torch.rand(2, 3, 16, 16) * 2 - 1, (torch.rand(2, 1, 16, 16) > 0.5).float(), torch.zeros(1, 3, 16, 16)
    normals = torch.randn(2, 3, 16, 16)
    torch.manual_seed(1)
    disc = MultiScaleDiscriminator(6, num_scales=2, base_channels=4, num_layers=2)
    calls = []

    def counted(x):
        calls.append(x.shape[0])
        return disc(x)

    # Reference: the generator side with the discriminator frozen, then the discriminator's own loss.
    out = fake_output(b=2, h=16, w=16)
    loss_fn = ANRLoss(cfg)
    disc.requires_grad_(False)
    total, terms = loss_fn(out, frame, mask, bg, disc, normals)
    total.backward()
    disc.requires_grad_(True)
    d_loss, _ = loss_fn.discriminator_loss(disc, frame, loss_fn.blend(out, bg), normals, mask, bg)
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
    assert set(terms_j) == set(terms) | {"discriminator"}


def test_l1_mean_kernels_match_torch_under_the_triton_interpreter(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    from tests.model.l1_kernels_interpreted import CASES, l1_inputs

    triton = pytest.importorskip("triton")
    if tuple(int(v) for v in triton.__version__.split(".")[:2]) < (3, 8):
        pytest.skip(f"Triton {triton.__version__}'s interpreter is untested here (needs >= 3.8)")
    out = tmp_path / "l1.pt"
    subprocess.run([sys.executable, "-m", "tests.model.l1_kernels_interpreted", str(out)], check=True,
                   env={**os.environ, "TRITON_INTERPRET": "1"}, cwd=Path(__file__).resolve().parents[2], timeout=300)
    got = torch.load(out)
    for case in CASES:
        a, b = l1_inputs(case)
        a = a.requires_grad_()
        want = (a.float() - b.float()).abs().mean()  # the torch-op form l1_mean uses off CUDA
        (want_grad,) = torch.autograd.grad(3 * want, a)
        value, grad = got[case]
        assert value.dtype == torch.float32 and val(value) == pytest.approx(val(want), rel=1e-5), case
        assert grad.dtype == a.dtype and grad.stride() == a.stride(), case
        # ±3/n or 0 (ties); within one bf16 step (the interpreter rounds bf16 toward zero, CUDA to nearest)
        torch.testing.assert_close(grad, want_grad, rtol=2**-7 if a.dtype == torch.bfloat16 else 0, atol=0)


def test_l1_mean_leaves_b_without_gradient_on_cpu():
    a, b = torch.randn(2, 3, 4, 4, requires_grad=True), torch.randn(2, 3, 4, 4, requires_grad=True)
    from anr_studio.model.losses import l1_mean

    loss = l1_mean(a, b)
    assert val(loss) == pytest.approx(val((a - b).abs().mean()))
    loss.backward()
    assert a.grad is not None and b.grad is None


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_l1_mean_cuda_kernels_match_torch(dtype):
    # The compiled kernels (the interpreter test above is skipped where Triton is older than 3.8),
    # on a feature-map-sized channels_last tensor: many blocks, a ragged last one.
    from anr_studio.model.losses import l1_mean

    g = torch.Generator(device="cuda").manual_seed(0)
    shape = (3, 64, 129, 131)
    a = torch.randn(shape, device="cuda", generator=g).to(dtype).contiguous(memory_format=torch.channels_last)
    b = torch.randn(shape, device="cuda", generator=g).to(dtype).contiguous(memory_format=torch.channels_last)
    a.requires_grad_()
    got = l1_mean(a, b)
    (got_grad,) = torch.autograd.grad(7 * got, a)
    want = (a.float() - b.float()).abs().mean()
    (want_grad,) = torch.autograd.grad(7 * want, a)
    assert val(got) == pytest.approx(val(want), rel=1e-5)
    assert got_grad.stride() == a.stride()
    torch.testing.assert_close(got_grad, want_grad, rtol=2**-7 if dtype == torch.bfloat16 else 1e-6, atol=0)
