"""GUI test setup: real OpenGL under Xvfb (pytest-xvfb), isolated settings, a clear skip without a display."""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

# Settings (window state, recent files) go to a throwaway folder, never the user's.
os.environ.setdefault("XDG_CONFIG_HOME", tempfile.mkdtemp(prefix="anr-gui-cfg-"))
os.environ.setdefault("XDG_DATA_HOME", tempfile.mkdtemp(prefix="anr-gui-data-"))  # autosaves
os.environ.setdefault("OMP_NUM_THREADS", "1")

_SKIP_REASON: str | None = None


def _display_problem() -> str | None:
    if os.environ.get("QT_QPA_PLATFORM", "") == "offscreen":
        return "QT_QPA_PLATFORM=offscreen has no OpenGL for vispy; run under Xvfb (pytest-xvfb) instead"
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        hint = "" if shutil.which("Xvfb") else " (Xvfb is not installed)"
        return f"no display for the GUI tests{hint}; install Xvfb so pytest-xvfb can start one"
    try:
        from PySide6 import QtWidgets  # noqa: F401
        import vispy  # noqa: F401
    except ImportError as exc:
        return f"GUI packages missing: {exc}"
    return None


def pytest_configure(config):
    # vispy 0.17 still calls QMouseEvent.pos(); the warning is vispy's, not ours.
    config.addinivalue_line("filterwarnings", "ignore:Function.*QMouseEvent.pos.*:DeprecationWarning")


def pytest_collection_modifyitems(config, items):
    global _SKIP_REASON
    _SKIP_REASON = _display_problem()
    for item in items:
        if "tests/gui" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.gui)
            if _SKIP_REASON:
                item.add_marker(pytest.mark.skip(reason=_SKIP_REASON))


@pytest.fixture(autouse=True)
def no_blocking_questions(monkeypatch):
    """Answers the studio's yes/no questions (e.g. discard unsaved painting on close) without a modal loop.

    A question box opened by ``QMessageBox.question`` would wait for a click that never comes and hang
    the suite (window teardown closes every window). Tests about a question patch it themselves.
    """
    from PySide6 import QtWidgets

    asked: list[str] = []

    def answer(_parent, title, *_args, **_kwargs):
        asked.append(title)
        return QtWidgets.QMessageBox.StandardButton.Discard

    monkeypatch.setattr(QtWidgets.QMessageBox, "question", answer)
    return asked


@pytest.fixture(scope="session")
def standin_body():
    from tests.standin import standin_body

    return standin_body()


@pytest.fixture
def window(qtbot, standin_body):
    """The studio's main window on the stand-in body, shown and drawn."""
    import torch

    torch.set_num_threads(1)
    from anr_studio.gui.main_window import MainWindow, settings

    settings().clear()  # every test starts from the default layout, whatever earlier tests saved
    win = MainWindow(body=standin_body)
    qtbot.addWidget(win)
    win.resize(1200, 800)
    win.show()
    qtbot.waitExposed(win)
    # Docks settle over a few event-loop turns; wait until the canvas keeps one size.
    sizes = []
    for _ in range(60):
        qtbot.wait(50)
        sizes.append(tuple(win.viewport.canvas.size))
        if len(sizes) >= 4 and len(set(sizes[-4:])) == 1:
            break
    yield win
    win.paint_state.mark_saved()  # tests that paint close without the discard prompt
    win.close()


@pytest.fixture
def tiny_avatar(standin_body):
    from tests.standin import untrained_avatar

    return untrained_avatar(standin_body, "tiny", identities=("alice", "bob"), seed=3)


@pytest.fixture
def tiny_capture(tmp_path, standin_body):
    from tests.standin import write_standin_capture

    return write_standin_capture(tmp_path / "tiny.h5", standin_body)
