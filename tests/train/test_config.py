"""Configs: presets, JSON round trip, dotted overrides and their errors."""

import json

import pytest

from anr_studio.errors import AnrError
from anr_studio.train.config import TrainConfig
from anr_studio.train.presets import PRESETS, preset


@pytest.mark.parametrize("name", list(PRESETS))
def test_preset_json_round_trip_is_exact(name):
    config = preset(name)
    again = TrainConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config
    assert again.preset == name


def test_preset_resolutions():
    assert preset("paper").data.resolution == 1024
    assert preset("fast").data.resolution == 384 and preset("fast").data.person_crop
    assert 64 <= preset("tiny").data.resolution <= 128
    for name in PRESETS:
        if name == "cpu":  # small crops centred on the person, rescaled up to 2x (see the preset)
            continue
        d = preset(name).data
        assert (d.rescale_min, d.rescale_max) == (0.5, 1.25)


def test_overrides_parse_json_values_and_nested_keys():
    config = preset("fast").with_overrides(
        ["data.batch_size=3", "model.r1.depth=4", "loss.adversarial=0.25", "optim.split_optimization=false",
         "renderer=dnr"])
    assert config.data.batch_size == 3
    assert config.model.r1.depth == 4 and config.model.r2.depth == 7
    assert config.loss.adversarial == 0.25
    assert config.optim.split_optimization is False
    assert config.renderer == "dnr"


@pytest.mark.parametrize("override, message", [
    ("data.bach_size=3", "unknown key data.bach_size"),
    ("data.batch_size=many", "data.batch_size = 'many', expected an integer"),
    ("nothing", "expected KEY=VALUE"),
    ("renderer=gan", "expected one of anr, anr-1stage, dnr"),
    ("data.resolution=100", "data.resolution = 100, expected a multiple of 16"),
])
def test_bad_overrides_name_the_key(override, message):
    with pytest.raises(AnrError, match=message.replace("(", r"\(").replace(")", r"\)")):
        preset("fast").with_overrides([override])


def test_unknown_preset_lists_the_known_ones():
    with pytest.raises(AnrError, match="expected one of paper, fast, tiny, demo"):
        preset("huge")


def _stored_by_an_earlier_version() -> dict:
    """Returns the tiny preset as a file of an earlier version stores it: retired keys, no conv_bias_before_norm."""
    stored = preset("tiny").to_dict()
    stored["optim"]["discriminator"] = True
    stored["optim"]["betas"] = [0.5, 0.999]
    stored["data"]["random_crop"] = True
    stored["model"]["coarse_activation"] = "tanh"
    stored["model"]["discriminator"]["condition"] = "normals"
    for name in ("r1", "r2", "discriminator"):
        del stored["model"][name]["conv_bias_before_norm"]
        stored["model"][name]["norm"] = "instance"
    stored["loss"].update(feature_matching=10.0, feature_fallback=True, feature_fallback_matching=0.0,
                          discriminator_noise=0.0, discriminator_real="composite", gan_mask_grad=False,
                          vgg_layer_weights=[0.03125, 0.0625, 0.125, 0.25, 1.0])
    return stored


def test_stored_configs_of_earlier_versions_load_without_their_retired_keys():
    config = TrainConfig.from_dict(_stored_by_an_earlier_version())
    assert config.loss == preset("tiny").loss and config.optim == preset("tiny").optim and config.data == preset("tiny").data
    # Written before the field existed: their U-Nets and discriminator have the biases.
    assert config.model.r1.conv_bias_before_norm and config.model.r2.conv_bias_before_norm
    assert config.model.discriminator.conv_bias_before_norm
    assert not preset("tiny").model.r1.conv_bias_before_norm


def test_retired_keys_that_held_another_choice_are_refused_not_read_as_the_fixed_one():
    stored = _stored_by_an_earlier_version()
    stored["model"]["r1"]["down_activation"], stored["loss"]["gan_mode"] = "leaky_relu", "lsgan"  # the fixed ones
    TrainConfig.from_dict(stored)
    stored["model"]["r2"]["up_activation"] = "gelu"
    with pytest.raises(AnrError, match="model.r2.up_activation is 'gelu', which this version no longer supports, expected 'relu'"):
        TrainConfig.from_dict(stored)
    stored["model"]["r2"]["up_activation"] = "relu"
    stored["loss"]["gan_mode"] = "hinge"
    with pytest.raises(AnrError, match="loss.gan_mode is 'hinge'"):
        TrainConfig.from_dict(stored)
    stored["loss"]["gan_mode"] = "lsgan"
    stored["model"]["discriminator"]["norm"] = "batch"
    with pytest.raises(AnrError, match="model.discriminator.norm is 'batch'"):
        TrainConfig.from_dict(stored)


def test_unknown_keys_still_fail_in_stored_configs_and_retired_ones_in_overrides():
    stored = _stored_by_an_earlier_version()
    stored["loss"]["sharpness"] = 1.0
    with pytest.raises(AnrError, match="unknown key loss.sharpness"):
        TrainConfig.from_dict(stored)
    with pytest.raises(AnrError, match="unknown key loss.feature_matching"):
        preset("tiny").with_overrides(["loss.feature_matching=10"])
