"""Starts the studio: `anr-studio` with no sub-command calls ``run_app``."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from anr_studio.fileio import on_stop_signals, shipped_path

MODELS_DIRS = (shipped_path("models"), Path.cwd() / "models")


def demo_avatar() -> Path | None:
    """Returns the first shipped demo avatar (models/*.anr) or None."""
    return next((path for d in MODELS_DIRS if d.is_dir() for path in sorted(d.glob("*.anr"))), None)


def _application():
    from PySide6 import QtWidgets

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    app.setApplicationName("ANR Studio")
    app.setOrganizationName("anr-studio")
    return app


def wait_until_rendered(window, timeout_s: float = 20.0) -> None:
    """Processes events until the window is drawn and the neural preview has nothing pending."""
    from PySide6 import QtWidgets

    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        QtWidgets.QApplication.processEvents()
        neural = window.neural
        done_neural = neural.worker.avatar is None or (
            neural.worker.idle() and neural.last_result is not None and not neural.refining()
            and neural.last_result.request.size[0] == neural.size_px)  # the full frame, not the quick one
        if window.isVisible() and done_neural and time.monotonic() - t0 > 0.5:
            break
        time.sleep(0.01)
    for _ in range(5):
        QtWidgets.QApplication.processEvents()
        window.viewport.canvas.update()
        time.sleep(0.02)


def save_screenshot(widget, path: str | os.PathLike, colours: int | None = None) -> None:
    """Saves ``widget.grab()`` to ``path`` as PNG, with ``colours`` as an adaptive palette (a third of the size
    for pictures of controls)."""
    from anr_studio.errors import AnrError

    if hasattr(widget, "tidy_dock_tabs"):
        widget.tidy_dock_tabs()
    pm = widget.grab()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    if not pm.save(str(path)):
        raise AnrError(f"{path}: the screenshot could not be written, expected a writable .png path")
    if colours is not None:
        from PIL import Image

        with Image.open(path) as im:
            indexed = im.convert("RGB").quantize(colors=colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
        indexed.save(path, optimize=True)


def run_app(open_path: str | None = None, screenshot: str | None = None, quit_after: float | None = None) -> int:
    """Runs the studio until the window closes; returns the exit code. ``open_path``: an avatar or capture (default
    the demo avatar); ``screenshot``: save the window there and quit; ``quit_after``: quit after S seconds."""
    app = _application()
    from PySide6 import QtCore

    from anr_studio.gui.main_window import MainWindow
    from anr_studio.gui.qt_util import show_error

    window = MainWindow()

    sys.excepthook = lambda _type, value, _tb: show_error(window, value)  # a slot that raises shows a dialog
    window.show()
    if not screenshot:
        window.recovery.offer()
    # --open's path as the studio's own dialogs give them (absolute): Recent files and messages name it fully
    target = os.path.abspath(open_path) if open_path else (str(demo_avatar()) if demo_avatar() is not None else None)
    rc = 0
    if target:
        try:
            MainWindow.open_path.__wrapped__(window, target)  # unguarded: we decide how to report
        except Exception as exc:  # noqa: BLE001 - reported like the CLI in scripted runs, as a dialog otherwise
            if screenshot:
                print(f"anr-studio: error: {exc}", file=sys.stderr)
                rc = 2
            else:
                show_error(window, exc)
    if screenshot:
        wait_until_rendered(window)
        try:
            save_screenshot(window, screenshot)
        except Exception as exc:  # noqa: BLE001 - report like the CLI, no traceback
            print(f"anr-studio: error: {exc}", file=sys.stderr)
            rc = 2
        window.close()
        return rc
    if quit_after is not None:
        QtCore.QTimer.singleShot(int(quit_after * 1000), window.close)
    # Ctrl-C in the terminal, SIGTERM (`kill`, a logout) and SIGHUP (a closed terminal) close the window as its close
    # button does (jobs stop cleanly, an export removes its partial video) instead of raising KeyboardInterrupt in
    # whichever slot runs next or ending the process mid-write; the status bar's timer runs Python every half second.
    def close(*_) -> None:
        QtCore.QTimer.singleShot(0, window.close)

    interrupt = signal.getsignal(signal.SIGINT)
    if interrupt is signal.default_int_handler:  # not when started with Ctrl-C ignored (in the background)
        signal.signal(signal.SIGINT, close)
    try:
        with on_stop_signals(close):
            app.exec()
    finally:
        signal.signal(signal.SIGINT, interrupt)
    return rc
