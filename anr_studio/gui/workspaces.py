"""Workspaces: a tab bar (Pose / Try-on / Train / Capture) that brings the panels of one task to the front."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

WORKSPACES: dict[str, tuple[tuple[str, ...], float]] = {
    "Pose": (("Pose", "Capture"), 0.36),
    "Try-on": (("Try-on", "Capture"), 0.36),
    "Train": (("Training",), 0.6),
    "Capture": (("Capture", "Pose"), 0.5),
}
"""Workspace name -> (the docks it raises, each the front tab of its group; the share of the window's
height the panels below the views get)."""
SET_ASIDE = {"Train": ("Pose", "Try-on")}
"""Workspace name -> the docks it hides while it is shown (training wants the window's width for its
plot and previews); they come back with the next workspace."""
TIPS = {
    "Pose": "Pose the body: joint angles, shape, motion playback",
    "Try-on": "Paint a mask on the UV layout and swap textures between identities",
    "Train": "Train an avatar on captures: presets, live losses, previews",
    "Capture": "Open, import or synthesize a capture and check it",
}
DOCK_TIPS = {
    "Pose": "Joint angles, shape and motion playback",
    "Try-on": "Paint a mask on the UV layout and swap textures between identities",
    "Capture": "The open capture's frames, masks and the body's outline",
    "Keyframes": "Select, edit and save the keyframes of the open capture",
    "Training": "Train an avatar: presets, live losses and previews",
}
"""Dock title -> what its tab's tooltip says (Qt's own tooltip is only the title)."""


def describe_dock_tabs(window: QtWidgets.QMainWindow) -> None:
    """Gives the dock tabs of ``window`` a tooltip saying what their panel holds."""
    for bar in window.findChildren(QtWidgets.QTabBar, options=QtCore.Qt.FindChildOption.FindDirectChildrenOnly):
        for i in range(bar.count()):
            tip = DOCK_TIPS.get(bar.tabText(i))
            if tip and bar.tabToolTip(i) != tip:
                bar.setTabToolTip(i, tip)


def hide_stale_tab_bars(window: QtWidgets.QMainWindow, docks: dict[str, QtWidgets.QDockWidget]) -> None:
    """Hides stale dock tab bars: after a resize Qt (seen under Xvfb) can leave an old copy of a group's tab bar
    behind; the live one sits flush with its docks."""
    groups: dict[tuple[str, ...], list[QtWidgets.QTabBar]] = {}
    for tb in window.findChildren(QtWidgets.QTabBar, options=QtCore.Qt.FindChildOption.FindDirectChildrenOnly):
        if tb.isVisible():
            groups.setdefault(tuple(sorted(tb.tabText(i) for i in range(tb.count()))), []).append(tb)
    for titles, bars in groups.items():
        shown = [docks[t] for t in titles if t in docks and docks[t].isVisible()]
        if len(bars) > 1 and shown:  # a single bar is always the live one
            x = shown[0].geometry().left()
            for tb in sorted(bars, key=lambda tb: abs(tb.geometry().left() - x))[1:]:
                tb.hide()


class WorkspaceBar(QtWidgets.QTabBar):
    """A tab per workspace; choosing one shows and raises its docks in ``docks``."""

    def __init__(self, docks: dict[str, QtWidgets.QDockWidget], parent=None) -> None:
        super().__init__(parent, objectName="workspaceBar", drawBase=False, expanding=False,
                         toolTip="Workspaces: bring the panels of one task to the front")
        self.docks = docks
        self._set_aside: list[QtWidgets.QDockWidget] = []
        for i, name in enumerate(WORKSPACES):
            self.addTab(name)
            self.setTabToolTip(i, TIPS[name])
        self.currentChanged.connect(lambda index: self.show_workspace(self.tabText(index)))

    def bring_back(self) -> None:
        """Shows again the docks the current workspace set aside (before another workspace, or saving the layout)."""
        for dock in self._set_aside:
            dock.show()
        self._set_aside = []

    def show_workspace(self, name: str) -> None:
        """Shows and raises the docks of workspace ``name`` and gives the bottom panels its share of the height."""
        with QtCore.QSignalBlocker(self):
            self.setCurrentIndex(list(WORKSPACES).index(name))
        titles, bottom_share = WORKSPACES[name]
        self.bring_back()
        self._set_aside = [d for t in SET_ASIDE.get(name, ()) if (d := self.docks.get(t)) is not None and not d.isHidden()]
        for dock in self._set_aside:
            dock.hide()
        for title in reversed(titles):  # the first dock last, so it ends in front
            dock = self.docks.get(title)
            if dock is not None:
                dock.show()
                dock.raise_()
        window = self.window()
        bottom = [d for d in self.docks.values() if isinstance(window, QtWidgets.QMainWindow) and not d.isFloating()
                  and window.dockWidgetArea(d) == QtCore.Qt.DockWidgetArea.BottomDockWidgetArea and d.isVisible()]
        if bottom:
            window.resizeDocks(bottom[:1], [int(bottom_share * window.height())], QtCore.Qt.Orientation.Vertical)
