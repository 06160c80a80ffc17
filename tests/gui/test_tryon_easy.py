"""Try-on through the real widgets: part labels, brush outline and `[`/`]` sizes, large canvas, compare strip, saving, close prompt."""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from anr_studio.avatar.file import read_avatar


def _move(widget, x, y):
    p = QtCore.QPointF(x, y)
    ev = QtGui.QMouseEvent(QtCore.QEvent.Type.MouseMove, p, widget.mapToGlobal(p), QtCore.Qt.MouseButton.NoButton,
                           QtCore.Qt.MouseButton.NoButton, QtCore.Qt.KeyboardModifier.NoModifier)
    QtWidgets.QApplication.sendEvent(widget, ev)


def _paint_stroke(canvas):
    r = canvas.square()
    y = r.y() + r.height() * 0.5
    for kind, f in (("press", 0.2), ("move", 0.5), ("release", 0.8)):
        p = QtCore.QPointF(r.x() + r.width() * f, y)
        t = {"press": QtCore.QEvent.Type.MouseButtonPress, "move": QtCore.QEvent.Type.MouseMove, "release": QtCore.QEvent.Type.MouseButtonRelease}[kind]
        btn = QtCore.Qt.MouseButton.NoButton if kind == "move" else QtCore.Qt.MouseButton.LeftButton
        btns = QtCore.Qt.MouseButton.NoButton if kind == "release" else QtCore.Qt.MouseButton.LeftButton
        QtWidgets.QApplication.sendEvent(canvas, QtGui.QMouseEvent(t, p, canvas.mapToGlobal(p), btn, btns, QtCore.Qt.KeyboardModifier.NoModifier))


def test_canvas_labels_brush_outline_and_bracket_sizes(window, qtbot):
    window.docks["Try-on"].raise_()
    panel = window.tryon_panel
    canvas = panel.canvas
    qtbot.waitExposed(canvas)
    names = {n for n, _, _ in canvas.labels}
    assert {"torso", "head"} <= names or len(names) >= 3
    _move(canvas, canvas.width() / 2, canvas.height() / 2)
    assert canvas.hover is not None  # the outline follows the cursor without a button held
    r0 = panel.state.brush.radius
    canvas.setFocus()
    qtbot.keyClick(canvas, QtCore.Qt.Key.Key_BracketRight)
    assert panel.state.brush.radius > r0
    assert panel.size_slider.value() == int(panel.state.brush.radius)
    assert panel.size_label.text() == f"{panel.state.brush.radius:.0f} px"
    qtbot.keyClick(canvas, QtCore.Qt.Key.Key_BracketLeft)
    qtbot.keyClick(canvas, QtCore.Qt.Key.Key_BracketLeft)
    assert panel.state.brush.radius < r0
    # The outline is drawn at the brush radius: the ring's pixels differ from a grab without hover.
    img = canvas.grab().toImage()
    c = canvas.hover
    rad = canvas.brush_radius_px()
    ring = QtGui.QColor(img.pixel(int(c.x() + rad), int(c.y())))
    assert ring.lightness() > 150 or ring.lightness() < 40


def test_large_canvas_window_and_back(window, qtbot):
    panel = window.tryon_panel
    small = panel.canvas.width()
    panel.pop_btn.click()
    assert panel.canvas_window is not None and panel.canvas.window() is panel.canvas_window
    qtbot.waitExposed(panel.canvas_window)
    assert panel.canvas.width() > small and panel.canvas.width() >= 600
    panel.canvas_window.close()
    assert panel.canvas_window is None and panel.canvas.window() is window and not panel.pop_btn.isChecked()


def test_save_keeps_pickers_lists_identity_everywhere_and_confirms(window, qtbot, tiny_avatar, tmp_path, monkeypatch):
    window.neural.size_px = 64
    window.set_avatar(tiny_avatar, "tiny.anr")
    window.docks["Try-on"].raise_()
    panel = window.tryon_panel
    qtbot.waitExposed(panel.canvas)
    panel.ident_a.setCurrentText("bob")
    panel.ident_b.setCurrentText("alice")
    _paint_stroke(panel.canvas)
    assert window.paint_state.unsaved
    out = tmp_path / "mix.anr"
    monkeypatch.setattr(QtWidgets.QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), ""))
    panel.new_name.setText("mix")
    panel.save_identity()
    assert read_avatar(out).meta["identities"] == ["alice", "bob", "mix"]  # not the live preview's swap
    assert (panel.ident_a.currentText(), panel.ident_b.currentText()) == ("bob", "alice")
    assert panel.ident_a.findText("mix") >= 0 and panel.ident_b.findText("mix") >= 0
    assert window.neural.ident_box.findText("mix") >= 0
    assert panel.saved_note.isVisible() and "mix" in panel.saved_note.text()
    assert not window.paint_state.unsaved
    # The compare strip renders B, the swap and A.
    panel.show_comparison()
    assert panel.compare_row.isVisible()
    imgs = [lbl.toolTip() for lbl in panel.compare_images]
    assert imgs[0] == "B: alice" and imgs[1] == "swap" and imgs[2] == "A: bob"
    # Over the neural view's grey like the neural view itself, not over white.
    from anr_studio.gui.theme import NEURAL_BACKDROP

    backgrounds, render = [], panel.avatar.render
    monkeypatch.setattr(panel.avatar, "render", lambda *a, **k: backgrounds.append(k["background"]) or render(*a, **k))
    panel.show_comparison()
    assert backgrounds == [NEURAL_BACKDROP] * 3


