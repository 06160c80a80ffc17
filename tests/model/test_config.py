"""Model and loss configs: presets validate, survive a JSON round trip, and reject bad values."""

import json

import pytest

from anr_studio.errors import AnrError
from anr_studio.model import DiscriminatorConfig, LossConfig, ModelConfig, UNetConfig
from anr_studio.model.config import PRESETS
from anr_studio.model.configtools import config_from_dict, config_to_dict


@pytest.mark.parametrize("name", PRESETS)
def test_presets_validate_and_round_trip_through_json(name):
    for cls, config in ((ModelConfig, ModelConfig.preset(name)), (LossConfig, LossConfig())):
        config.validate()
        again = config_from_dict(cls, json.loads(json.dumps(config_to_dict(config))))
        assert again == config


def test_presets_differ_in_size():
    paper, fast, tiny = (ModelConfig.preset(n) for n in ("paper", "fast", "tiny"))
    assert paper.r1.base_channels > fast.r1.base_channels > tiny.r1.base_channels
    assert paper.r1.depth > fast.r1.depth > tiny.r1.depth
    assert tiny.texture.size < paper.texture.size == 256 and paper.texture.channels == 8


@pytest.mark.parametrize("config,field", [
    (ModelConfig(latent_channels=2), "latent_channels"),
    (ModelConfig(r2=UNetConfig(upsample="nearest")), "model.r2.upsample"),
    (ModelConfig(r1=UNetConfig(depth=0)), "model.r1.depth"),
    (ModelConfig(discriminator=DiscriminatorConfig(num_scales=0)), "discriminator.num_scales"),
    (LossConfig(pixel=-1.0), "loss.pixel"),
])
def test_bad_values_name_the_field(config, field):
    with pytest.raises(AnrError, match=field):
        config.validate()
    with pytest.raises(AnrError):
        ModelConfig.preset("huge")
