"""Painting the try-on mask on a rendered view: texels on the surface, the ones a view shows, dabs and strokes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from anr_studio.components.paint import PaintEvent, PaintState, uv_triangle_mask
from anr_studio.components.scene import OrbitView
from anr_studio.components.view_paint import ISLAND_PADDING_PX, handle_view_event, texel_map, view_dab, view_paint_map
from anr_studio.errors import AnrError


@pytest.fixture(scope="module")
def body():
    from tests.standin import standin_body

    return standin_body()


def _surface_points(body, tm):
    """Returns the rest-pose surface point (N,3) of every texel of ``tm``."""
    corners = body.v_template[body.faces[torch.as_tensor(tm.face)]]
    return (torch.as_tensor(tm.bary)[..., None] * corners).sum(1).numpy()


def _project(view, size, point):
    return view.camera((size, size)).project(torch.tensor([[point]], dtype=torch.float32))[0][0, 0].tolist()


def test_texel_map_covers_the_uv_islands_and_a_thin_border(body):
    tm = texel_map(body, 64)
    islands = uv_triangle_mask(body.face_uvs.numpy(), 64) > 0
    covered = np.zeros(64 * 64, bool)
    covered[tm.index] = True
    covered = covered.reshape(64, 64)
    assert covered[islands].mean() > 0.97
    import cv2

    grown = cv2.dilate(islands.astype(np.uint8), np.ones((2 * ISLAND_PADDING_PX + 3,) * 2, np.uint8)) > 0
    assert not (covered & ~grown).any()
    assert np.allclose(tm.bary.sum(1), 1.0, atol=1e-5) and texel_map(body, 64) is tm  # cached


def test_a_dab_at_the_chest_paints_front_torso_texels_only(body):
    size, img = 128, 128
    view = OrbitView(elevation=0.0)
    vmap = view_paint_map(body, np.zeros((24, 3)), view.camera((img, img)), (img, img), size)
    assert 0.1 < vmap.px_per_texel < 2.0
    state = PaintState(size)
    x, y = _project(view, img, (0.0, 1.16, 0.14))
    assert view_dab(state, vmap, x, y) is not None
    painted = np.nonzero(state.mask.reshape(-1) > 0)[0]
    tm = texel_map(body, size)
    where = {int(i): k for k, i in enumerate(tm.index)}
    pts = _surface_points(body, tm)[[where[int(i)] for i in painted]]
    assert len(pts) > 20
    assert (pts[:, 2] > 0.02).all()  # the front of the body: the back under the same pixels stays clean
    assert np.abs(pts[:, 1] - 1.16).max() < 0.15 and np.abs(pts[:, 0]).max() < 0.15
    # The radius is the canvas's, in mask pixels, seen through the view's texel density.
    assert vmap.brush_radius_px(state.brush.radius) == pytest.approx(state.brush.radius * vmap.px_per_texel)
    assert view_dab(state, vmap, -50.0, -50.0) is None  # off the body
    with pytest.raises(AnrError, match="128-pixel mask, expected 64"):
        view_dab(PaintState(64), vmap, x, y)


def test_a_stroke_is_one_undo_step_and_the_eraser_takes_paint_back(body):
    view = OrbitView()
    vmap = view_paint_map(body, np.zeros((24, 3)), view.camera((96, 96)), (96, 96), 128)
    state = PaintState(128)
    x, y = _project(view, 96, (0.0, 1.0, 0.14))
    for kind, dx in (("press", -4), ("move", 0), ("move", 4), ("release", 4)):
        handle_view_event(state, vmap, PaintEvent(kind, x + dx, y))
    assert state.mask.sum() > 20 and state.stroke_point is None
    shown = vmap.mask_image(state.mask)
    assert shown.shape == (96, 96) and shown[int(y), int(x)] > 0.9 and shown[5, 5] == 0.0
    state.brush.erase = True
    handle_view_event(state, vmap, PaintEvent("press", x, y))
    handle_view_event(state, vmap, PaintEvent("release", x, y))
    erased = state.mask.sum()
    assert state.undo() and state.mask.sum() > erased
    assert state.undo() and not state.mask.any()
