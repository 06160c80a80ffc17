"""Small Qt helpers: numpy -> QImage, an aspect-keeping image label, error dialogs, background jobs, brushes."""

from __future__ import annotations

import functools
import operator
import os
import traceback
from typing import Callable

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from anr_studio.components.paint import PaintState, resize_brush
from anr_studio.components.status import JobState
from anr_studio.errors import AnrError
from anr_studio.jobs.runner import BackgroundJob


def to_qimage(img: np.ndarray) -> QtGui.QImage:
    """Returns a QImage (deep copy) of ``img`` (H,W,3) or (H,W,4) uint8."""
    a = np.ascontiguousarray(img)
    h, w = a.shape[:2]
    if a.shape[2] == 3:
        fmt, bpl = QtGui.QImage.Format.Format_RGB888, 3 * w
    else:
        fmt, bpl = QtGui.QImage.Format.Format_RGBA8888, 4 * w
    return QtGui.QImage(a.data, w, h, bpl, fmt).copy()


class ImageLabel(QtWidgets.QLabel):
    """A label that shows one image scaled to fit (aspect kept) or a centred message."""

    def __init__(self, message: str = "", minimum: int = 96, **props) -> None:
        ignored = QtWidgets.QSizePolicy.Policy.Ignored
        super().__init__(message, alignment=QtCore.Qt.AlignmentFlag.AlignCenter, minimumSize=QtCore.QSize(minimum, minimum),
                         sizePolicy=QtWidgets.QSizePolicy(ignored, ignored), wordWrap=True, **props)
        self._image: QtGui.QImage | None = None

    def set_array(self, img: np.ndarray | None, message: str = "") -> None:
        """Shows ``img`` (H,W,3|4) uint8, or ``message`` when it is None."""
        self._image = None if img is None else to_qimage(img)
        if self._image is None:
            self.clear()
            self.setText(message)
        else:
            self._rescale()

    def image(self) -> QtGui.QImage | None:
        return self._image

    def _rescale(self) -> None:
        if self._image is not None:
            pm = QtGui.QPixmap.fromImage(self._image)
            self.setPixmap(pm.scaled(self.size(), QtCore.Qt.AspectRatioMode.KeepAspectRatio, QtCore.Qt.TransformationMode.SmoothTransformation))

    def resizeEvent(self, event: QtGui.QResizeEvent) -> None:  # noqa: N802 - Qt name
        super().resizeEvent(event)
        self._rescale()


def show_error(parent: QtWidgets.QWidget | None, exc: BaseException) -> None:
    """Shows ``exc`` in a dialog: AnrError as its one sentence, anything else with its type (no traceback)."""
    if isinstance(exc, AnrError):
        text = str(exc)
    else:
        text = f"Something went wrong: {type(exc).__name__}: {exc}"
        traceback.print_exception(exc)  # keep the details on the console for bug reports
    box = QtWidgets.QMessageBox(QtWidgets.QMessageBox.Icon.Warning, "ANR Studio", text, QtWidgets.QMessageBox.StandardButton.Ok, parent)
    box.setObjectName("errorDialog")
    # The advice is for a file that did not open: the message starts with its path (not "training: no captures…"),
    # as the studio gives it (absolute). A message naming a file by its name alone is about what the file
    # shows ("clip.mp4: no person found…"), whatever folder the studio was started in.
    named = text.split(": ", 1)[0] if isinstance(exc, AnrError) and ": " in text else ""
    if os.path.isabs(named) and os.path.isfile(named):
        box.setInformativeText("What to do: check the file named above — it may be damaged, cut short or of another "
                               "kind. Open another copy, or make it again (train, import or export), then open it.")
    box.open()  # non-blocking so tests and the event loop keep running


def ask_user(parent: QtWidgets.QWidget, title: str, text: str, buttons: str = "Yes No", default: str = "Yes") -> str:
    """Returns the name of the button ("Yes", "No", "Save", "Discard", "Cancel") pressed in a question box with ``buttons``."""
    Btn = QtWidgets.QMessageBox.StandardButton
    flags = functools.reduce(operator.or_, (Btn[name] for name in buttons.split()))
    return Btn(QtWidgets.QMessageBox.question(parent, title, text, flags, Btn[default])).name  # PySide6 gives an int