def test_an_identity_saved_from_try_on_is_unsaved_work_until_the_avatar_is_written(window, qtbot, tiny_avatar,
                                                                                   tmp_path, monkeypatch):
    from tests.gui.test_unsaved_work import Btn, _answer

    path = str(tiny_avatar.save(tmp_path / "tiny.anr"))
    window.neural.size_px = 32
    window.open_path(path)
    panel = window.tryon_panel
    panel.ident_a.setCurrentText("bob")
    panel.ident_b.setCurrentText("alice")
    monkeypatch.setattr(QtWidgets.QFileDialog, "getSaveFileName", lambda *a, **k: ("", ""))  # no file chosen
    panel.new_name.setText("mix")
    panel.save_identity()
    assert "mix" in window.avatar.identities and window.unsaved_identities == ["mix"]
    asked = _answer(monkeypatch, Btn.Cancel)
    window.open_path(path)  # opening another avatar asks, as for a fitted identity; Cancel keeps this one
    assert asked == [("Unsaved identities", "Save the avatar with the identities added to it (mix)? tiny.anr does not "
                      "hold them yet.", Btn.Save | Btn.Discard | Btn.Cancel, Btn.Save)]
    assert "mix" in window.avatar.identities
    assert not window.close() and window.isVisible() and len(asked) == 2  # closing asks too
    # Written by try-on's own Save: the avatar is opened from that file, with nothing left unsaved.
    out = tmp_path / "mixed.anr"
    monkeypatch.setattr(QtWidgets.QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), ""))
    panel.new_name.setText("mix2")
    panel.save_identity()
    assert read_avatar(out).meta["identities"] == ["alice", "bob", "mix", "mix2"]
    assert window.avatar_path == str(out) and window.unsaved_identities == [] and window.windowTitle().endswith("mixed.anr")
    assert window.close() and len(asked) == 2


def test_closing_with_unsaved_painting_asks(window, qtbot, monkeypatch):
    panel = window.tryon_panel
    window.docks["Try-on"].raise_()
    qtbot.waitExposed(panel.canvas)
    _paint_stroke(panel.canvas)
    asked = []
    Btn = QtWidgets.QMessageBox.StandardButton
    monkeypatch.setattr(QtWidgets.QMessageBox, "question", lambda *a, **k: asked.append(a) or Btn.Cancel)
    window.close()
    assert asked and window.isVisible()  # cancelled: the window stays
    monkeypatch.setattr(QtWidgets.QMessageBox, "question", lambda *a, **k: asked.append(a) or Btn.Discard)
    window.close()
    assert len(asked) == 2 and not window.isVisible()
    assert np.asarray(window.paint_state.mask).any()


def test_the_swap_preview_shows_identity_b_in_its_own_shape(window, qtbot, tiny_avatar):
    """The swap dresses B in A's texture inside the mask: the neural view's picker names B and the body is B's, not
    the shape of whichever identity the picker showed before."""
    from anr_studio.components.avatars import PREVIEW_IDENTITY

    bob = np.zeros(window.pose_state.num_betas, np.float32)
    bob[0] = 2.0  # a taller bob
    tiny_avatar.add_identity("bob", tiny_avatar.texture("bob"), bob)
    window.neural.size_px = 32
    window.set_avatar(tiny_avatar, "tiny.anr")
    assert window.neural.ident_box.currentText() == "alice" and not window.pose_state.betas.any()
    window.docks["Try-on"].raise_()
    panel = window.tryon_panel
    qtbot.waitExposed(panel.canvas)
    assert (panel.ident_a.currentText(), panel.ident_b.currentText()) == ("alice", "bob")
    _paint_stroke(panel.canvas)
    qtbot.waitUntil(lambda: window.neural.worker.idle() and window.neural.last_result is not None
                    and window.neural.last_result.request.identity == PREVIEW_IDENTITY, timeout=20000)
    assert window.neural.ident_box.currentText() == "bob"
    np.testing.assert_allclose(window.pose_state.betas, bob)
    np.testing.assert_allclose(window.neural.last_result.request.betas, bob)
    assert window.pose_state.at_start() and not window.pose_state.undo()  # following B is no pose edit
