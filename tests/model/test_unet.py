"""UNet: shapes at any size, gradients, norms, upsampling modes, channels_last, bf16 autocast, state dict layouts."""

import dataclasses

import pytest
import torch

from anr_studio.errors import AnrError
from anr_studio.model import MultiScaleDiscriminator, UNet, UNetConfig
from anr_studio.model.config import ModelConfig, stored_model_dict
from anr_studio.model.discriminator import PatchDiscriminator
from anr_studio.model.unet import InstanceNorm2d
from anr_studio.model.configtools import config_from_dict, config_to_dict

TINY = UNetConfig(depth=3, base_channels=4, max_channels=8)
BIASED = dataclasses.replace(TINY, conv_bias_before_norm=True)


@pytest.mark.parametrize("size", [(32, 32), (24, 40), (17, 9)])
def test_output_shape_matches_input_at_any_size(size):
    net = UNet(5, 7, TINY)
    out = net(torch.randn(2, 5, *size))
    assert out.shape == (2, 7, *size)


def test_widths_double_up_to_max():
    net = UNet(3, 3, UNetConfig(depth=5, base_channels=4, max_channels=16))
    assert net.widths == [4, 8, 16, 16, 16]
    assert net.multiple == 32


@pytest.mark.parametrize("upsample", ["transpose", "bilinear"])
def test_every_parameter_gets_a_gradient(upsample):
    torch.manual_seed(0)
    cfg = UNetConfig(depth=3, base_channels=4, max_channels=8, upsample=upsample)
    net = UNet(3, 2, cfg)
    x = torch.randn(2, 3, 16, 16, requires_grad=True)
    net(x).square().mean().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    for name, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


def test_skip_connections_carry_fine_detail():
    """A one-pixel change moves the output near that pixel, not only through the bottleneck (the norms, whose
    statistics spread any change over the whole image, left out)."""
    torch.manual_seed(0)
    net = UNet(1, 1, UNetConfig(depth=4, base_channels=4, max_channels=8)).eval()
    for block in (*net.down, *net.up):
        for i, layer in enumerate(block):
            if isinstance(layer, InstanceNorm2d):
                block[i] = torch.nn.Identity()
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
    with pytest.raises(AnrError, match="upsample"):
        UNet(3, 3, UNetConfig(upsample="nearest"))


# State dict keys of the layout with biases before the norms (BIASED and a 2-layer PatchGAN).
OLD_UNET_KEYS = [
    "down.0.0.weight", "down.0.0.bias", "down.1.0.weight", "down.1.0.bias", "down.1.1.weight", "down.1.1.bias",
    "down.2.0.weight", "down.2.0.bias", "up.0.0.weight", "up.0.0.bias", "up.0.1.weight", "up.0.1.bias",
    "up.1.0.weight", "up.1.0.bias", "up.1.1.weight", "up.1.1.bias", "final.weight", "final.bias",
]
OLD_PATCH_KEYS = [
    "layers.0.0.weight", "layers.0.0.bias", "layers.1.0.weight", "layers.1.0.bias", "layers.1.1.weight",
    "layers.1.1.bias", "layers.2.0.weight", "layers.2.0.bias", "layers.2.1.weight", "layers.2.1.bias",
    "layers.3.0.weight", "layers.3.0.bias",
]
NORMED_CONV_BIASES = {"down.1.0.bias", "up.0.0.bias", "up.1.0.bias"}


def test_biased_layout_keeps_every_module_at_its_index():
    # The fused norm + activation keeps every parameterised module at its index.
    assert list(UNet(3, 2, BIASED).state_dict()) == OLD_UNET_KEYS
    assert list(PatchDiscriminator(6, 8, 2, conv_bias_before_norm=True).state_dict()) == OLD_PATCH_KEYS


def test_stored_configs_without_the_field_load_biased_state_dicts():
    model = dataclasses.replace(ModelConfig.preset("tiny"), r1=BIASED, r2=BIASED)
    old = UNet(3, 2, BIASED).state_dict()
    data = config_to_dict(model)
    for name in ("r1", "r2", "discriminator"):
        del data[name]["conv_bias_before_norm"]
    config = config_from_dict(ModelConfig, stored_model_dict(data))
    assert config.r1.conv_bias_before_norm and config.r2.conv_bias_before_norm
    assert config.discriminator.conv_bias_before_norm
    UNet(3, 2, config.r1).load_state_dict(old, strict=True)


def test_defaults_and_presets_drop_only_the_biases_before_instance_norms():
    for model in (ModelConfig(), *(ModelConfig.preset(name) for name in ("paper", "fast", "tiny"))):
        assert not model.r1.conv_bias_before_norm and not model.r2.conv_bias_before_norm
        assert not model.discriminator.conv_bias_before_norm
    assert list(UNet(3, 2, TINY).state_dict()) == [k for k in OLD_UNET_KEYS if k not in NORMED_CONV_BIASES]
    disc = PatchDiscriminator(6, 8, 2)
    assert list(disc.state_dict()) == [k for k in OLD_PATCH_KEYS if k not in {"layers.1.0.bias", "layers.2.0.bias"}]


@pytest.mark.parametrize("upsample", ["transpose", "bilinear"])
def test_biases_before_instance_norms_change_nothing(upsample):
    # Old layout with random biases before the norms vs the new layout with the other weights copied:
    # the norm subtracts the channel mean, so outputs and the remaining gradients agree.
    torch.manual_seed(0)
    config = dataclasses.replace(BIASED, upsample=upsample)
    old, new = UNet(3, 2, config), UNet(3, 2, dataclasses.replace(config, conv_bias_before_norm=False))
    state = old.state_dict()
    dropped = set(state) - set(new.state_dict())
    assert len(dropped) == 3
    for k in dropped:
        state[k].normal_(std=3.0)
    new.load_state_dict({k: v for k, v in state.items() if k not in dropped}, strict=True)
    x = torch.randn(2, 3, 16, 16)
    out_old, out_new = old(x), new(x)
    torch.testing.assert_close(out_new, out_old, atol=1e-4, rtol=1e-4)
    out_old.square().mean().backward()
    out_new.square().mean().backward()
    old_params = dict(old.named_parameters())
    for name, p in new.named_parameters():
        torch.testing.assert_close(p.grad, old_params[name].grad, atol=1e-5, rtol=1e-3)
    for k in dropped:
        assert old_params[k].grad.abs().max() < 1e-5  # what the bias would learn: nothing


def test_discriminator_biases_before_instance_norms_change_nothing():
    torch.manual_seed(0)
    old = MultiScaleDiscriminator(6, num_scales=2, base_channels=8, num_layers=2, conv_bias_before_norm=True)
    new = MultiScaleDiscriminator(6, num_scales=2, base_channels=8, num_layers=2)
    state = old.state_dict()
    dropped = set(state) - set(new.state_dict())
    assert len(dropped) == 4  # two normed layers per scale
    for k in dropped:
        state[k].normal_(std=3.0)
    new.load_state_dict({k: v for k, v in state.items() if k not in dropped}, strict=True)
    x = torch.randn(2, 6, 32, 32)
    for got_scale, want_scale in zip(new(x), old(x)):
        for got, want in zip(got_scale, want_scale):
            torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)
