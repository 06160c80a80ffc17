"""The studio's body and avatar protocols describe the real classes: BodyModel, the stand-in body, Avatar."""

import numpy as np

from anr_studio.body import BodyModel
from anr_studio.components.protocols import StudioAvatar, StudioBody
from tests.standin import standin_body, untrained_avatar


def test_bodies_and_avatars_have_what_the_studio_uses():
    body = standin_body()
    assert isinstance(BodyModel.default(), StudioBody) and isinstance(body, StudioBody)
    avatar = untrained_avatar(body, identities=("a",))
    assert isinstance(avatar, StudioAvatar)
    assert not isinstance(object(), StudioBody) and not isinstance(body, StudioAvatar)
    image, mask = avatar.render("a", np.zeros((24, 3)), None, size=16)
    assert image.shape == (16, 16, 3) and mask.shape == (16, 16)
