"""A bounded undo/redo stack of snapshots, shared by the pose and paint states."""

from __future__ import annotations

from collections import deque
from typing import Callable, Generic, TypeVar

T = TypeVar("T")


class UndoStack(Generic[T]):
    """Returns snapshots on undo/redo; holds at most ``limit`` of them; edits sharing a ``merge_key`` (one
    gesture: a drag, a stroke) are one step."""

    def __init__(self, limit: int = 100) -> None:
        self._undo: deque[T] = deque(maxlen=limit)
        self._redo: list[T] = []
        self._merge_key: object | None = None

    def record(self, snapshot: Callable[[], T], merge_key: object | None = None) -> None:
        """Pushes ``snapshot()`` before an edit, unless the edit shares the last one's ``merge_key``."""
        if merge_key is None or merge_key != self._merge_key:
            self._undo.append(snapshot())
            self._redo.clear()
            self._merge_key = merge_key

    def end_gesture(self) -> None:
        """Ends the current merge group: the next edit starts a new undo step."""
        self._merge_key = None

    def undo(self, current: T) -> T | None:
        """Returns the snapshot to restore (``current`` goes onto the redo list), or None if empty."""
        return self._move(self._undo, self._redo, current)

    def redo(self, current: T) -> T | None:
        """Returns the snapshot to restore (``current`` goes onto the undo list), or None if empty."""
        return self._move(self._redo, self._undo, current)

    def _move(self, source, target, current: T) -> T | None:
        self._merge_key = None
        if not source:
            return None
        target.append(current)
        return source.pop()

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)


class Undoable(Generic[T]):
    """Undo/redo for a state with an `UndoStack` in ``self._undo``, ``_snapshot()`` and ``_restore(snap)``."""

    _undo: UndoStack[T]

    def record(self, merge_key: object | None = None) -> None:
        """Pushes an undo snapshot before an edit (edits of one gesture share a ``merge_key``)."""
        self._undo.record(self._snapshot, merge_key)

    def undo(self) -> bool:
        """Returns True when an edit was undone."""
        return self._travel(self._undo.undo)

    def redo(self) -> bool:
        """Returns True when an undone edit was redone."""
        return self._travel(self._undo.redo)

    def _travel(self, step: Callable[[T], T | None]) -> bool:
        snap = step(self._snapshot())
        if snap is None:
            return False
        self._restore(snap)
        return True

    @property
    def can_undo(self) -> bool:
        return self._undo.can_undo
