"""UNet: shapes at any size, gradients, norms, upsampling modes, channels_last and bf16 autocast."""

import pytest
import torch

from anr_studio.errors import AnrError
from anr_studio.model import UNet, UNetConfig

TINY = UNetConfig(depth=3, base_channels=4, max_channels=8)


@pytest.mark.parametrize("size", [(32, 32), (24, 40), (17, 9)])
def test_output_shape_matches_input_at_any_size(size):
    net = UNet(5, 7, TINY)
    out = net(torch.randn(2, 5, *size))
    assert out.shape == (2, 7, *size)


def test_widths_double_up_to_max():
    net = UNet(3, 3, UNetConfig(depth=5, base_channels=4, max_channels=16))
    assert net.widths == [4, 8, 16, 16, 16]
    assert net.multiple == 32


@pytest.mark.parametrize("norm", ["instance", "batch", "none"])
@pytest.mark.parametrize("upsample", ["transpose", "bilinear"])
def test_every_parameter_gets_a_gradient(norm, upsample):
    torch.manual_seed(0)
    cfg = UNetConfig(depth=3, base_channels=4, max_channels=8, norm=norm, upsample=upsample, down_activation="silu")
    net = UNet(3, 2, cfg)
    x = torch.randn(2, 3, 16, 16, requires_grad=True)
    net(x).square().mean().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    for name, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


def test_skip_connections_carry_fine_detail():
    """A one-pixel change moves the output near that pixel, not only through the bottleneck."""
    torch.manual_seed(0)
    net = UNet(1, 1, UNetConfig(depth=4, base_channels=4, max_channels=8, norm="none")).eval()
    x = torch.zeros(1, 1, 32, 32)
    y = x.clone()
    y[0, 0, 5, 5] = 1.0
    diff = (net(y) - net(x)).abs()[0, 0]
    assert diff[3:8, 3:8].max() > 10 * diff[20:, 20:].max()


def test_channels_last_gives_the_same_result():
    torch.manual_seed(0)
    net = UNet(4, 3, TINY).eval()
    x = torch.randn(2, 4, 16, 16)
    ref = net(x)
    out = net.to(memory_format=torch.channels_last)(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-4)


def test_bf16_autocast_runs_and_stays_close():
    torch.manual_seed(0)
    net = UNet(4, 3, TINY).eval()
    x = torch.randn(1, 4, 16, 16)
    ref = net(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = net(x)
    assert out.dtype == torch.bfloat16
    assert (out.float() - ref).abs().max() < 0.1 * ref.abs().max() + 0.05


def test_bad_config_is_an_anr_error():
    with pytest.raises(AnrError, match="norm"):
        UNet(3, 3, UNetConfig(norm="group"))
