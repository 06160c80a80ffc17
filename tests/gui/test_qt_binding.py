"""The Qt binding keeps Python's reference count of ``None`` intact.

A binding that drops one reference to ``None`` for every Qt call returning nothing (PySide6 6.12.0)
aborts the studio on CPython 3.11 with "Fatal Python error: none_dealloc" once the count reaches
zero: playback makes ~1,400 such calls a second. Where ``None`` is immortal (CPython >= 3.12) the
count never moves and the test passes trivially.
"""

from __future__ import annotations

import sys

CALLS = 1000


def _none_refs_lost(call) -> int:
    """Returns how many references to None ``CALLS`` calls of ``call()`` dropped (negative: gained)."""
    for _ in range(10):  # first calls may cache a reference once
        call()
    before = sys.getrefcount(None)
    for _ in range(CALLS):
        call()
    return before - sys.getrefcount(None)


def test_void_qt_calls_keep_none_references(qapp):
    import PySide6
    from PySide6 import QtCore, QtWidgets

    label = QtWidgets.QLabel()
    widget = QtWidgets.QWidget()
    timer = QtCore.QTimer()
    calls = {
        "QLabel.setText": lambda: label.setText("x"),
        "QWidget.resize": lambda: widget.resize(20, 10),
        "QObject.setObjectName": lambda: label.setObjectName("n"),
        "QTimer.setInterval": lambda: timer.setInterval(5),
    }
    lost = {name: _none_refs_lost(call) for name, call in calls.items()}
    # A few references either way come from caches; a leaking binding loses one per call.
    leaking = {name: n for name, n in lost.items() if abs(n) > CALLS // 10}
    assert not leaking, (
        f"the Qt binding (PySide6 {PySide6.__version__}) changes the reference count of None by one per call "
        f"{leaking}; pin PySide6-Essentials to a release without this defect (see pyproject.toml)"
    )
