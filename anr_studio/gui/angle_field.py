"""Angle editing widgets: a slider dragged at a fine, width-independent scale and a typed degree field."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

TICKS_PER_DEGREE = 10  # sliders are integers; 0.1 degree steps feel continuous
DEGREES_PER_PIXEL = 0.5  # a plain drag
FINE_DEGREES_PER_PIXEL = 0.1  # a drag with Shift held
ANGLE_STEP = 0.5  # degrees per arrow key or wheel step in the typed field


class FineSlider(QtWidgets.QSlider):
    """A horizontal slider over ±180° in TICKS_PER_DEGREE ticks, dragged relatively: DEGREES_PER_PIXEL per pixel
    (FINE_DEGREES_PER_PIXEL with Shift) however narrow it is; a drag stays one undo step (``sliderPressed``/``sliderReleased``)."""

    def __init__(self, **props) -> None:
        super().__init__(QtCore.Qt.Orientation.Horizontal, minimum=-180 * TICKS_PER_DEGREE, maximum=180 * TICKS_PER_DEGREE,
                         minimumWidth=50, **props)
        self._drag: tuple[float, int] | None = None
        self._fine = False

    def mousePressEvent(self, ev) -> None:  # noqa: N802 (Qt's name)
        if ev.button() != QtCore.Qt.MouseButton.LeftButton:
            return super().mousePressEvent(ev)
        self._drag = (ev.position().x(), self.value())
        self._fine = bool(ev.modifiers() & QtCore.Qt.KeyboardModifier.ShiftModifier)
        self.setSliderDown(True)
        ev.accept()

    def mouseMoveEvent(self, ev) -> None:  # noqa: N802
        if self._drag is None:
            return super().mouseMoveEvent(ev)
        x = ev.position().x()
        fine = bool(ev.modifiers() & QtCore.Qt.KeyboardModifier.ShiftModifier)
        if fine != self._fine:  # Shift pressed or let go mid-drag: continue from here at the other scale
            self._drag, self._fine = (x, self.value()), fine
        x0, v0 = self._drag
        per_px = FINE_DEGREES_PER_PIXEL if fine else DEGREES_PER_PIXEL
        self.setValue(v0 + round((x - x0) * per_px * TICKS_PER_DEGREE))
        ev.accept()

    def mouseReleaseEvent(self, ev) -> None:  # noqa: N802
        if self._drag is None:
            return super().mouseReleaseEvent(ev)
        self.mouseMoveEvent(ev)
        self._drag = None
        self._fine = False
        self.setSliderDown(False)
        ev.accept()


def angle_field(tip: str, **props) -> QtWidgets.QDoubleSpinBox:
    """Returns a degree field (-180..180, 0.1 degree precision) that applies typed values on Enter or focus-out."""
    # Every row's fields share the column width, however long the value's text.
    width = QtWidgets.QSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Fixed)
    return QtWidgets.QDoubleSpinBox(minimum=-180.0, maximum=180.0, decimals=1, singleStep=ANGLE_STEP, suffix="°",
                                    keyboardTracking=False, buttonSymbols=QtWidgets.QAbstractSpinBox.ButtonSymbols.NoButtons,
                                    alignment=QtCore.Qt.AlignmentFlag.AlignRight, minimumWidth=56, sizePolicy=width,
                                    toolTip=tip, **props)
