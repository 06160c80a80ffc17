"""run_app: --screenshot saves a rendered (not black) window and returns; --quit-after ends the loop; settings persist; tryon_pair picks the demo's clearest swap."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def test_screenshot_saves_the_rendered_window(qtbot, tmp_path, monkeypatch, standin_body):
    import anr_studio.gui.app as app_mod
    import anr_studio.gui.main_window as mw

    monkeypatch.setattr(app_mod, "MODELS_DIRS", (tmp_path / "no-models",))
    monkeypatch.setattr(mw, "default_body", lambda: standin_body)
    mw.settings().clear()  # the first-launch size, not the one an earlier test left behind
    out = tmp_path / "shot.png"
    out = Path(os.environ.get("ANR_DEBUG_SHOT", str(out)))  # keep the image for a look when debugging
    assert app_mod.run_app(screenshot=str(out)) == 0
    from PIL import Image

    arr = np.asarray(Image.open(out).convert("RGB"))
    h, w = arr.shape[:2]
    assert w > 800 and h > 500
    assert arr.std() > 12, "the screenshot is blank"  # dark theme: text, the body and the views give the contrast
    # The vispy viewport (top-left) was captured: its dark background and the lit body are both there.
    view = arr[40 : h // 2, 10 : w // 3]
    background = (np.abs(view.astype(int) - np.array([33, 36, 41])).max(-1) < 6).mean()  # the canvas colour
    body = (view.astype(int).mean(-1) > 90).mean()
    assert background > 0.3 and body > 0.05, (background, body)


def test_quit_after_and_window_state_is_remembered(qtbot, tmp_path, monkeypatch, standin_body):
    import anr_studio.gui.app as app_mod
    import anr_studio.gui.main_window as mw

    monkeypatch.setattr(app_mod, "MODELS_DIRS", (tmp_path / "no-models",))
    monkeypatch.setattr(mw, "default_body", lambda: standin_body)
    assert app_mod.run_app(quit_after=0.5) == 0
    s = mw.settings()
    assert s.value("geometry") is not None and s.value("windowState") is not None


def test_ctrl_c_in_the_terminal_closes_the_studio(qtbot, tmp_path, monkeypatch, standin_body):
    import signal
    import time

    from PySide6 import QtCore

    import anr_studio.gui.app as app_mod
    import anr_studio.gui.main_window as mw

    monkeypatch.setattr(app_mod, "MODELS_DIRS", (tmp_path / "no-models",))
    monkeypatch.setattr(mw, "default_body", lambda: standin_body)
    QtCore.QTimer.singleShot(1000, lambda: os.kill(os.getpid(), signal.SIGINT))
    started = signal.signal(signal.SIGINT, signal.default_int_handler)  # as from a terminal (not ignored)
    try:
        t0 = time.monotonic()
        assert app_mod.run_app(quit_after=20) == 0
        assert time.monotonic() - t0 < 10, "Ctrl-C left the studio open"
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, started)


def test_screenshot_with_a_bad_open_path_reports_one_line(qtbot, tmp_path, monkeypatch, standin_body, capsys):
    import anr_studio.gui.app as app_mod
    import anr_studio.gui.main_window as mw

    monkeypatch.setattr(mw, "default_body", lambda: standin_body)
    rc = app_mod.run_app(open_path=str(tmp_path / "missing.anr"), screenshot=str(tmp_path / "s.png"))
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("anr-studio: error: ") and "missing.anr" in err and "Traceback" not in err


def test_tryon_pair_puts_the_green_top_on_the_skirt_in_old_and_new_demo_names():
    from scripts.make_screenshots import tryon_pair

    assert tryon_pair(["ada", "ben", "cleo"]) == ("cleo", "ada")
    assert tryon_pair(["synth-0", "synth-1", "synth-5"]) == ("synth-5", "synth-0")
    assert tryon_pair(["alice", "bob", "carol"]) == ("bob", "alice")
    assert tryon_pair(["alice"]) is None


def test_save_screenshot_with_a_palette_keeps_the_picture(qtbot, tmp_path):
    from PIL import Image
    from PySide6 import QtWidgets

    from anr_studio.gui.app import save_screenshot

    label = QtWidgets.QLabel("Keyboard shortcuts: Ctrl+O opens a capture")
    qtbot.addWidget(label)
    label.resize(360, 40)
    save_screenshot(label, tmp_path / "full.png")
    save_screenshot(label, tmp_path / "palette.png", colours=256)
    full, palette = Image.open(tmp_path / "full.png"), Image.open(tmp_path / "palette.png")
    assert palette.mode == "P" and palette.size == full.size
    diff = np.abs(np.asarray(full.convert("RGB"), int) - np.asarray(palette.convert("RGB"), int))
    assert diff.mean() < 1.0


# The studio opens the demo avatar and starts exporting its walk to the given mp4, as File ▸ Export video does,
# a frame every quarter second or slower: the export is still writing when the signal comes.
_EXPORTING_STUDIO = """
import sys, time
from PySide6 import QtCore
from anr_studio.gui import app
from anr_studio.gui.main_window import MainWindow
from anr_studio.jobs import preview
render = preview.render_request
preview.render_request = lambda *a, **k: time.sleep(0.25) or render(*a, **k)
show = MainWindow.show
def show_and_export(win):
    show(win)
    QtCore.QTimer.singleShot(0, lambda: win.video_export.start(win.avatar, win.neural.identity, "walk", sys.argv[1],
                                                               win.view_state.view, size=128))
MainWindow.show = show_and_export
sys.exit(app.run_app())
"""


def test_sigterm_while_the_studio_exports_a_video_closes_it_without_a_partial_file(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "walk.mp4"
    proc = subprocess.Popen([sys.executable, "-c", _EXPORTING_STUDIO, str(out)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not [p for p in tmp_path.iterdir() if ".partial" in p.name] and proc.poll() is None:
        assert time.time() < deadline, "the studio never started writing the video"
        time.sleep(0.05)
    time.sleep(2.0)
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGTERM)  # frames are being encoded into the hidden temporary file
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and "Traceback" not in err, (proc.returncode, err)
    assert list(tmp_path.iterdir()) == []
