"""Discoverable: a tooltip on every control, a shortcut sheet read from the bound shortcuts, Help ▸ About and
Documentation, files dropped on the window, File ▸ Open sample."""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

W = QtWidgets
CONTROLS = (W.QAbstractButton, W.QAbstractSlider, W.QAbstractSpinBox, W.QComboBox, W.QLineEdit, W.QAbstractItemView)


def _controls(root: W.QWidget) -> list[W.QWidget]:
    """Returns the interactive widgets under ``root`` that a person handles (Qt's own inner parts left out)."""
    found = []
    for w in root.findChildren(W.QWidget):
        parent = w.parent()
        if w.objectName().startswith("qt_") or isinstance(w, W.QScrollBar):
            continue  # dock title buttons, spin box editors, scroll bars: Qt's parts of a control
        if isinstance(w, W.QLineEdit) and isinstance(parent, (W.QAbstractSpinBox, W.QComboBox)):
            continue
        if isinstance(w, W.QAbstractButton) and isinstance(parent, (W.QTabBar, W.QLineEdit, W.QAbstractItemView)):
            continue  # tab scroll arrows, a line edit's clear button, a table's corner button
        if isinstance(w, W.QHeaderView) or isinstance(parent.parent(), W.QComboBox):
            continue  # a table's header, a combo box's popup list
        if isinstance(w, CONTROLS):
            found.append(w)
    return found


def _untipped(root: W.QWidget) -> list[str]:
    bad = []
    for w in _controls(root):
        if not w.toolTip().strip():
            text = w.text() if isinstance(w, (W.QAbstractButton, W.QLineEdit)) else ""
            bad.append(f"{type(w).__name__} {w.objectName() or text!r} in {type(w.parent()).__name__}")
    for bar in root.findChildren(W.QTabBar):
        for i in range(bar.count()):
            tip = bar.tabToolTip(i).strip()
            if not tip or tip == bar.tabText(i):
                bad.append(f"tab {bar.tabText(i)!r} of {bar.objectName() or 'a dock tab bar'}")
    for menu in root.findChildren(W.QMenu):
        if menu.title() == "Recent files":
            continue  # its entries are the files themselves
        for act in menu.actions():
            if not act.isSeparator() and act.menu() is None and not act.statusTip().strip():
                bad.append(f"menu action {act.text()!r} (no status tip) in {menu.title()!r}")
    return bad


def test_every_control_of_every_workspace_dock_and_window_has_a_tooltip(qtbot):
    from anr_studio.body import BodyModel
    from anr_studio.gui.main_window import MainWindow, settings

    settings().clear()
    win = MainWindow(body=BodyModel.default())  # the built-in body: its shape sliders too
    qtbot.addWidget(win)
    win.resize(1280, 720)
    win.show()
    qtbot.waitExposed(win)
    for name in ("Pose", "Try-on", "Train", "Capture"):
        win.workspaces.show_workspace(name)
        qtbot.wait(20)
    win.tidy_dock_tabs()
    win.tryon_panel.pop_btn.setChecked(True)  # the try-on canvas in its own window
    sheet = win.help_menu.show_shortcuts()
    controls = _controls(win)
    assert len(controls) > 200 and win.tryon_panel.canvas_window is not None
    assert any(w.window() is win.tryon_panel.canvas_window for w in _controls(win.tryon_panel.canvas_window) + [win.tryon_panel.canvas])
    assert any(w.window() is sheet for w in controls)
    offenders = _untipped(win)
    print(f"{len(controls)} controls, {len(offenders)} without a tooltip:", *offenders, sep="\n  ")
    assert offenders == []
    # A panel moved into another group: its new tab bar's tabs say what they hold as well.
    win.addDockWidget(QtCore.Qt.DockWidgetArea.LeftDockWidgetArea, win.docks["Keyframes"])
    win.tabifyDockWidget(win.docks["Keyframes"], win.docks["Training"])
    qtbot.waitUntil(lambda: not _untipped(win), timeout=3000)
    # Actions with keys say them in their tooltips.
    assert win.act_undo.toolTip().endswith("(Ctrl+Z)") and "Ctrl+1" in win.workspaces.tabToolTip(0)
    sheet.close()
    win.tryon_panel.pop_btn.setChecked(False)
    win.close()


def _keys(seq: QtGui.QKeySequence) -> str:
    return seq.toString(QtGui.QKeySequence.SequenceFormat.NativeText)


