"""The viewport's colour modes: skin, UV checker and the current identity's neural-texture colours."""

from __future__ import annotations

import numpy as np


def _grab(window, qtbot) -> np.ndarray:
    qtbot.wait(50)
    return window.viewport.canvas.render()[..., :3].astype(np.int16)


def _changed(a: np.ndarray, b: np.ndarray) -> float:
    """Returns the fraction of pixels that differ by more than 30 levels in some channel."""
    return float((np.abs(a - b).max(-1) > 30).mean())


def test_neural_colours_follow_identity_and_avatar(window, qtbot, tiny_avatar):
    act, checker = window.act_neural_colors, window.act_checker
    assert act.shortcut().toString() == "T" and act.isCheckable()
    assert not act.isEnabled(), "neural colours need an avatar"
    window.neural.size_px = 32  # keep the CPU preview cheap
    window.set_avatar(tiny_avatar, "tiny.anr")
    assert act.isEnabled() and window.neural.identity == "alice"
    skin = _grab(window, qtbot)
    assert skin.std() > 10, "the viewport drew nothing"

    act.trigger()
    assert act.isChecked() and window.viewport.color_mode == "neural"
    alice = _grab(window, qtbot)
    assert _changed(skin, alice) > 0.02, "neural colours did not change the viewport's image"

    window.neural.ident_box.setCurrentText("bob")
    bob = _grab(window, qtbot)
    assert _changed(alice, bob) > 0.02, "another identity did not change the viewport's colours"
    window.neural.ident_box.setCurrentText("alice")
    np.testing.assert_array_equal(_grab(window, qtbot), alice)

    # The UV checker and the neural colours are exclusive; unchecking both is skin again.
    checker.trigger()
    assert checker.isChecked() and not act.isChecked() and window.viewport.color_mode == "checker"
    assert _changed(alice, _grab(window, qtbot)) > 0.02
    checker.trigger()
    assert not checker.isChecked() and window.viewport.color_mode == "skin"
    np.testing.assert_array_equal(_grab(window, qtbot), skin)

    # Closing the avatar falls back to skin and disables the action.
    act.trigger()
    window.set_avatar(None)
    assert not act.isEnabled() and not act.isChecked() and window.viewport.color_mode == "skin"
    np.testing.assert_array_equal(_grab(window, qtbot), skin)


def test_neural_colours_stay_through_posing_and_undo(window, qtbot, tiny_avatar):
    window.neural.size_px = 32
    window.set_avatar(tiny_avatar, "tiny.anr")
    window.set_color_mode("neural")
    before = _grab(window, qtbot)
    slider = window.pose_panel.sliders[(16, 2)]
    slider.setValue(-10 * 10)  # lifts the left arm from the standing pose
    slider.sliderReleased.emit()
    posed = _grab(window, qtbot)
    assert _changed(before, posed) > 0.005 and window.viewport.color_mode == "neural"
    window.act_undo.trigger()
    assert window.pose_state.pose[16, 2] == np.float32(-1.25)  # back in the standing pose
    np.testing.assert_array_equal(_grab(window, qtbot), before)
    window.act_redo.trigger()
    np.testing.assert_array_equal(_grab(window, qtbot), posed)


def test_hidden_viewport_queues_no_uploads_and_shows_the_newest_pose(window, qtbot):
    """A 3D view that does not draw (hidden tab, minimized window) keeps its GL command queue flat while the pose
    changes, and shows the newest pose when it draws again."""
    vp, state = window.viewport, window.pose_state
    def queued() -> int:  # GL commands (with their data) waiting for the canvas's next draw
        return len(vp.joints._vbo._glir._shared._commands)

    vp.hide()
    qtbot.wait(20)
    before = queued()
    rng = np.random.default_rng(0)
    for _ in range(200):  # a few seconds of playback
        state.set_pose(rng.normal(0.0, 0.2, (24, 3)).astype(np.float32), record=False)
    qtbot.wait(20)
    assert queued() - before < 20, "pose uploads piled up while hidden"

    vp.show()
    qtbot.waitUntil(lambda: np.allclose(vp.joints._data["a_position"], vp._joints_world))


def test_posing_keeps_the_mesh_shader_program(window, monkeypatch):
    """Drawing pose after pose, in skin and in face colours, links the mesh's shader program at most once per
    colour mode (vispy rebuilt it for every pose, and the GL driver kept memory from each link)."""
    vp, state = window.viewport, window.pose_state
    from vispy.visuals.shaders import ModularProgram

    links = []
    set_shaders = ModularProgram.set_shaders
    mesh_programs = vp.mesh.shared_program._programs.values

    def counted(program, *args, **kwargs):
        links.extend([1] if program in mesh_programs() else [])
        return set_shaders(program, *args, **kwargs)

    monkeypatch.setattr(ModularProgram, "set_shaders", counted)
    rng = np.random.default_rng(0)
    for mode in ("skin", "checker"):
        window.set_color_mode(mode)
        before = len(links)
        for _ in range(12):
            state.set_pose(rng.normal(0.0, 0.2, (24, 3)).astype(np.float32), record=False)
            vp.canvas.render()
        assert len(links) - before <= 1, f"{len(links) - before} links over 12 poses in {mode}"
    np.testing.assert_allclose(vp.mesh.mesh_data.get_vertices(), vp._verts)
