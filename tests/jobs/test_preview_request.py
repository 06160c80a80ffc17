"""The neural preview's render request: the person composited over the requested background."""

from __future__ import annotations

import numpy as np

from anr_studio.components.scene import ViewState
from anr_studio.jobs.preview import PreviewRequest, render_request
from tests.standin import standin_body, untrained_avatar


def test_render_request_composites_over_its_background():
    body = standin_body()
    avatar = untrained_avatar(body, identities=("A",), seed=1)
    pose = np.zeros((24, 3), np.float32)
    view = ViewState().view

    def render(bg):
        return render_request(avatar, PreviewRequest("A", pose, None, None, view, (32, 32), background=bg))

    white, mask = render((255, 255, 255))
    grey, mask2 = render((62, 64, 71))
    assert np.allclose(mask, mask2)
    # rgb = mask * person + (1 - mask) * background: the two differ by (1 - mask) * (white - grey).
    expected = (1 - mask)[..., None] * (np.array([255, 255, 255]) - [62, 64, 71])
    assert np.abs(white.astype(float) - grey - expected).max() <= 1.5
    assert (expected > 20).any()  # some of the frame is background, so the test tells them apart
