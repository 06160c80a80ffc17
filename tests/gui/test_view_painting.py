"""Painting the try-on mask on the neural view, through real mouse events: the body under the brush gets painted."""

from __future__ import annotations

import numpy as np
import torch
from PySide6 import QtCore, QtGui

from anr_studio.components.paint import uv_triangle_mask
from tests.gui.test_direct_posing import _mouse

LEG_PARTS = ("thigh_l", "thigh_r", "shin_l", "shin_r", "foot_l", "foot_r")


def _part_mask(body, names, size):
    parts = body.face_parts.numpy()
    sel = np.isin(parts, [list(body.part_names).index(n) for n in names])
    return uv_triangle_mask(body.face_uvs.numpy(), size, faces=sel) > 0


def _shown(window, qtbot, size):
    n = window.neural
    qtbot.waitUntil(lambda: n.last_result is not None and n.last_result.request.size[0] == size and not n.refining()
                    and n.worker.idle(), timeout=30000)


def test_painting_on_the_neural_view_at_the_torso_paints_the_torso_only(window, qtbot, tiny_avatar, standin_body):
    window.pose_state.set_pose(np.zeros((24, 3), np.float32), record=False)  # the rest pose, seen from the front
    window.view_state.reset()
    window.neural.size_px = 128
    window.set_avatar(tiny_avatar, "tiny.anr")
    window.docks["Try-on"].raise_()
    panel, state = window.tryon_panel, window.paint_state
    _shown(window, qtbot, 128)
    label, painter = window.neural.label, panel.view_painter
    # Without "Paint on view" a drag on the image paints nothing.
    r = painter.image_rect()
    _mouse(label, "press", (r.center().x(), r.center().y()))
    _mouse(label, "release", (r.center().x(), r.center().y()))
    assert not state.mask.any()

    panel.paint_on_view.setChecked(True)
    canvas_before = panel.canvas.grab().toImage()
    # The chest: the front of the body at the middle spine joint, as the view's camera draws it.
    chest = torch.tensor([[[0.0, 1.16, 0.14]]])
    x, y = window.view_state.view.camera((128, 128)).project(chest)[0][0, 0].tolist()
    p0, p1 = painter.to_label_pos(x - 3, y), painter.to_label_pos(x + 3, y)
    _mouse(label, "press", (p0.x(), p0.y()))
    _mouse(label, "move", ((p0.x() + p1.x()) / 2, p0.y()))
    _mouse(label, "release", (p1.x(), p1.y()))
    painted = state.mask > 0
    torso = _part_mask(standin_body, ["torso"], state.size)
    legs = _part_mask(standin_body, LEG_PARTS, state.size)
    assert (state.mask * torso).sum() > 20.0  # the torso's texels gained paint ...
    assert not (painted & legs).any()  # ... none of the legs'
    import cv2

    near_torso = cv2.dilate(torso.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
    assert not (painted & ~near_torso).any()  # and nothing beyond the torso's islands and their border
    # The brush outline is on the view, at the brush's size; the canvas shows the new paint at once.
    assert painter.outline.isVisible() and painter.outline.radius > 1.0
    assert panel.canvas.grab().toImage() != canvas_before
    # The view tints what is painted: the stroke's middle is covered, the legs are not.
    tint = painter.outline.paint_image
    assert tint is not None and QtGui.QColor.fromRgba(tint.pixel(int(x), int(y))).alpha() > 60
    knee = window.view_state.view.camera((128, 128)).project(torch.tensor([[[0.1, 0.47, 0.06]]]))[0][0, 0].tolist()
    assert QtGui.QColor.fromRgba(tint.pixel(int(knee[0]), int(knee[1]))).alpha() == 0
    # One stroke is one undo step.
    window.undo()
    assert not state.mask.any()


def test_brush_keys_on_the_view_size_the_shared_brush(window, qtbot, tiny_avatar):
    window.neural.size_px = 64
    window.set_avatar(tiny_avatar, "tiny.anr")
    panel = window.tryon_panel
    _shown(window, qtbot, 64)
    panel.paint_on_view.setChecked(True)
    label = window.neural.label
    r0 = window.paint_state.brush.radius
    label.setFocus()
    qtbot.keyClick(label, QtCore.Qt.Key.Key_BracketRight)
    assert window.paint_state.brush.radius > r0 and panel.size_slider.value() == int(window.paint_state.brush.radius)
    panel.paint_on_view.setChecked(False)
    assert not panel.view_painter.outline.isVisible()


def test_painting_on_the_3d_body_and_orbiting_beside_it(window, qtbot, standin_body):
    panel, state, vp = window.tryon_panel, window.paint_state, window.viewport
    window.pose_state.set_pose(np.zeros((24, 3), np.float32), record=False)
    window.view_state.reset()
    panel.paint_on_view.setChecked(True)  # works without an avatar: the 3D body is always there
    native = vp.canvas.native
    h, w = native.height(), native.width()
    x, y = window.view_state.view.camera((h, w)).project(torch.tensor([[[0.0, 1.16, 0.14]]]))[0][0, 0].tolist()
    az0 = window.view_state.view.azimuth
    _mouse(native, "press", (x - 4, y))
    _mouse(native, "move", (x, y))
    _mouse(native, "release", (x + 4, y))
    assert window.view_state.view.azimuth == az0  # a drag on the body paints, it does not orbit
    painted = state.mask > 0
    assert (state.mask * _part_mask(standin_body, ["torso"], state.size)).sum() > 20.0
    assert not (painted & _part_mask(standin_body, LEG_PARTS, state.size)).any()
    assert vp.brush_circle.visible and vp.brush_circle.radius[0] > 1.0
    # The body shows the paint: its torso faces are tinted, its legs keep their skin colour.
    colors = vp.mesh.mesh_data.get_face_colors()
    parts, names = standin_body.face_parts.numpy(), list(standin_body.part_names)
    torso_faces, leg_faces = parts == names.index("torso"), np.isin(parts, [names.index(n) for n in LEG_PARTS])
    assert colors[torso_faces, 2].min() < 0.5 and np.allclose(colors[leg_faces], colors[leg_faces][0])
    before = state.mask.copy()
    _mouse(native, "press", (8, 40))
    _mouse(native, "move", (38, 40))
    _mouse(native, "release", (68, 40))
    assert window.view_state.view.azimuth != az0 and np.array_equal(state.mask, before)
    panel.paint_on_view.setChecked(False)
    assert vp.paint_brush is None and not vp.brush_circle.visible and vp.mesh.mesh_data.get_face_colors() is None
