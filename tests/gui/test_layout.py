"""Laptop screens and one dark theme: the window fits 1280x720, every workspace's panel shows, nothing is light."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6 import QtWidgets

from anr_studio.gui.workspaces import WORKSPACES


def _lightness(widget: QtWidgets.QWidget, x: int, y: int) -> int:
    return widget.grab().toImage().pixelColor(x, y).lightness()


@pytest.mark.parametrize("size", [(1280, 720), (1366, 768)])
def test_window_fits_laptop_screens_and_each_workspace_shows_its_panel(window, qtbot, size):
    hint = window.minimumSizeHint()
    assert hint.height() <= 690 and hint.width() <= 1200, f"minimum size {hint.width()}x{hint.height()}"
    window.resize(*size)
    qtbot.waitUntil(lambda: (window.width(), window.height()) == size, timeout=5000)
    sb = window.statusBar()
    assert sb.isVisible() and sb.geometry().bottom() <= window.height() and sb.height() >= 10
    for name, (titles, _share) in WORKSPACES.items():
        window.workspaces.show_workspace(name)
        qtbot.wait(50)
        dock = window.docks[titles[0]]
        assert dock.isVisible() and not dock.visibleRegion().isEmpty(), name
        assert dock.height() >= 120 and dock.geometry().bottom() <= window.height(), name
        # The views above keep room to work in.
        assert window.viewport.height() >= 150, (name, window.viewport.height())


def test_one_dark_theme_for_panels_plots_and_views(window):
    pal = window.palette()
    assert pal.color(pal.ColorRole.Window).lightness() < 80 and pal.color(pal.ColorRole.Base).lightness() < 80
    assert pal.color(pal.ColorRole.WindowText).lightness() > 180
    plot = window.training_panel.plot
    assert _lightness(plot, 5, 5) < 60
    window.neural_stack.setCurrentWidget(window.neural)
    label = window.neural.label
    label.resize(200, 200)
    assert _lightness(label, 3, 3) < 60, "the neural view's background is light"
    canvas_bg = np.asarray(window.viewport.canvas.bgcolor.rgba)
    assert canvas_bg[:3].max() < 0.25


def test_side_panels_take_the_full_height_and_training_takes_the_full_width(window, qtbot):
    window.resize(1280, 720)
    qtbot.waitUntil(lambda: (window.width(), window.height()) == (1280, 720), timeout=5000)
    window.workspaces.show_workspace("Pose")
    qtbot.wait(50)
    pose, capture = window.docks["Pose"], window.docks["Capture"]
    assert pose.geometry().bottom() > capture.geometry().top()  # beside the panels below, not above them
    window.workspaces.show_workspace("Train")
    qtbot.wait(50)
    assert not pose.isVisible() and not window.docks["Try-on"].isVisible()
    training = window.docks["Training"]
    assert training.width() >= window.width() - 20
    scroll = training.widget()
    assert not scroll.verticalScrollBar().isVisible(), "the Training panel scrolls at 1280x720"
    window.workspaces.show_workspace("Try-on")
    qtbot.wait(50)
    assert pose.isVisible() or window.docks["Try-on"].isVisible()
    assert not pose.isHidden() and not window.docks["Try-on"].isHidden()  # both back, Try-on in front


def test_capture_and_keyframes_panels_fit_beside_the_side_panel_at_1024x700(window, qtbot, tiny_capture):
    """Neither panel scrolls: the Capture controls hid Extract masks off to the right, and the coverage plot's
    preferred height pushed its axis and the summary line below the Keyframes panel's bottom edge."""
    window.resize(1024, 700)
    qtbot.waitUntil(lambda: (window.width(), window.height()) == (1024, 700), timeout=5000)
    window.open_path(str(tiny_capture))
    window.workspaces.show_workspace("Capture")
    assert window.docks["Pose"].isVisible()  # beside the side panel
    for title in ("Capture", "Keyframes"):
        window.docks[title].raise_()
        qtbot.wait(100)
        scroll = window.docks[title].widget()
        assert not scroll.horizontalScrollBar().isVisible() and not scroll.verticalScrollBar().isVisible(), title
    assert window.keyframes_panel.plot.height() >= 100



@pytest.fixture
def desktop_font():
    """An 11 pt application font (a common desktop default; Xvfb's is 9 pt) for the window made after it."""
    app = QtWidgets.QApplication.instance()
    font = app.font()
    larger = app.font()
    larger.setPointSizeF(11)
    app.setFont(larger)
    yield
    app.setFont(font)


@pytest.mark.parametrize("size", [(1024, 700), (1600, 1000)])
def test_welcome_text_shows_whole_in_the_capture_workspace_with_a_desktop_font(desktop_font, window, qtbot, size):
    """The welcome beside the 3D view lost its last lines at 1024x700 with an 11 pt font."""
    window.resize(*size)
    qtbot.waitUntil(lambda: (window.width(), window.height()) == size, timeout=5000)
    window.workspaces.show_workspace("Capture")
    qtbot.wait(100)
    welcome = window.empty
    assert welcome.isVisible() and welcome.font().pointSizeF() == 11
    assert welcome.heightForWidth(welcome.width()) <= welcome.height(), (welcome.width(), welcome.height())
