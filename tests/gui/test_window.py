"""The studio window: opens, shows the empty state, posing and orbiting change the images, undo/redo."""

from __future__ import annotations

import math

import numpy as np
import torch
from PySide6 import QtCore, QtGui, QtWidgets

from anr_studio.gui.viewport import MeshViewport


def _wait_neural(qtbot, window, timeout=20000):
    qtbot.waitUntil(lambda: window.neural.worker.idle() and window.neural.last_result is not None, timeout=timeout)


def test_window_opens_with_docks_menus_status_and_empty_state(window):
    titles = [a.text().replace("&", "") for a in window.menuBar().actions()]
    assert titles == ["File", "Edit", "View", "Help"]
    assert set(window.docks) == {"Pose", "Capture", "Keyframes", "Training", "Try-on"}
    assert window.neural_stack.currentWidget() is window.empty
    assert "Open avatar" in window.empty.text() and "synthetic capture" in window.empty.text()
    assert window.device_label.text() in ("CPU only",) or window.device_label.text().startswith("GPU")
    file_menu = window.menuBar().actions()[0].menu()
    names = [a.text() for a in file_menu.actions() if a.text()]
    for want in ("Open capture…", "Open avatar…", "Recent files", "Import video or folder…", "Make synthetic capture…", "Export video…"):
        assert want in names
    img = window.viewport.canvas.render()
    assert img.shape[2] == 4 and img[..., :3].std() > 10  # the body is drawn, not a blank canvas


def test_joint_slider_changes_viewport_and_neural_preview(window, qtbot, tiny_avatar):
    window.neural.size_px = 64  # keep the CPU test fast
    window.set_avatar(tiny_avatar, "tiny.anr")
    _wait_neural(qtbot, window)
    size0 = tuple(window.viewport.canvas.size)
    mesh0 = window.viewport.canvas.render()[..., :3].astype(np.int16)
    neural0 = window.neural.last_result.rgb.copy()
    slider = window.pose_panel.sliders[(16, 2)]  # left shoulder, about z: lifts the arm from the standing pose
    slider.setValue(-10 * 10)
    assert math.isclose(window.pose_state.pose[16, 2], math.radians(-10), rel_tol=1e-5)
    old = window.neural.last_result
    # A half-resolution frame comes first while editing and the full one follows at once when no newer
    # edit is waiting, so under load the quick frame may already be replaced when the test looks.
    qtbot.waitUntil(lambda: window.neural.last_result is not old, timeout=20000)
    qtbot.waitUntil(lambda: window.neural.last_result.request.size == (64, 64) and window.neural.worker.idle(), timeout=20000)
    assert tuple(window.viewport.canvas.size) == size0, "the 3D view changed size when the neural image updated"
    mesh1 = window.viewport.canvas.render()[..., :3].astype(np.int16)
    neural1 = window.neural.last_result.rgb
    changed = np.abs(mesh1 - mesh0).max(-1) > 30
    assert changed.mean() > 0.005, "moving the shoulder slider did not change the vispy image"
    assert np.abs(neural1.astype(np.int16) - neural0).max(-1).astype(bool).mean() > 0.01
    # The slider followed the state exactly once: no ping-pong rewrote it.
    assert slider.value() == -100


def test_window_opens_in_the_standing_pose_seen_from_the_front(window):
    from anr_studio.components.pose_state import standing_pose
    from anr_studio.components.scene import pose_body

    assert np.array_equal(window.pose_state.pose, standing_pose())
    cam = window.view_state.view.camera((400, 400))
    R, t = cam.R[0].numpy(), cam.t[0].numpy()
    centre = -R.T @ t
    assert centre[2] > 2.0 and abs(centre[0]) < 0.1  # straight in front of the body (it faces +z)
    _, joints = pose_body(window.body, window.pose_state.pose, window.pose_state.betas, None)
    pix = cam.project(torch.as_tensor(joints[None, [16, 17, 20, 21]]))[0][0].numpy()
    assert (pix[2:, 1] > pix[:2, 1] + 60).all()  # the wrists are drawn well below the shoulders
    assert pix[0, 0] > pix[1, 0]  # the body's left shoulder is on the image's right: it faces the viewer