def test_shortcut_sheet_lists_every_bound_shortcut_and_follows_new_ones(window, qtbot):
    window.help_menu.act_shortcuts.trigger()  # F1
    sheet = window.help_menu.sheet
    qtbot.waitExposed(sheet)
    assert not sheet.isModal() and sheet.isVisible()
    rows = [tuple(sheet.table.item(i, j).text() for j in range(3)) for i in range(sheet.table.rowCount())]
    bound = set()
    for w in (window, *window.findChildren(W.QWidget)):
        bound.update((a, _keys(k)) for a in w.actions() for k in a.shortcuts())
    bound.update((a, _keys(k)) for a in window.findChildren(QtGui.QAction) for k in a.shortcuts())
    assert len(bound) >= 25
    for act, keys in bound:
        text = act.text().replace("&", "").rstrip("…")
        assert any(keys in r[0].split(", ") and text in r[1] for r in rows), f"{keys} ({text}) missing from the sheet"
    by_keys = {r[0]: r for r in rows}
    assert by_keys["Ctrl+Z"][1] == "Edit ▸ Undo" and by_keys["Ctrl+Z"][2] == "anywhere"
    assert {r[2] for r in rows if r[0] == "]"} == {"try-on canvas focused", "neural view focused"}
    assert "3D view" in by_keys["S"][2]
    # A shortcut bound later appears the next time the sheet is shown: the list is read, not written down.
    window.viewport.addAction(QtGui.QAction("Test probe", window.viewport, shortcut=QtGui.QKeySequence("Ctrl+Alt+P")))
    sheet.close()
    window.help_menu.show_shortcuts()
    texts = [sheet.table.item(i, 1).text() for i in range(sheet.table.rowCount())]
    keys = [sheet.table.item(i, 0).text() for i in range(sheet.table.rowCount())]
    assert "Test probe" in texts and keys[texts.index("Test probe")] == "Ctrl+Alt+P"
    sheet.filter.setText("undo")
    visible = [sheet.table.item(i, 1).text() for i in range(sheet.table.rowCount()) if not sheet.table.isRowHidden(i)]
    assert visible == ["Edit ▸ Undo"]
    sheet.close()


def test_about_shows_the_version_and_documentation_opens_the_readme(window, qtbot, monkeypatch):
    import anr_studio

    box = window.help_menu.show_about()
    qtbot.waitExposed(box)
    assert f"ANR Studio {anr_studio.__version__}" in box.text() and box.isVisible()
    box.close()
    opened = []
    monkeypatch.setattr(QtGui.QDesktopServices, "openUrl", lambda url: opened.append(url) or True)
    window.help_menu.act_docs.trigger()
    assert len(opened) == 1 and opened[0].toLocalFile().endswith("README.md")
    assert "README.md" in window.statusBar().currentMessage()


def _drop(window, *paths, text_only: bool = False, onto=None) -> tuple[bool, bool]:
    """Drags ``paths`` over ``window`` (or its child ``onto``) and drops them; returns (drag accepted, drop accepted).

    As from the window system, a drag over a child that takes no drops goes up to the window.
    """
    mime = QtCore.QMimeData()
    if text_only:
        mime.setText("just some text")
    else:
        mime.setUrls([QtCore.QUrl.fromLocalFile(str(p)) for p in paths])
    target = onto or window
    pos = QtCore.QPointF(target.width() / 2, target.height() / 2)
    copy, left, none = QtCore.Qt.DropAction.CopyAction, QtCore.Qt.MouseButton.LeftButton, QtCore.Qt.KeyboardModifier.NoModifier
    enter = QtGui.QDragEnterEvent(pos.toPoint(), copy, mime, left, none)
    QtWidgets.QApplication.sendEvent(target, enter)
    if not enter.isAccepted():
        return False, False
    drop = QtGui.QDropEvent(pos, copy, mime, left, none)
    QtWidgets.QApplication.sendEvent(target, drop)
    return True, drop.isAccepted()