def guarded(method: Callable) -> Callable:
    """Decorates a slot so AnrError (and anything else) becomes a dialog instead of a traceback."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - the UI must survive any failing action
            show_error(self if isinstance(self, QtWidgets.QWidget) else self.parent(), exc)  # a QObject: its window
            return None

    return wrapper


@guarded
def open_file(parent: QtWidgets.QWidget, title: str, kinds: str, then: Callable[[str], object]) -> None:
    """Asks for a file of ``kinds`` (the dialog's filter) and opens it with ``then(path)``; a failure is a dialog."""
    path, _ = QtWidgets.QFileDialog.getOpenFileName(parent, title, "", kinds)
    if path:
        then(path)


POLL_MS = 200
"""Milliseconds between two looks of the studio at its background jobs' status."""


class JobWatcher(QtCore.QObject):
    """Starts jobs for ``owner``, lists them in ``jobs`` and polls them every ``POLL_MS``: progress goes to
    ``progress``, a result to ``on_result``, a failure to a dialog, and ``on_end(snapshot)`` runs at the end."""

    def __init__(self, owner: QtWidgets.QWidget, jobs) -> None:
        super().__init__(owner)
        self.owner, self.jobs = owner, jobs
        self._watched: list[tuple] = []
        self._timer = QtCore.QTimer(self)
        self._timer.timeout.connect(self.poll)

    @property
    def active(self) -> bool:
        """Returns True while a started job has not been seen to end."""
        return self._timer.isActive()

    def start(self, name: str, fn: Callable, on_result: Callable | None = None, on_end: Callable | None = None,
              progress: QtWidgets.QProgressBar | None = None) -> BackgroundJob:
        """Returns the started job running ``fn(control)``, listed as ``name``."""
        job = BackgroundJob(name, fn).start()
        self.jobs.add(job, name)
        if progress is not None:
            progress.setVisible(True)
            progress.setRange(0, 0)
        self._watched.append((job, on_result, on_end, progress))
        self._timer.start(POLL_MS)
        return job

    def poll(self) -> None:
        """Updates the progress of running jobs and hands on the jobs that ended."""
        for entry in list(self._watched):
            job, on_result, on_end, progress = entry
            snap = job.status.snapshot(log_tail=0)
            if progress is not None and snap.total:
                progress.setRange(0, snap.total)
                progress.setValue(snap.done)
            if snap.state.active:
                continue
            self._watched.remove(entry)
            if progress is not None:
                progress.setVisible(False)
            try:
                try:
                    if snap.state == JobState.FINISHED and on_result is not None:
                        on_result(job.result)
                    elif snap.state == JobState.FAILED:
                        show_error(self.owner, AnrError(snap.error or f"{job.name} failed"))
                finally:  # the end is told even when the result's handler failed
                    if on_end is not None:
                        on_end(snap)
            except Exception as exc:  # noqa: BLE001 - a failing handler is a dialog, never a dead timer
                show_error(self.owner, exc)
        if not self._watched:
            self._timer.stop()


def add_brush_actions(widget: QtWidgets.QWidget, state: PaintState, **props) -> list[QtGui.QAction]:
    """Returns the "Smaller brush" `[` and "Larger brush" `]` actions (with Qt ``props``) added to ``widget`` (live
    while it has the focus, so the shortcut sheet lists them), each resizing ``state``'s brush by one step."""
    actions = [action(widget, text, lambda _=False, steps=steps: resize_brush(state, steps), key,
                      shortcutContext=QtCore.Qt.ShortcutContext.WidgetShortcut, **props)
               for text, key, steps in (("Smaller brush", "[", -1), ("Larger brush", "]", 1))]
    widget.addActions(actions)
    return actions


def trigger_shortcut(actions, event: QtGui.QKeyEvent) -> bool:
    """Returns True after triggering the action whose shortcut is ``event``'s key: a key sent straight to a
    widget (not through the shortcut map) reaches the same actions."""
    pressed = QtGui.QKeySequence(event.keyCombination())
    for act in actions:
        if act.isEnabled() and act.shortcut().matches(pressed) == QtGui.QKeySequence.SequenceMatch.ExactMatch:
            act.trigger()
            return True
    return False


def draw_brush_outline(p: QtGui.QPainter, center: QtCore.QPointF, radius: float, erase: bool, text: str) -> None:
    """Draws the brush circle at ``center`` (dark rim, white or blue when erasing) with ``text`` beside it."""
    p.setPen(QtGui.QPen(QtGui.QColor(0, 0, 0, 160), 3))
    p.drawEllipse(center, radius, radius)
    color = QtGui.QColor(120, 200, 255, 230) if erase else QtGui.QColor(255, 255, 255, 230)
    p.setPen(QtGui.QPen(color, 1.5))
    p.drawEllipse(center, radius, radius)
    p.drawText(center + QtCore.QPointF(radius + 4, -radius), text)


def button(text: str, tip: str, slot: Callable | None = None, *, kind: type = QtWidgets.QPushButton,
           checkable: bool = False, checked: bool = False, name: str = "", **props) -> QtWidgets.QAbstractButton:
    """Returns a ``kind`` button (push, tool or check box) showing ``text`` with the tooltip ``tip``; ``slot`` gets
    its clicks, or its toggles when it is checkable (check boxes always are)."""
    b = kind(text=text, toolTip=tip, objectName=name, **props)
    b.setCheckable(checkable or isinstance(b, QtWidgets.QCheckBox))
    b.setChecked(checked)
    if slot is not None:
        (b.toggled if b.isCheckable() else b.clicked).connect(slot)
    return b


def hbox(*items, margins: int | None = None, **props) -> QtWidgets.QHBoxLayout:
    """Returns a row of ``items``: widgets, layouts, (widget or layout, stretch) pairs, ints (spacing), None (a stretch)."""
    return _filled(QtWidgets.QHBoxLayout(**props), items, margins)


def vbox(*items, margins: int | None = None, **props) -> QtWidgets.QVBoxLayout:
    """Returns a column of ``items`` (as for `hbox`); ``props`` are the layout's Qt properties (``spacing``)."""
    return _filled(QtWidgets.QVBoxLayout(**props), items, margins)


def _filled(lay, items, margins: int | None):
    if margins is not None:
        lay.setContentsMargins(margins, margins, margins, margins)
    for item in items:
        item, stretch = item if isinstance(item, tuple) else (item, 0)
        if item is None:
            lay.addStretch(1)
        elif isinstance(item, int):
            lay.addSpacing(item)
        elif isinstance(item, QtWidgets.QLayout):
            lay.addLayout(item, stretch)
        else:
            lay.addWidget(item, stretch)
    return lay


def widget(layout: QtWidgets.QLayout, *args, **props) -> QtWidgets.QWidget:
    """Returns a widget (``args`` and Qt ``props`` as for QWidget) laid out by ``layout``."""
    w = QtWidgets.QWidget(*args, **props)
    w.setLayout(layout)
    return w


def form(*rows) -> QtWidgets.QFormLayout:
    """Returns a form of ``rows``: (label, widget or layout) pairs."""
    lay = QtWidgets.QFormLayout()
    for label, field in rows:
        lay.addRow(label, field)
    return lay


def combo(items, tip: str) -> QtWidgets.QComboBox:
    """Returns a combo box listing ``items`` with the tooltip ``tip``."""
    box = QtWidgets.QComboBox(toolTip=tip)
    box.addItems(list(items))
    return box


def slider(low: int, high: int, value: int = 0, tip: str = "", slot: Callable | None = None, **props) -> QtWidgets.QSlider:
    """Returns a horizontal slider over [low, high] at ``value`` with the tooltip ``tip`` and Qt ``props``; ``slot`` gets
    its values."""
    s = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal, minimum=low, maximum=high, value=value, toolTip=tip, **props)
    if slot is not None:
        s.valueChanged.connect(slot)
    return s


def set_quietly(widget, value, tolerance: float = 0.0) -> None:
    """Moves a slider or spin box to ``value`` (when it is further than ``tolerance`` from it) without emitting its
    change signal: the state it shows made the change, so nothing may write it back."""
    if abs(widget.value() - value) > tolerance:
        with QtCore.QSignalBlocker(widget):
            widget.setValue(value)


def fill_menu(menu: QtWidgets.QMenu, *items) -> QtWidgets.QMenu:
    """Returns ``menu`` with ``items`` added in order: actions, and None for a separator."""
    for item in items:
        if item is None:
            menu.addSeparator()
        else:
            menu.addAction(item)
    return menu


def action(parent: QtCore.QObject, text: str, slot: Callable, shortcut=None, tip: str = "", **props) -> QtGui.QAction:
    """Returns a QAction of ``parent`` showing ``text`` that calls ``slot``, with its shortcut, status tip and Qt ``props``."""
    act = QtGui.QAction(text, parent, **props)
    if shortcut is not None:
        act.setShortcut(QtGui.QKeySequence(shortcut))
    if tip:
        act.setStatusTip(tip)
    act.triggered.connect(slot)
    return act