def test_each_identity_is_shown_in_its_own_shape(window, tiny_avatar):
    ps = window.pose_state
    tiny_avatar.add_identity("carol", tiny_avatar.texture("alice"), np.full(ps.num_betas, 0.5, np.float32))
    window.set_avatar(tiny_avatar, "tiny.anr")
    assert window.neural.identity == "alice" and not ps.betas.any()  # alice has no stored shape
    window.neural.ident_box.setCurrentText("carol")
    np.testing.assert_allclose(ps.betas, 0.5)
    assert ps.at_start() and not ps.undo()  # picking whom to show is no edit
    ps.set_beta(0, 1.5)
    ps.reset_all()
    np.testing.assert_allclose(ps.betas, 0.5)


def test_a_tall_identity_is_framed_head_to_feet(window, qtbot, tiny_avatar):
    """The default view cuts a 2 m person's head off; picking such an identity frames the whole body, and so
    does Reset camera while it is shown."""
    from anr_studio.components.scene import pose_body

    ps = window.pose_state
    tall = np.zeros(ps.num_betas, np.float32)
    tall[0] = 8.0  # the stand-in's height grows by 80 % about the pelvis
    tiny_avatar.add_identity("tall", tiny_avatar.texture("alice"), tall)
    window.neural.size_px = 32
    window.set_avatar(tiny_avatar, "tiny.anr")

    def rows_shown() -> np.ndarray:
        """Returns the image rows (0 top, 1 bottom) of the body's highest and lowest vertex in the neural view."""
        verts, _ = pose_body(window.body, ps.pose, ps.betas, ps.transl)
        ends = verts[[verts[:, 1].argmax(), verts[:, 1].argmin()]]
        cam = window.view_state.view.camera((256, 256))
        return cam.project(torch.as_tensor(ends[None]))[0][0].numpy()[:, 1] / 256.0

    alice_view = window.view_state.view
    top, bottom = rows_shown()
    assert 0.05 < top and bottom < 0.95
    window.neural.ident_box.setCurrentText("tall")
    top, bottom = rows_shown()
    assert 0.02 < top and bottom < 0.98, f"the tall body spans rows {top:.2f}..{bottom:.2f} of the view"
    assert window.view_state.view.azimuth == alice_view.azimuth  # the camera only backs off, it does not turn
    window.view_state.zoom(0.4)
    window.act_reset_view.trigger()
    top, bottom = rows_shown()
    assert 0.02 < top and bottom < 0.98
    window.neural.ident_box.setCurrentText("alice")  # she fits the default view, where Reset camera goes again
    window.act_reset_view.trigger()
    assert window.view_state.view == alice_view


def test_state_changes_move_sliders_without_feedback(window):
    calls = []
    window.pose_state.changed.connect(calls.append)
    pose = np.zeros((24, 3), np.float32)
    pose[18, 1] = 0.5
    window.pose_state.set_pose(pose)
    assert calls == ["pose"]  # refreshing the sliders did not emit further edits
    assert window.pose_panel.sliders[(18, 1)].value() == round(math.degrees(0.5) * 10)


