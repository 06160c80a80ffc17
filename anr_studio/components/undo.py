"""Bounded undo/redo of snapshots, shared by the pose and paint states."""

from __future__ import annotations

from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class Undoable(Generic[T]):
    """Undo/redo of a state's ``_snapshot()`` and ``_restore(snap)``: at most ``limit`` steps back; edits sharing a
    ``merge_key`` (one gesture: a drag, a stroke) are one step."""

    def __init__(self, limit: int) -> None:
        self._undo: deque[T] = deque(maxlen=limit)
        self._redo: list[T] = []
        self._merge_key: object | None = None

    def record(self, merge_key: object | None = None) -> None:
        """Pushes an undo snapshot before an edit, unless the edit shares the last one's ``merge_key``."""
        if merge_key is None or merge_key != self._merge_key:
            self._undo.append(self._snapshot())
            self._redo.clear()
            self._merge_key = merge_key

    def end_gesture(self) -> None:
        """Ends a drag or stroke: the next edit is a new undo step."""
        self._merge_key = None

    def undo(self) -> bool:
        """Returns True when an edit was undone."""
        return self._travel(self._undo, self._redo)

    def redo(self) -> bool:
        """Returns True when an undone edit was redone."""
        return self._travel(self._redo, self._undo)

    def _travel(self, source, target) -> bool:
        self._merge_key = None
        if not source:
            return False
        target.append(self._snapshot())
        self._restore(source.pop())
        return True
