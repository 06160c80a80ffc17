"""Saves the studio window at laptop and desktop sizes, one picture per workspace, into docs/screenshots.

    xvfb-run -a -s "-screen 0 1920x1080x24" python scripts/window_screenshots.py

Opens the shipped demo avatar (models/*.anr) on the built-in body and grabs the window
(QWidget.grab) at 1280x720 (every workspace) and 1920x1080 (Pose), as window_<W>x<H>_<workspace>.png.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
SHOTS = (((1280, 720), ("Pose", "Try-on", "Train", "Capture")), ((1920, 1080), ("Pose",)))


def _settle(app, seconds: float) -> None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        app.processEvents()
        time.sleep(0.02)


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from PySide6 import QtWidgets

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    from anr_studio.gui.app import demo_avatar, save_screenshot, wait_until_rendered
    from anr_studio.gui.main_window import MainWindow, settings

    settings().clear()  # the default layout, not this machine's saved one
    win = MainWindow()
    win.show()
    demo = demo_avatar()
    if demo is not None:
        win.open_path(str(demo))
    win.pose_panel.load_motion(win.pose_panel.motion_box.itemText(0))
    for (w, h), names in SHOTS:
        win.resize(w, h)
        win.reset_layout()
        for name in names:
            win.workspaces.show_workspace(name)
            _settle(app, 0.5)
            wait_until_rendered(win)
            path = OUT / f"window_{w}x{h}_{name.lower().replace('-', '')}.png"
            save_screenshot(win, path)
            print(f"{path.relative_to(ROOT)}: window {win.width()}x{win.height()}, minimum {win.minimumSizeHint().width()}x"
                  f"{win.minimumSizeHint().height()}")
    settings().clear()
    win.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
