"""Recovery: autosaves the pose and the painted mask while they change, and offers them back after a crash."""

from __future__ import annotations

from typing import Callable

from PySide6 import QtCore, QtWidgets

from anr_studio.components.autosave import Autosave
from anr_studio.components.paint import PaintState
from anr_studio.components.pose_state import PoseState
from anr_studio.errors import AnrError
from anr_studio.gui.qt_util import ask_user

AUTOSAVE_MS = 3000


class Recovery(QtCore.QObject):
    """Keeps ``Autosave`` up to date (at most every AUTOSAVE_MS) and removes it on a clean close."""

    def __init__(self, parent: QtWidgets.QWidget, pose_state: PoseState, paint_state: PaintState) -> None:
        super().__init__(parent)
        self.window = parent
        self.pose_state, self.paint_state = pose_state, paint_state
        self.autosave = Autosave()
        self.dirty = False
        pose_state.changed.connect(self._touch)
        paint_state.changed.connect(self._touch)
        self._timer = QtCore.QTimer(self, interval=AUTOSAVE_MS, timeout=self.save_now)
        self._timer.start()

    def _touch(self, *_args) -> None:
        self.dirty = True

    def save_now(self) -> None:
        """Writes the autosave if anything changed since the last one (removes it when there is no work)."""
        if not self.dirty:
            return
        self.dirty = False
        ps = self.pose_state
        blank = ps.at_start() and not self.paint_state.mask.any()
        try:
            self.autosave.clear() if blank else self.autosave.save(ps, self.paint_state)
        except AnrError as exc:  # a full disk must not interrupt the work it protects
            self.window.statusBar().showMessage(f"autosave failed: {exc}", 10000)

    def offer(self, ask: Callable[[str], bool] | None = None) -> bool:
        """Returns True when autosaved work was found and restored after ``ask(question)``; declined or damaged ones are removed."""
        try:
            rec = self.autosave.load()
        except AnrError as exc:
            self.window.statusBar().showMessage(str(exc), 15000)
            return False
        if rec is None:
            return False
        what = "the pose and the painted try-on mask" if rec.mask.any() else "the pose"
        question = (f"The studio closed unexpectedly last time. Restore {what} as they were then?\n\n"
                    f"(autosaved in {self.autosave.path})")
        ask = ask or (lambda q: ask_user(self.window, "Restore unsaved work?", q) == "Yes")
        if not ask(question):
            self.autosave.clear()
            return False
        self.autosave.restore(rec, self.pose_state, self.paint_state)
        return True

    def finish(self) -> None:
        """Stops autosaving and removes the file: a clean close leaves nothing to recover."""
        self._timer.stop()
        self.autosave.clear()
