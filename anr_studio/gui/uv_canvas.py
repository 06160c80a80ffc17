"""UVCanvas: the body's UV layout with part names, the painted mask tinted over it, and a brush
outline that follows the cursor; mouse drags become PaintEvents, `[` and `]` size the brush."""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from anr_studio.components.paint import PaintEvent, PaintState, handle_event
from anr_studio.gui.qt_util import add_brush_actions, draw_brush_outline, to_qimage, trigger_shortcut

MASK_TINT = np.array([255, 120, 40], np.float32)
LABEL_COLOR = QtGui.QColor(235, 235, 245, 210)


class UVCanvas(QtWidgets.QWidget):
    """Paints ``state`` over ``layout_img`` (S,S,3) uint8 with ``labels`` (name, x, y in [0,1])."""

    def __init__(self, state: PaintState, layout_img: np.ndarray, labels=(), parent=None) -> None:
        # mouse tracking: the brush outline follows the cursor
        super().__init__(parent, minimumSize=QtCore.QSize(180, 180), objectName="uvCanvas", mouseTracking=True,
                         focusPolicy=QtCore.Qt.FocusPolicy.StrongFocus, cursor=QtCore.Qt.CursorShape.CrossCursor,
                         toolTip="Paint where identity A's texture goes (drag); [ and ] make the brush smaller and larger",
                         accessibleName="try-on canvas")
        self.state = state
        self.layout_img = layout_img.astype(np.float32)
        self.labels = list(labels)
        self.show_labels = True
        add_brush_actions(self, state)
        self._qimg: QtGui.QImage | None = None
        self.hover: QtCore.QPointF | None = None
        state.changed.connect(self._redraw)
        state.brush_resized.connect(self._redraw)
        self._compose()

    def _redraw(self, *_args) -> None:
        self._compose()
        self.update()

    def _compose(self) -> None:
        m = self.state.mask[..., None]
        img = self.layout_img * (1 - 0.7 * m) + MASK_TINT * 0.7 * m
        self._qimg = to_qimage(img.clip(0, 255).astype(np.uint8))

    def square(self) -> QtCore.QRectF:
        """Returns the widget rectangle the (square) UV image is drawn in."""
        side = min(self.width(), self.height())
        return QtCore.QRectF((self.width() - side) / 2, (self.height() - side) / 2, side, side)

    def to_mask_xy(self, pos: QtCore.QPointF) -> tuple[float, float]:
        """Returns mask pixel coordinates (x, y) of a widget position."""
        r = self.square()
        s = self.state.size / r.width()
        return (pos.x() - r.x()) * s, (pos.y() - r.y()) * s

    def brush_radius_px(self) -> float:
        """Returns the brush radius in widget pixels."""
        return self.state.brush.radius * self.square().width() / self.state.size

    def paintEvent(self, _event) -> None:  # noqa: N802 - Qt name
        p = QtGui.QPainter(self)
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), QtGui.QColor(25, 25, 30))
        r = self.square()
        if self._qimg is not None:
            p.drawImage(r, self._qimg)
        if self.show_labels and self.labels:
            f = p.font()
            f.setPointSizeF(max(6.5, min(10.0, r.width() / 55)))
            p.setFont(f)
            fm = QtGui.QFontMetricsF(f)
            drawn: list[QtCore.QRectF] = []
            for name, x, y in self.labels:
                c = QtCore.QPointF(r.x() + x * r.width(), r.y() + y * r.height())
                w = fm.horizontalAdvance(name)
                box = QtCore.QRectF(c.x() - w / 2 - 2, c.y() - fm.height() / 2, w + 4, fm.height())
                for _ in range(4):  # parts sharing an island: stack their names instead of overprinting
                    if not any(box.intersects(d) for d in drawn):
                        break
                    box.translate(0, fm.height() + 1)
                drawn.append(box)
                p.fillRect(box, QtGui.QColor(0, 0, 0, 110))
                p.setPen(LABEL_COLOR)
                p.drawText(box, QtCore.Qt.AlignmentFlag.AlignCenter, name)
        if self.hover is not None:
            draw_brush_outline(p, self.hover, self.brush_radius_px(), self.state.brush.erase,
                               f"{self.state.brush.radius:.0f} px")
        p.end()

    def _send(self, kind: str, event: QtGui.QMouseEvent) -> None:
        x, y = self.to_mask_xy(event.position())
        handle_event(self.state, PaintEvent(kind, x, y))
        self.hover = event.position()

    def mousePressEvent(self, e: QtGui.QMouseEvent) -> None:  # noqa: N802
        if e.button() == QtCore.Qt.MouseButton.LeftButton:
            self.setFocus()
            self._send("press", e)

    def mouseMoveEvent(self, e: QtGui.QMouseEvent) -> None:  # noqa: N802
        if e.buttons() & QtCore.Qt.MouseButton.LeftButton:
            self._send("move", e)
        else:
            self.hover = e.position()
            self.update()

    def mouseReleaseEvent(self, e: QtGui.QMouseEvent) -> None:  # noqa: N802
        if e.button() == QtCore.Qt.MouseButton.LeftButton:
            self._send("release", e)
            self.update()

    def leaveEvent(self, _e) -> None:  # noqa: N802
        self.hover = None
        self.update()

    def keyPressEvent(self, e: QtGui.QKeyEvent) -> None:  # noqa: N802
        if trigger_shortcut(self.actions(), e):
            e.accept()
        else:
            super().keyPressEvent(e)
