"""Makes docs/screenshots/pose_panel.png, rotate_handle.png, tryon_painting.png, tryon_canvas_window.png and
tryon_paint_on_view.png from the demo avatar.

    xvfb-run -a -s "-screen 0 1600x1000x24" python scripts/make_posing_screenshots.py

The window is 1280x720. Pose: the body posed, the left wrist picked in the 3D view (marker, panel row,
label), its angle typed. Rotate handle: the left elbow's rings, the z ring grabbed and dragged by real mouse
events (the shot is taken before the release). Try-on: the "upper" region filled, the brush outline over the canvas,
the B | swap | A strip; then the canvas in its own large window; then, with "Paint on view", a stroke
dragged across the chest of the neural view and one across the belly of the 3D body, by real mouse events.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "docs" / "screenshots"


def _wait(app, seconds: float) -> None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        app.processEvents()
        time.sleep(0.02)


def _mouse(widget, kind: str, pos) -> None:
    from PySide6 import QtCore, QtGui, QtWidgets

    p = QtCore.QPointF(*pos)
    t = {"press": QtCore.QEvent.Type.MouseButtonPress, "move": QtCore.QEvent.Type.MouseMove,
         "release": QtCore.QEvent.Type.MouseButtonRelease}[kind]
    left, none = QtCore.Qt.MouseButton.LeftButton, QtCore.Qt.MouseButton.NoButton
    ev = QtGui.QMouseEvent(t, p, widget.mapToGlobal(p), none if kind == "move" else left,
                           none if kind == "release" else left, QtCore.Qt.KeyboardModifier.NoModifier)
    QtWidgets.QApplication.sendEvent(widget, ev)


def _rotate_handle_shot(app, win) -> None:
    """Grabs the left elbow's z ring and sweeps it 40 degrees; the shot shows the drag before its release."""
    import math

    import numpy as np

    from anr_studio.components.pose_state import joint_index
    from anr_studio.gui.app import save_screenshot, wait_until_rendered

    vp = win.viewport
    el = joint_index("left_elbow")
    win.view_state.set(azimuth=10.0, elevation=8.0, distance=2.6, target=(0.3, 1.1, 0.0))
    vp.pick_joint(vp.joint_pixels()[el])
    _wait(app, 0.3)
    c = vp.joint_pixels()[el]
    # Press on the z ring where it is farthest from the other two, then sweep 40 degrees around the elbow.
    ring = vp.handle.pixels()
    others = np.concatenate([ring[0], ring[1]])
    far = np.argmax([np.linalg.norm(others - p, axis=1).min() for p in ring[2]])
    start = math.degrees(math.atan2(ring[2][far][1] - c[1], ring[2][far][0] - c[0]))
    r = float(np.linalg.norm(ring[2][far] - c))
    native = vp.canvas.native
    angles = np.linspace(start, start - 40.0, 9)
    pts = [(c[0] + r * math.cos(math.radians(a)), c[1] + r * math.sin(math.radians(a))) for a in angles]
    _mouse(native, "press", pts[0])
    for p in pts[1:]:
        _mouse(native, "move", p)
        _wait(app, 0.05)
    wait_until_rendered(win)
    _wait(app, 0.5)
    save_screenshot(vp.parentWidget(), OUT / "rotate_handle.png")  # the 3D view and the neural view beside it
    _mouse(native, "release", pts[-1])
    win.undo()  # the shots after this one show the pose before the drag, nothing selected
    win.pose_state.select_joint(None)
    win.view_state.set(azimuth=25.0, elevation=8.0, distance=4.2, target=(0.0, 0.9, 0.0))
    _wait(app, 0.2)


