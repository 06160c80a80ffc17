"""The Help menu: a keyboard-shortcut sheet read from the window's bound actions and shortcuts, the
documentation, and About (version)."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

import anr_studio
from anr_studio.gui.qt_util import action, button, fill_menu, hbox, vbox

README = Path(anr_studio.__file__).resolve().parent.parent / "README.md"
"""The README of a source checkout (its docs/ folder beside it); an installed package has none."""
MOUSE_HINTS = (
    ("Drag", "Orbit the camera", "3D view"),
    ("Middle drag, Shift+drag", "Pan the camera", "3D view"),
    ("Wheel", "Zoom", "3D view"),
    ("Double-click", "Reset the camera", "3D view"),
    ("Click near a joint", "Select the joint", "3D view"),
    ("Drag a ring of the selected joint", "Turn the joint about that axis", "3D view"),
    ("Drag", "Paint the try-on mask", "try-on canvas"),
    ("Drag on the body", "Paint the try-on mask (Try-on ▸ Paint on view)", "neural view"),
    ("Drop a file", "Open an avatar, capture or motion; import a video", "window"),
)
"""Mouse gestures, listed under the keys (handled by the views' mouse events, not by actions)."""
ANYWHERE = "anywhere"
FOCUS_CONTEXTS = (QtCore.Qt.ShortcutContext.WidgetShortcut, QtCore.Qt.ShortcutContext.WidgetWithChildrenShortcut)


def _keys(sequences) -> str:
    return ", ".join(s.toString(QtGui.QKeySequence.SequenceFormat.NativeText) for s in sequences if not s.isEmpty())


def _command(act: QtGui.QAction) -> str:
    text = act.text().replace("&", "").rstrip("…").strip()
    menus = [o for o in act.associatedObjects() if isinstance(o, QtWidgets.QMenu) and o.title()]
    return f"{menus[0].title().replace('&', '')} ▸ {text}" if menus else text


def _where(context: QtCore.Qt.ShortcutContext, widgets: list[QtWidgets.QWidget]) -> str:
    if context in FOCUS_CONTEXTS and widgets:
        names = (w.accessibleName() or w.windowTitle() or w.objectName() or type(w).__name__ for w in widgets)
        return " or ".join(dict.fromkeys(names)) + " focused"
    return ANYWHERE


def bound_shortcuts(window: QtWidgets.QMainWindow) -> list[tuple[str, str, str]]:
    """Returns (keys as shown ("Ctrl+Z, Ctrl+Y"), what it does, where it works) of every shortcut bound in ``window``
    (the studio binds each as a QAction): window-wide ones in menu order, then those of a focused view."""
    menus = [a.menu() for a in window.menuBar().actions() if a.menu() is not None]
    actions = set(window.findChildren(QtGui.QAction))
    for w in (window, *window.findChildren(QtWidgets.QWidget)):
        actions.update(w.actions())
    found: dict[tuple[str, str, str], tuple] = {}
    for act in actions:
        keys = _keys(act.shortcuts())
        if not keys:
            continue
        widgets = [o for o in act.associatedObjects() if isinstance(o, QtWidgets.QWidget) and not isinstance(o, QtWidgets.QMenu)]
        _, command, where = entry = (keys, _command(act), _where(act.shortcutContext(), widgets))
        place = next(((i, m.actions().index(act)) for i, m in enumerate(menus) if act in m.actions()), (len(menus), 0))
        found[entry] = (where != ANYWHERE, where, *place, command)
    return sorted(found, key=found.__getitem__)


def describe_actions(window: QtWidgets.QWidget) -> None:
    """Gives every action with a shortcut a tooltip that says what it does and its keys ("Undo (Ctrl+Z)")."""
    for act in window.findChildren(QtGui.QAction):
        keys = _keys(act.shortcuts())
        what = act.statusTip() or act.text().replace("&", "").rstrip("…")
        if keys:
            act.setToolTip(f"{what} ({keys})")
        elif act.statusTip():
            act.setToolTip(what)


class ShortcutSheet(QtWidgets.QWidget):
    """A window listing every bound shortcut (read from the actions each time `HelpMenu.show_shortcuts` shows it) and the
    mouse gestures."""

    def __init__(self, window: QtWidgets.QWidget) -> None:
        super().__init__(window, QtCore.Qt.WindowType.Window, objectName="shortcutSheet",
                         windowTitle="Keyboard shortcuts — ANR Studio")
        self.main_window = window
        self.filter = QtWidgets.QLineEdit(placeholderText="Filter (e.g. undo, Ctrl)…", clearButtonEnabled=True,
                                          toolTip="Show only the rows containing every word typed here",
                                          textChanged=self._apply_filter)
        self.table = QtWidgets.QTableWidget(0, 3, objectName="shortcutTable",
                                            toolTip="Every keyboard shortcut of the studio, then the mouse gestures",
                                            editTriggers=QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setHorizontalHeaderLabels(["Keys", "Does", "Where"])
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.setLayout(vbox(self.filter, (self.table, 1), hbox(None, button("Close", "Close this list (F1 opens it again)",
                                                                             self.close))))
        self.resize(720, 520)

    def refresh(self) -> None:
        """Fills the table with (keys, does, where) of every shortcut bound right now, then the mouse gestures."""
        rows = bound_shortcuts(self.main_window) + list(MOUSE_HINTS)
        self.table.setRowCount(len(rows))
        for i, row in enumerate(rows):
            for j, text in enumerate(row):
                self.table.setItem(i, j, QtWidgets.QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        self._apply_filter(self.filter.text())

    def _apply_filter(self, text: str) -> None:
        words = text.lower().split()
        for i in range(self.table.rowCount()):
            line = " ".join(self.table.item(i, j).text().lower() for j in range(3))
            self.table.setRowHidden(i, not all(w in line for w in words))


class HelpMenu(QtCore.QObject):
    """Adds Help ▸ Keyboard shortcuts (F1), Documentation and About to ``window``'s menu bar."""

    def __init__(self, window: QtWidgets.QMainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.sheet: ShortcutSheet | None = None
        self.about_box: QtWidgets.QMessageBox | None = None
        menu = window.menuBar().addMenu("&Help")
        menu.setObjectName("helpMenu")
        self.act_shortcuts = action(window, "Keyboard shortcuts…", lambda: self.show_shortcuts(), "F1",
                                    "List every keyboard shortcut and mouse gesture of the studio")
        self.act_docs = action(window, "Documentation", lambda: self.open_documentation(), None,
                               "Open the README (and the docs/ folder beside it)")
        self.act_about = action(window, "About ANR Studio", lambda: self.show_about(), None, "Version and licence")
        fill_menu(menu, self.act_shortcuts, self.act_docs, None, self.act_about)

    def show_shortcuts(self) -> ShortcutSheet:
        """Shows (non-modal) and returns the shortcut sheet, filled from the shortcuts bound now."""
        if self.sheet is None:
            self.sheet = ShortcutSheet(self.window)
        self.sheet.show()
        self.sheet.refresh()
        self.sheet.raise_()
        self.sheet.activateWindow()
        return self.sheet

    def open_documentation(self) -> QtCore.QUrl | None:
        """Opens the README with the desktop's viewer and returns its URL (None, with a note, when none is installed)."""
        if README.is_file():
            url = QtCore.QUrl.fromLocalFile(str(README))
            QtGui.QDesktopServices.openUrl(url)
            self.window.statusBar().showMessage(f"Opened {README} (more in {README.parent / 'docs'})", 8000)
            return url
        self.window.statusBar().showMessage("No README here: an installed studio lists its commands with "
                                           "`anr-studio --help`; the README and docs/ come with the source", 10000)
        return None

    def show_about(self) -> QtWidgets.QMessageBox:
        """Shows (non-modal) and returns the About box: name, version, what it implements, the Qt and Python versions."""
        import PySide6

        if self.about_box is None:
            text = (f"<h3>ANR Studio {anr_studio.__version__}</h3>"
                    "<p>Turn a video of a person into an animatable neural avatar: pose, orbit, animate and re-dress it.</p>"
                    "<p>Implements <i>Articulated Neural Rendering</i> (Raj et al., CVPR 2021).</p>"
                    f"<p>Qt {QtCore.qVersion()} (PySide6 {PySide6.__version__}), Python {sys.version.split()[0]}.<br>"
                    "Apache-2.0 licence; third-party notices in NOTICE.</p>")
            self.about_box = QtWidgets.QMessageBox(QtWidgets.QMessageBox.Icon.Information, "About ANR Studio", text,
                                                   QtWidgets.QMessageBox.StandardButton.Ok, self.window,
                                                   objectName="aboutDialog", textFormat=QtCore.Qt.TextFormat.RichText)
        self.about_box.open()
        return self.about_box