def test_dropped_avatar_capture_motion_video_and_other_files(window, qtbot, tmp_path, tiny_avatar, tiny_capture, monkeypatch):
    avatar = tmp_path / "dropped.anr"
    tiny_avatar.save(str(avatar))
    assert _drop(window, avatar, onto=window.neural_stack.currentWidget()) == (True, True)  # on the welcome page
    assert window.avatar_path == str(avatar) and window.avatar.identities == ["alice", "bob"]
    assert "Opened avatar dropped.anr" in window.statusBar().currentMessage()

    assert _drop(window, tiny_capture) == (True, True)
    assert window.capture_panel.path == str(tiny_capture) and window.workspaces.tabText(window.workspaces.currentIndex()) == "Capture"

    motion = tmp_path / "wave.npz"
    poses = np.zeros((12, 72), np.float32)
    poses[:, 16 * 3 + 2] = np.linspace(-0.5, 0.5, 12)
    np.savez(motion, poses=poses, mocap_framerate=np.float32(30.0))
    assert _drop(window, motion, onto=window.viewport.canvas.native) == (True, True)  # on the 3D view
    pp = window.pose_panel
    assert len(pp.playback.clip) == 12 and pp.timeline.maximum() == 11 and pp.play_btn.isEnabled()
    assert "12 frames" in window.statusBar().currentMessage()

    # A video starts an import: with its poses dropped beside it, or asked for.
    imports = []
    monkeypatch.setattr(window.capture_panel, "import_capture", lambda src, out, poses=None: imports.append((src, out, poses)))
    monkeypatch.setattr(W.QFileDialog, "getSaveFileName", lambda *a, **k: (str(tmp_path / "clip.h5"), ""))
    video = tmp_path / "clip.MP4"
    video.write_bytes(b"\x00" * 64)
    assert _drop(window, video, motion) == (True, True)
    assert imports == [(str(video), str(tmp_path / "clip.h5"), str(motion))]
    assert len(pp.playback.clip) == 12  # the .npz was the video's poses, not a motion to load
    monkeypatch.setattr(W.QFileDialog, "getOpenFileName", lambda *a, **k: (str(motion), ""))
    _drop(window, video)
    assert imports[-1] == (str(video), str(tmp_path / "clip.h5"), str(motion))
    assert "Importing clip.MP4" in window.statusBar().currentMessage()
    # No poses chosen: the body is fitted to the video where that is installed, else the line says what is missing.
    from anr_studio.jobs import capture_jobs

    monkeypatch.setattr(W.QFileDialog, "getOpenFileName", lambda *a, **k: ("", ""))
    monkeypatch.setattr(capture_jobs, "video_fit_missing", lambda src="": f"{src}: a video without poses needs the video extra")
    n = len(imports)
    _drop(window, video)
    assert len(imports) == n and "import cancelled (no poses, and a video without poses needs" in window.statusBar().currentMessage()
    monkeypatch.setattr(capture_jobs, "video_fit_missing", lambda src="": None)
    _drop(window, video)
    assert imports[-1] == (str(video), str(tmp_path / "clip.h5"), None)
    folder = tmp_path / "shoot"
    (folder / "images").mkdir(parents=True)
    assert _drop(window, folder) == (True, True)
    assert imports[-1] == (str(folder), str(tmp_path / "clip.h5"), None)

    # Anything else: one line saying what the studio opens; the open avatar stays.
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    assert _drop(window, other) == (True, True)
    msg = window.statusBar().currentMessage()
    assert "notes.txt: not opened" in msg and ".anr" in msg and ".h5" in msg and ".bvh" in msg and "\n" not in msg
    assert window.avatar_path == str(avatar)
    assert _drop(window, text_only=True) == (False, False)


def test_open_sample_opens_the_demo_avatar_and_a_motion(window, qtbot):
    from anr_studio.gui.app import demo_avatar

    window.workspaces.show_workspace("Train")
    window.act_open_sample.trigger()
    assert window.avatar is not None and window.avatar_path == str(demo_avatar())
    assert window.neural_stack.currentWidget() is window.neural
    pp = window.pose_panel
    assert pp.playback.clip is not None and pp.playback.clip.name == "walk" and pp.motion_box.currentText() == "walk"
    assert pp.play_btn.isEnabled() and pp.timeline.maximum() > 10
    np.testing.assert_allclose(window.pose_state.pose, pp.playback.pose(0), atol=1e-6)
    assert window.workspaces.tabText(window.workspaces.currentIndex()) == "Pose"
    pp.play_btn.setChecked(True)
    qtbot.waitUntil(lambda: pp.timeline.value() > 0, timeout=5000)
    pp.play_btn.setChecked(False)
