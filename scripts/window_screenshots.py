"""Saves the studio window at laptop and desktop sizes, one picture per workspace, into docs/screenshots.

    xvfb-run -a -s "-screen 0 1920x1080x24" python scripts/window_screenshots.py

Opens the shipped demo avatar with a motion (File ▸ Open sample) on the built-in body and grabs the
window (QWidget.grab) at 1280x720 and 1920x1080, every workspace, as window_<W>x<H>_<workspace>.png (Try-on:
the "upper" region of the pair `make_screenshots.tryon_pair` names, filled),
then the keyboard-shortcut sheet (Help ▸ Keyboard shortcuts) as shortcut_sheet.png. The Capture panel
shows a small synthetic capture (24 frames, 128², written to a temporary folder).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
WORKSPACES = ("Pose", "Try-on", "Train", "Capture")
SHOTS = (((1280, 720), WORKSPACES), ((1920, 1080), WORKSPACES))


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
    if demo_avatar() is None:
        print("no demo avatar in models/: the screenshots need one", file=sys.stderr)
        return 2
    from anr_studio.capture.synth.generate import SynthConfig, generate_capture

    capture = Path(tempfile.mkdtemp(prefix="anr-shots-")) / "synthetic.h5"
    generate_capture(capture, SynthConfig(seed=1, frames=24, size=128))
    win.capture_panel.open_capture(str(capture))
    win.capture_panel.slider.setValue(10)
    win.open_sample()
    win.pose_panel.timeline.setValue(12)  # mid-stride rather than the first frame
    from make_screenshots import tryon_pair

    pair = tryon_pair(win.avatar.identities)
    if pair is not None:  # the Try-on workspace shows a swap: A's "upper" region onto B
        tp = win.tryon_panel
        tp.ident_a.setCurrentText(pair[0])
        tp.ident_b.setCurrentText(pair[1])
        tp.region.setCurrentText("upper")
        tp.fill_region()
    for (w, h), names in SHOTS:
        win.resize(w, h)
        win.reset_layout()
        for name in names:
            win.workspaces.show_workspace(name)
            _settle(app, 0.5)
            wait_until_rendered(win)
            path = OUT / f"window_{w}x{h}_{name.lower().replace('-', '')}.png"
            save_screenshot(win, path, colours=256 if name == "Train" else None)  # Train: plots, text
            print(f"{path.relative_to(ROOT)}: window {win.width()}x{win.height()}, minimum {win.minimumSizeHint().width()}x"
                  f"{win.minimumSizeHint().height()}")
    sheet = win.help_menu.show_shortcuts()
    sheet.resize(860, 940)  # every row in view
    _settle(app, 0.5)
    save_screenshot(sheet, OUT / "shortcut_sheet.png", colours=256)
    sheet.close()
    settings().clear()
    win.paint_state.mark_saved()  # the painted region is the picture's, not work to keep
    win.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
