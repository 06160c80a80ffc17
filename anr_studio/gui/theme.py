"""The studio's one dark theme: Fusion with a dark palette; plots, the 3D view and image wells share its colours."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6 import QtGui, QtWidgets

WINDOW = (45, 47, 53)
BASE = (30, 31, 36)
"""Background of plots, image wells and the neural view (RGB 0-255)."""
TEXT = (220, 222, 228)
ACCENT = (70, 140, 230)
VIEWPORT_BG = (0.13, 0.14, 0.16, 1.0)
"""The 3D viewport's clear colour (RGBA 0-1), a shade of BASE."""
NEURAL_BACKDROP = (62, 64, 71)
"""What the neural view composites the person over (RGB 0-255): a grey a step above BASE, so dark
clothes and hair stay visible and the image does not glare in the dark window."""
IMAGE_WELL = f"background-color: rgb{BASE}; color: rgb(170, 172, 180);"
"""Style sheet of a widget that shows an image or a message in place of one."""


def apply_dark_theme(app: QtWidgets.QApplication) -> None:
    """Gives ``app`` the dark theme: Fusion style, a dark palette (disabled text dimmed, links and selection in the
    accent), pyqtgraph's default colours."""
    if app.property("anrTheme") == "dark":
        return
    R, c = QtGui.QPalette.ColorRole, QtGui.QColor
    pal = QtGui.QPalette()
    for role, rgb in ((R.Window, WINDOW), (R.WindowText, TEXT), (R.Base, BASE), (R.AlternateBase, (38, 40, 45)),
                      (R.ToolTipBase, (20, 21, 25)), (R.ToolTipText, TEXT), (R.Text, TEXT), (R.Button, (55, 58, 65)),
                      (R.ButtonText, TEXT), (R.BrightText, (255, 90, 90)), (R.Link, ACCENT), (R.Highlight, ACCENT),
                      (R.HighlightedText, (255, 255, 255)), (R.PlaceholderText, (130, 132, 140)), (R.Light, (75, 78, 86)),
                      (R.Midlight, (62, 65, 72)), (R.Mid, (40, 42, 47)), (R.Dark, (22, 23, 27)), (R.Shadow, (10, 10, 12))):
        pal.setColor(role, c(*rgb))
    G = QtGui.QPalette.ColorGroup.Disabled
    for role in (R.WindowText, R.Text, R.ButtonText):
        pal.setColor(G, role, c(120, 122, 130))
    pal.setColor(G, R.Button, c(48, 50, 56))
    app.setStyle("Fusion")
    app.setPalette(pal)
    pg.setConfigOptions(background=BASE, foreground=TEXT)
    app.setProperty("anrTheme", "dark")
