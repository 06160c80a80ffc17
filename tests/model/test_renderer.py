"""Renderers and discriminator: shapes, value ranges, gradients, parameter counts of the presets."""

import pytest
import torch

from anr_studio.errors import AnrError
from anr_studio.model import (
    ANRRenderer,
    DNRRenderer,
    ModelConfig,
    MultiScaleDiscriminator,
    RenderOutput,
    build_renderer,
    build_textures,
    discriminator_input,
)

TINY = ModelConfig.preset("tiny")


def inputs(b=2, h=32, w=32):
    torch.manual_seed(0)
    return torch.randn(b, TINY.texture.channels, h, w), torch.randn(b, 3, h, w)


def test_two_stage_anr_outputs_and_gradients_through_both_unets_and_texture():
    renderer = ANRRenderer(TINY)
    tex = build_textures(1, TINY.texture)[0]
    uv = torch.rand(2, 32, 32, 2) * 2 - 1
    out = renderer(tex.sample(uv), torch.randn(2, 3, 32, 32))
    assert out.rgb.shape == (2, 3, 32, 32) and out.coarse_rgb.shape == (2, 3, 32, 32)
    assert out.mask_logits.shape == (2, 1, 32, 32)
    assert out.rgb.abs().max() < 1 and out.coarse_rgb.abs().max() < 1  # tanh
    (out.rgb.mean() + out.coarse_rgb.mean() + out.mask_logits.mean()).backward()
    assert tex.texture.grad.abs().sum() > 0
    for name, p in renderer.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_coarse_image_is_r1_latent_first_channels():
    renderer = ANRRenderer(TINY).eval()
    neural, normals = inputs(1)
    out = renderer(neural, normals)
    torch.testing.assert_close(out.coarse_rgb, torch.tanh(renderer.r1(neural)[:, :3]))


def test_normals_change_the_two_stage_output():
    renderer = ANRRenderer(TINY).eval()
    neural, normals = inputs(1)
    a, b = renderer(neural, normals), renderer(neural, -normals)
    torch.testing.assert_close(a.coarse_rgb, b.coarse_rgb)  # R1 never sees normals
    assert (a.rgb - b.rgb).abs().max() > 1e-4


def test_one_stage_anr_and_dnr():
    neural, normals = inputs()
    one = ANRRenderer(TINY, two_stage=False)(neural, normals)
    assert one.coarse_rgb is None and one.mask_logits.shape == (2, 1, 32, 32) and one.rgb.shape == (2, 3, 32, 32)
    dnr = DNRRenderer(TINY)
    out = dnr(neural, normals)
    assert out.mask_logits is None and out.coarse_rgb is None and out.rgb.shape == (2, 3, 32, 32)
    torch.testing.assert_close(out.rgb, dnr(neural, None).rgb)  # normals ignored
    assert isinstance(build_renderer(TINY, "dnr"), DNRRenderer)
    with pytest.raises(AnrError, match="unknown"):
        build_renderer(TINY, "nerf")


def test_wrong_channel_count_is_an_anr_error():
    neural, normals = inputs()
    with pytest.raises(AnrError, match="neural image has shape"):
        ANRRenderer(TINY)(neural[:, :5], normals)
    with pytest.raises(AnrError, match="normal image has shape"):
        ANRRenderer(TINY)(neural, normals[:, :, :16])


def test_composite_blends_with_the_mask():
    rgb = torch.full((1, 3, 2, 2), 0.5)
    logits = torch.tensor([[[[10.0, -10.0], [0.0, 0.0]]]])
    out = RenderOutput(rgb=rgb, mask_logits=logits, coarse_rgb=None)
    bg = torch.full((1, 3, 2, 2), -1.0)
    comp = out.composite(bg)
    m = torch.sigmoid(logits)
    torch.testing.assert_close(comp, (m * 0.5 + (1 - m) * -1.0).expand(1, 3, 2, 2))
    hard = torch.tensor([[[[1.0, 0.0], [0.0, 1.0]]]])
    torch.testing.assert_close(out.composite(bg, hard)[0, 0], torch.tensor([[0.5, -1.0], [-1.0, 0.5]]))
    with pytest.raises(AnrError, match="no mask"):
        RenderOutput(rgb, None, None).composite(bg)


def renderer_parameter_counts(config, kind="anr"):
    """Returns {"r1": n, "r2": n, "total": n} of the renderer built on the meta device (no memory)."""
    with torch.device("meta"):
        renderer = build_renderer(config, kind)

    def count_parameters(module):
        return sum(p.numel() for p in module.parameters() if p.requires_grad)

    counts = {name: count_parameters(child) for name, child in renderer.named_children() if child is not None}
    counts["total"] = count_parameters(renderer)
    return counts


def test_paper_preset_has_about_50m_parameters_per_unet_without_allocating():
    counts = renderer_parameter_counts(ModelConfig.preset("paper"), "anr")
    assert 45e6 < counts["r1"] < 60e6 and 45e6 < counts["r2"] < 60e6
    assert counts["total"] == counts["r1"] + counts["r2"]
    fast = renderer_parameter_counts(ModelConfig.preset("fast"), "anr")["total"]
    tiny = renderer_parameter_counts(TINY, "anr")["total"]
    assert tiny < 100_000 < fast < counts["total"] / 3
    assert tiny == sum(p.numel() for p in ANRRenderer(TINY).parameters())


def test_multiscale_discriminator_shapes_and_gradients():
    cfg = TINY.discriminator
    disc = MultiScaleDiscriminator.from_config(cfg)
    assert disc.in_channels == 6  # normals + image
    image = torch.randn(2, 3, 32, 32, requires_grad=True)
    outputs = disc(discriminator_input(image, torch.randn(2, 3, 32, 32)))
    assert len(outputs) == cfg.num_scales
    assert all(len(scale) == cfg.num_layers + 2 for scale in outputs)
    assert [o[-1].shape[1] for o in outputs] == [1] * cfg.num_scales
    assert outputs[1][0].shape[-1] < outputs[0][0].shape[-1]  # the second scale sees a half-size input
    sum(o[-1].mean() for o in outputs).backward()
    assert image.grad.abs().sum() > 0
    assert all(p.grad is not None for p in disc.parameters())
    three = MultiScaleDiscriminator(3, num_scales=3, base_channels=4)
    assert len(three(torch.randn(1, 3, 64, 64))) == 3