def _drag(widget, start, end, steps=6):
    btn = QtCore.Qt.MouseButton.LeftButton
    gp = lambda p: widget.mapToGlobal(p)  # noqa: E731
    p0 = QtCore.QPointF(*start)
    QtWidgets.QApplication.sendEvent(widget, QtGui.QMouseEvent(QtCore.QEvent.Type.MouseButtonPress, p0, gp(p0), btn, btn, QtCore.Qt.KeyboardModifier.NoModifier))
    for i in range(1, steps + 1):
        p = QtCore.QPointF(start[0] + (end[0] - start[0]) * i / steps, start[1] + (end[1] - start[1]) * i / steps)
        QtWidgets.QApplication.sendEvent(widget, QtGui.QMouseEvent(QtCore.QEvent.Type.MouseMove, p, gp(p), QtCore.Qt.MouseButton.NoButton, btn, QtCore.Qt.KeyboardModifier.NoModifier))
    p1 = QtCore.QPointF(*end)
    QtWidgets.QApplication.sendEvent(widget, QtGui.QMouseEvent(QtCore.QEvent.Type.MouseButtonRelease, p1, gp(p1), btn, QtCore.Qt.MouseButton.NoButton, QtCore.Qt.KeyboardModifier.NoModifier))


def test_orbit_drag_changes_view_and_neural_uses_same_camera(window, qtbot, tiny_avatar):
    native = window.viewport.canvas.native
    before = window.viewport.canvas.render()[..., :3].astype(np.int16)
    az0 = window.view_state.view.azimuth
    _drag(native, (100, 200), (220, 200))
    qtbot.wait(50)
    assert window.view_state.view.azimuth != az0
    assert abs(window.view_state.view.azimuth - (az0 - 60.0)) < 1e-3  # half a degree per pixel
    after = window.viewport.canvas.render()[..., :3].astype(np.int16)
    assert (np.abs(after - before).max(-1) > 30).mean() > 0.005
    window.view_state.reset()
    assert window.view_state.view.azimuth == az0
    # The wheel zooms in.
    d0 = window.view_state.view.distance
    window.view_state.zoom(0.5)
    assert window.view_state.view.distance == d0 * 0.5


def test_vispy_view_matches_orbit_camera(window):
    """The vispy turntable and orbit_camera put a joint at the same side of the image."""
    from anr_studio.components.scene import pose_body

    vp: MeshViewport = window.viewport
    window.view_state.set(azimuth=40.0, elevation=10.0)
    h, w = vp.canvas.size[1], vp.canvas.size[0]
    _, joints = pose_body(vp.body, np.zeros((24, 3)), None, None)
    cam = window.view_state.view.camera((h, w))
    pix = cam.project(torch.as_tensor(joints[None, [20, 21]]))[0][0].numpy()
    tr = vp.view.scene.node_transform(vp.canvas.scene)
    mapped = tr.map(joints[[20, 21]])
    mapped = mapped[:, :2] / mapped[:, 3:4]
    # Left wrist then right wrist: both projections order them the same way left-to-right.
    assert np.sign(pix[0, 0] - pix[1, 0]) == np.sign(mapped[0, 0] - mapped[1, 0])
    assert abs((pix[0, 1] - h / 2) / h - (mapped[0, 1] - h / 2) / h) < 0.1


def test_undo_redo_restore_pose_and_paint(window):
    from anr_studio.components.paint import PaintEvent, handle_event

    slider = window.pose_panel.sliders[(18, 0)]
    for v in (100, 200, 300):
        slider.setValue(v)
    slider.sliderReleased.emit()
    assert window.pose_state.pose[18, 0] != 0
    handle_event(window.paint_state, PaintEvent("press", 100, 100))
    handle_event(window.paint_state, PaintEvent("release", 100, 100))
    assert window.paint_state.mask.max() > 0.9
    window.act_undo.trigger()  # the last edit was paint
    assert window.paint_state.mask.max() == 0.0 and window.pose_state.pose[18, 0] != 0
    window.act_undo.trigger()
    assert window.pose_state.pose[18, 0] == 0.0 and slider.value() == 0
    window.act_redo.trigger()
    assert slider.value() == 300
    window.act_redo.trigger()
    assert window.paint_state.mask.max() > 0.9


