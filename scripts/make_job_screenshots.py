"""Makes docs/screenshots/status_bar_jobs.png and capture_alignment_check.png.

    xvfb-run -a -s "-screen 0 1600x1000x24" python scripts/make_job_screenshots.py

The window is 1280x720 on the Capture workspace with a synthetic capture (192², 40 frames). The
alignment check runs from the panel's overlay toggle; then keyframe selection and mask extraction
run side by side and the status bar is grabbed while both are listed with progress and ETA.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "docs" / "screenshots"


def _wait(app, seconds: float, until=None) -> None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds and not (until is not None and until()):
        app.processEvents()
        time.sleep(0.02)


def main() -> int:
    os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="anr-shots-cfg-")
    import torch
    from PySide6 import QtCore, QtWidgets

    from anr_studio.capture.synth.generate import SynthConfig, generate_capture
    from anr_studio.gui.app import _application, save_screenshot, wait_until_rendered
    from anr_studio.gui.main_window import MainWindow

    torch.set_num_threads(1)
    work = Path(tempfile.mkdtemp(prefix="anr-shots-"))
    path = work / "synth_walk.h5"
    generate_capture(path, SynthConfig(seed=1, frames=40, size=192))
    app = _application()
    win = MainWindow()
    win.resize(1280, 720)
    win.show()
    wait_until_rendered(win)
    win.workspaces.show_workspace("Capture")
    win.resizeDocks([win.docks["Capture"]], [470], QtCore.Qt.Orientation.Vertical)
    win.open_path(str(path))
    panel = win.capture_panel
    panel.check_box.setChecked(True)
    _wait(app, 120, lambda: panel.report is not None)
    panel.slider.setValue(9)
    _wait(app, 0.5)
    save_screenshot(win.docks["Capture"], OUT / "capture_alignment_check.png")

    # The capture has masks: answer the panel's "Replace the masks?" with yes instead of waiting for a click.
    QtWidgets.QMessageBox.question = lambda *a, **k: QtWidgets.QMessageBox.StandardButton.Yes
    win.keyframes_panel.fraction.setValue(0.3)
    keyframes = win.keyframes_panel.start_selection()
    masks = panel.start_masks(method="plate")
    # Both listed mid-way, each with an ETA (the alignment check above still shows "done").
    def mid_way() -> bool:
        snaps = [j.status.snapshot(log_tail=0) for j in (keyframes, masks)]
        return all(s.eta_s is not None and s.done < s.total for s in snaps)

    _wait(app, 60, mid_way)
    win.job_list.refresh()
    save_screenshot(win.statusBar(), OUT / "status_bar_jobs.png", colours=256)
    _wait(app, 120, lambda: not keyframes.running and not masks.running)
    win.close()
    print("screenshots in", OUT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
