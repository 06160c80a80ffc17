"""NeuralTexture: identical initialisation, exact texel reads, zero background, gradients."""

import pytest
import torch

from anr_studio.errors import AnrError
from anr_studio.model import NeuralTexture, TextureConfig, build_textures


def texel_centre_uv(rows, cols, size):
    """Returns (1, len(rows), 1, 2) grid coords at the centres of texels (row, col)."""
    gx = (2 * torch.tensor(cols, dtype=torch.float32) + 1) / size - 1
    gy = (2 * torch.tensor(rows, dtype=torch.float32) + 1) / size - 1
    return torch.stack([gx, gy], dim=-1).view(1, -1, 1, 2)


def test_same_seed_gives_identical_textures_whatever_the_global_rng():
    torch.manual_seed(1)
    a = NeuralTexture(8, 16, init_seed=3)
    torch.manual_seed(2)
    torch.rand(100)
    b = NeuralTexture(8, 16, init_seed=3)
    assert torch.equal(a.texture, b.texture)
    assert not torch.equal(a.texture, NeuralTexture(8, 16, init_seed=4).texture)


def test_build_textures_are_identical_uniform_and_independent_parameters():
    textures = build_textures(3, TextureConfig(channels=4, size=32))
    t0 = textures[0].texture.detach()
    assert t0.shape == (1, 4, 32, 32)
    assert all(torch.equal(t.texture, t0) for t in textures)
    assert t0.min() >= -1 and t0.max() <= 1
    assert t0.min() < -0.95 and t0.max() > 0.95 and abs(float(t0.mean())) < 0.05  # really uniform on [-1, 1]
    assert len({id(t.texture) for t in textures}) == 3
    with torch.no_grad():
        textures[1].texture.add_(1)
    assert torch.equal(textures[0].texture, textures[2].texture)
    with pytest.raises(AnrError):
        build_textures(0, TextureConfig())


def test_sample_reads_texel_values_and_zero_on_background():
    tex = NeuralTexture(5, 8)
    rows, cols = [0, 3, 7], [2, 7, 0]
    uv = texel_centre_uv(rows, cols, 8)
    out = tex.sample(uv)
    assert out.shape == (1, 5, 3, 1)
    expected = tex.texture[0][:, rows, cols]
    torch.testing.assert_close(out[0, :, :, 0], expected)
    background = torch.full((2, 4, 6, 2), -2.0)
    assert torch.equal(tex.sample(background), torch.zeros(2, 5, 4, 6))


def test_bilinear_midpoint_and_gradient_reaches_only_read_texels():
    tex = NeuralTexture(2, 4)
    # Halfway between texel columns 1 and 2 of row 1.
    uv = torch.tensor([[[[0.0, (2 * 1 + 1) / 4 - 1]]]])
    out = tex.sample(uv)
    expected = 0.5 * (tex.texture[0, :, 1, 1] + tex.texture[0, :, 1, 2])
    torch.testing.assert_close(out[0, :, 0, 0], expected)
    out.sum().backward()
    grad = tex.texture.grad[0, 0]
    assert torch.allclose(grad[1, 1:3], torch.tensor([0.5, 0.5]))
    assert grad.abs().sum() == pytest.approx(1.0)


def test_bad_uv_shape_is_an_anr_error():
    with pytest.raises(AnrError, match="uv has shape"):
        NeuralTexture(2, 4).sample(torch.zeros(1, 4, 4, 3))