def _paint_on_view_shot(app, win) -> None:
    """Clears the mask, turns on "Paint on view" and drags a zigzag across the chest of the neural view."""
    import numpy as np
    import torch

    from anr_studio.components.paint import clear
    from anr_studio.components.pose_state import joint_index
    from anr_studio.gui.app import save_screenshot, wait_until_rendered

    tp = win.tryon_panel
    win.workspaces.show_workspace("Try-on")
    win.view_state.set(azimuth=15.0, elevation=5.0, distance=2.6, target=(0.0, 1.15, 0.0))
    clear(win.paint_state)
    tp.paint_on_view.setChecked(True)
    wait_until_rendered(win)
    painter, label = tp.view_painter, win.neural.label
    size = win.neural.size_px
    chest = torch.tensor(win.viewport._joints_world[joint_index("spine2")] + np.array([0.0, 0.05, 0.12], np.float32))
    x, y = win.view_state.view.camera((size, size)).project(chest[None, None])[0][0, 0].tolist()
    s = size / 256.0
    zigzag = [(x - 22 * s, y - 10 * s), (x + 18 * s, y - 14 * s), (x - 20 * s, y + 4 * s), (x + 20 * s, y + 2 * s)]
    pts = []
    for (ax, ay), (bx, by) in zip(zigzag[:-1], zigzag[1:]):
        pts += [(ax + (bx - ax) * t, ay + (by - ay) * t) for t in np.linspace(0.0, 1.0, 8)[:-1]]
    pts.append(zigzag[-1])
    lp = [painter.to_label_pos(px, py) for px, py in pts]
    _mouse(label, "press", (lp[0].x(), lp[0].y()))
    for p in lp[1:]:
        _mouse(label, "move", (p.x(), p.y()))
        _wait(app, 0.02)
    _mouse(label, "release", (lp[-1].x(), lp[-1].y()))
    # A second stroke on the 3D body, across the belly: the same mask, picked from the viewport's camera.
    native = win.viewport.canvas.native
    h, w = native.height(), native.width()
    belly = torch.tensor(win.viewport._joints_world[joint_index("spine1")] + np.array([0.0, 0.0, 0.13], np.float32))
    bx, by = win.view_state.view.camera((h, w)).project(belly[None, None])[0][0, 0].tolist()
    _mouse(native, "press", (bx - 30, by))
    for k in range(1, 13):
        _mouse(native, "move", (bx - 30 + 5 * k, by + 4 * np.sin(k / 2.0)))
        _wait(app, 0.02)
    _mouse(native, "release", (bx + 30, by))
    _wait(app, 0.3)
    wait_until_rendered(win)
    _wait(app, 0.8)
    save_screenshot(win, OUT / "tryon_paint_on_view.png")
    tp.paint_on_view.setChecked(False)
    win.workspaces.show_workspace("Pose")


def main() -> int:
    os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="anr-shots-cfg-")
    import numpy as np
    from PySide6 import QtCore, QtGui, QtWidgets

    from anr_studio.components.pose_state import joint_index
    from anr_studio.gui.app import _application, save_screenshot, wait_until_rendered
    from anr_studio.gui.main_window import MainWindow
    from make_screenshots import tryon_pair

    app = _application()
    demo = Path(__file__).resolve().parents[1] / "models" / "demo.anr"
    win = MainWindow()
    win.resize(1280, 720)
    win.show()
    wait_until_rendered(win)
    if demo.exists():
        win.open_path(str(demo))
    pose = np.zeros((24, 3), np.float32)
    pose[16, 2], pose[17, 2], pose[18, 1], pose[1, 0], pose[4, 0] = -1.1, 0.4, -0.8, -0.5, 0.6
    win.pose_state.set_pose(pose)
    win.view_state.set(azimuth=25.0, elevation=8.0)
    win.docks["Pose"].raise_()
    _wait(app, 0.5)
    lw = joint_index("left_wrist")
    x, y = win.viewport.joint_pixels()[lw]
    win.viewport.pick_joint((x, y))
    win.pose_panel.angle_fields[(lw, 2)].setValue(30.0)
    wait_until_rendered(win)
    _wait(app, 1.0)
    save_screenshot(win, OUT / "pose_panel.png")
    _rotate_handle_shot(app, win)

    win.workspaces.show_workspace("Try-on")
    tp = win.tryon_panel
    pair = tryon_pair(win.avatar.identities) if win.avatar is not None else None
    if pair is not None:  # A's region onto B: the magenta t-shirt onto the skirt
        tp.ident_a.setCurrentText(pair[0])
        tp.ident_b.setCurrentText(pair[1])
    tp.region.setCurrentText("upper")
    tp.fill_region()
    _wait(app, 0.3)
    c = tp.canvas
    p = QtCore.QPointF(c.width() * 0.3, c.height() * 0.6)
    ev = QtGui.QMouseEvent(QtCore.QEvent.Type.MouseMove, p, c.mapToGlobal(p), QtCore.Qt.MouseButton.NoButton,
                           QtCore.Qt.MouseButton.NoButton, QtCore.Qt.KeyboardModifier.NoModifier)
    QtWidgets.QApplication.sendEvent(c, ev)
    if win.avatar is not None:
        tp.show_comparison()
    win.neural.request()
    wait_until_rendered(win)
    _wait(app, 1.0)
    save_screenshot(win, OUT / "tryon_painting.png")
    tp.pop_btn.click()
    _wait(app, 0.8)
    QtWidgets.QApplication.sendEvent(c, QtGui.QMouseEvent(QtCore.QEvent.Type.MouseMove, QtCore.QPointF(300, 420),
                                     c.mapToGlobal(QtCore.QPointF(300, 420)), QtCore.Qt.MouseButton.NoButton,
                                     QtCore.Qt.MouseButton.NoButton, QtCore.Qt.KeyboardModifier.NoModifier))
    _wait(app, 0.3)
    save_screenshot(tp.canvas_window, OUT / "tryon_canvas_window.png", colours=256)
    tp.pop_btn.click()
    _paint_on_view_shot(app, win)
    win.paint_state.mark_saved()
    win.close()
    print("screenshots in", OUT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
