"""ViewPainter: painting the try-on mask on the neural view's image with the canvas's brush (`[`/`]` size
it), the mask tinted over the image; picking and brush are Qt-free (``components.view_paint``)."""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from anr_studio.components.paint import PaintEvent, PaintState
from anr_studio.components.protocols import StudioBody
from anr_studio.components.view_paint import ViewBrush, ViewPaintMap
from anr_studio.gui.qt_util import add_brush_actions, draw_brush_outline, to_qimage, trigger_shortcut

# The painted mask over the view: the canvas's orange, half covering the render.
PAINT_TINT = (255, 120, 40)
PAINT_ALPHA = 0.4
STROKE_EVENTS = {QtCore.QEvent.Type.MouseButtonPress: "press", QtCore.QEvent.Type.MouseMove: "move",
                 QtCore.QEvent.Type.MouseButtonRelease: "release"}


class _BrushOutline(QtWidgets.QWidget):
    """A see-through layer over the image that draws the brush circle at the cursor."""

    def __init__(self, parent: QtWidgets.QWidget) -> None:
        super().__init__(parent)
        self.setAttribute(QtCore.Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.center: QtCore.QPointF | None = None
        self.radius = 0.0
        self.text = ""
        self.erase = False
        self.paint_image: QtGui.QImage | None = None
        self.paint_rect: QtCore.QRectF | None = None

    def paintEvent(self, _event) -> None:  # noqa: N802 - Qt name
        p = QtGui.QPainter(self)
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        if self.paint_image is not None and self.paint_rect is not None:
            p.drawImage(self.paint_rect, self.paint_image)
        if self.center is not None:
            draw_brush_outline(p, self.center, self.radius, self.erase, self.text)
        p.end()


class ViewPainter(QtCore.QObject):
    """Paints ``state`` through the image of ``neural_view`` of ``body``."""

    def __init__(self, body: StudioBody, state: PaintState, neural_view, parent=None) -> None:
        super().__init__(parent)
        self.body, self.state, self.neural = body, state, neural_view
        self.brush = ViewBrush(body, state, neural_view.pose_state, neural_view.view_state)
        self.label = neural_view.label
        self.outline = _BrushOutline(self.label)
        self.outline.hide()
        self.enabled = False
        self._painting = False
        self.label.installEventFilter(self)
        self.label.setAccessibleName(self.label.accessibleName() or "neural view")
        self.brush_actions = add_brush_actions(self.label, state, enabled=False)  # until painting on the view is on
        state.changed.connect(lambda _box: self.show_paint())
        state.brush_resized.connect(lambda _radius: self.enabled and self._show_outline(self.outline.center))
        neural_view.rendered.connect(lambda _res: self.show_paint())

    def set_enabled(self, on: bool) -> None:
        """Turns painting on the view on or off."""
        self.enabled = bool(on)
        for act in self.brush_actions:
            act.setEnabled(self.enabled)
        self.label.setMouseTracking(self.enabled)
        self.label.setFocusPolicy(QtCore.Qt.FocusPolicy.StrongFocus if on else QtCore.Qt.FocusPolicy.NoFocus)
        if on:
            self.label.setCursor(QtCore.Qt.CursorShape.CrossCursor)
            self.outline.setGeometry(self.label.rect())
            self.outline.show()
            self.outline.raise_()
            self.show_paint()
        else:
            self.label.unsetCursor()
            self.outline.center = None
            self.outline.hide()

    # --- geometry ------------------------------------------------------------------------
    def image_rect(self) -> QtCore.QRectF | None:
        """Returns where the rendered image is drawn in the label (aspect kept, centred), or None without an image."""
        img = self.label.image()
        if img is None:
            return None
        area = QtCore.QRectF(self.label.contentsRect())
        rect = QtCore.QRectF(QtCore.QPointF(), QtCore.QSizeF(img.size()).scaled(area.size(), QtCore.Qt.AspectRatioMode.KeepAspectRatio))
        rect.moveCenter(area.center())
        return rect

    def to_image_xy(self, pos: QtCore.QPointF) -> tuple[float, float] | None:
        """Returns the image pixel (x, y) under label position ``pos``, or None without an image."""
        r, img = self.image_rect(), self.label.image()
        if r is None:
            return None
        return (pos.x() - r.x()) * img.width() / r.width(), (pos.y() - r.y()) * img.height() / r.height()

    def to_label_pos(self, x: float, y: float) -> QtCore.QPointF:
        """Returns the label position of image pixel (x, y)."""
        r, img = self.image_rect(), self.label.image()
        return QtCore.QPointF(r.x() + x * r.width() / img.width(), r.y() + y * r.height() / img.height())

    def image_size(self) -> tuple[int, int] | None:
        """Returns (H, W) of the shown image, or None without one."""
        img = self.label.image()
        return None if img is None else (img.height(), img.width())

    def view_map(self) -> ViewPaintMap | None:
        """Returns the texels the current pose and camera put under each pixel of the shown image (None without one)."""
        size = self.image_size()
        return None if size is None else self.brush.view_map(size)

    # --- events --------------------------------------------------------------------------
    def eventFilter(self, obj, ev) -> bool:  # noqa: N802 - Qt name
        if not self.enabled or obj is not self.label:
            return False
        t = ev.type()
        E = QtCore.QEvent.Type
        if t == E.Resize:
            self.outline.setGeometry(self.label.rect())
            self.show_paint()
            return False
        if t == E.Leave:
            self.outline.center = None
            self.outline.update()
            return False
        if t in STROKE_EVENTS:
            return self._mouse(ev)
        if t == E.KeyPress:
            return trigger_shortcut(self.brush_actions, ev)
        return False

    def _mouse(self, ev: QtGui.QMouseEvent) -> bool:
        t, E = ev.type(), QtCore.QEvent.Type
        xy = self.to_image_xy(ev.position())
        if xy is None or (t != E.MouseMove and ev.button() != QtCore.Qt.MouseButton.LeftButton):
            return False
        if t == E.MouseButtonPress:
            self.label.setFocus()
            self._painting = True
        if self._painting:  # a press..release of the left button is one stroke
            self.brush.handle(PaintEvent(STROKE_EVENTS[t], *xy), self.image_size())
            self._painting = t != E.MouseButtonRelease
        self._show_outline(ev.position())
        return True

    def show_paint(self) -> None:
        """Tints the image where the mask is painted, as the shown pose and camera put it (while painting on the view)."""
        o = self.outline
        vmap = self.view_map() if self.enabled else None
        if vmap is None:
            o.paint_image = None
        else:
            m = vmap.mask_image(self.state.mask)
            rgba = np.zeros(m.shape + (4,), np.uint8)
            rgba[..., :3] = PAINT_TINT
            rgba[..., 3] = (m * PAINT_ALPHA * 255.0 + 0.5).astype(np.uint8)
            o.paint_image = to_qimage(rgba)
            o.paint_rect = self.image_rect()
        o.update()

    def _show_outline(self, pos: QtCore.QPointF | None) -> None:
        vmap, r = self.view_map(), self.image_rect()
        o = self.outline
        o.center = pos
        if vmap is not None and r is not None:
            o.radius = vmap.brush_radius_px(self.state.brush.radius) * r.width() / vmap.image_size[1]
        o.text = f"{self.state.brush.radius:.0f} px"
        o.erase = self.state.brush.erase
        o.update()