def test_bad_file_shows_dialog_not_traceback(window, qtbot, tmp_path):
    bad = tmp_path / "notes.txt"
    bad.write_text("x")
    window.open_path(str(bad))
    box = window.findChild(QtWidgets.QMessageBox, "errorDialog")
    assert box is not None and "expected an avatar (.anr) or a capture (.h5)" in box.text()
    box.close()


def test_no_stale_dock_tab_bars_after_resize(window, qtbot):
    window.resize(1350, 820)
    qtbot.wait(200)
    bars = [tuple(tb.tabText(i) for i in range(tb.count()))
            for tb in window.findChildren(QtWidgets.QTabBar, options=QtCore.Qt.FindChildOption.FindDirectChildrenOnly)
            if tb.isVisible()]
    assert sorted(bars) == [("Capture", "Keyframes", "Training"), ("Pose", "Try-on")]
    window.reset_layout()
    qtbot.wait(200)
    assert window.docks["Try-on"].isVisible() or window.docks["Pose"].isVisible()


def test_export_video_from_the_file_menu_runs_as_a_job(window, qtbot, tiny_avatar, tmp_path, monkeypatch):
    import imageio_ffmpeg

    export = window.video_export
    calls = []
    monkeypatch.setattr(QtWidgets.QFileDialog, "getSaveFileName", lambda *a, **k: (str(tmp_path / "a.mp4"), ""))
    monkeypatch.setattr(export, "start", lambda *a, **k: calls.append(a))
    window.act_export.trigger()  # no avatar yet: a dialog says so, nothing starts
    box = window.findChild(QtWidgets.QMessageBox, "errorDialog")
    assert box is not None and "no avatar is open" in box.text() and not calls
    box.close()
    window.set_avatar(tiny_avatar, "tiny.anr")
    window.act_export.trigger()
    assert calls == [(tiny_avatar, "alice", "walk", str(tmp_path / "a.mp4"), window.view_state.view)]
    monkeypatch.undo()

    out = tmp_path / "walk.mp4"
    job = export.start(tiny_avatar, "alice", "walk", str(out), window.view_state.view, size=32, max_frames=4)
    window.job_list.refresh()
    assert [w.name.text() for w in window.job_list.rows.values()] == ["export video"]
    assert "exporting walk" in window.statusBar().currentMessage()
    qtbot.waitUntil(lambda: not export.watcher.active, timeout=60000)
    assert job.status.snapshot().error is None
    window.job_list.refresh()
    assert [w.ended.text() for w in window.job_list.rows.values()] == ["done"]
    assert window.statusBar().currentMessage() == f"export finished: {out}"
    assert imageio_ffmpeg.count_frames_and_secs(str(out))[0] == 4


def test_a_video_of_the_sample_avatar_walking_keeps_it_in_every_frame(qtbot, tmp_path, monkeypatch):
    """File ▸ Open sample, then Export video with its defaults (the walk from the 3D view's camera): the camera
    follows the body's drift, so no frame is empty background."""
    import imageio.v3 as iio

    from anr_studio.gui.main_window import MainWindow

    win = MainWindow()  # the default body, as the shipped demo avatar needs
    qtbot.addWidget(win)
    win.show()
    win.open_sample()
    out = tmp_path / "walk.mp4"
    monkeypatch.setattr(QtWidgets.QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), ""))
    start = win.video_export.start
    monkeypatch.setattr(win.video_export, "start", lambda *a, **k: start(*a, **k, size=48))  # small frames: a short test
    win.video_export.dialog()
    job = win.video_export.job
    qtbot.waitUntil(lambda: not win.video_export.watcher.active, timeout=120000)
    assert job.status.snapshot().error is None
    frames = iio.imread(out)
    assert len(frames) == len(win.pose_panel.playback.clip)
    person = (frames.astype(int).min(axis=-1) < 200).mean(axis=(1, 2))  # share of each frame that is not the white background
    assert person.min() > 0.05, f"the body left the picture in frames {np.flatnonzero(person <= 0.05).tolist()}"
    win.close()
