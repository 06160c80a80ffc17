"""TryOnPanel: the body's UV layout as a paintable canvas (brush size, soft edge, eraser, region
presets, clear), identity A/B pickers, a live preview of the swapped avatar, save as a new identity."""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from anr_studio.components.paint import PaintEvent, PaintState, clear, fill, handle_event, uv_layout_image
from anr_studio.components.protocols import StudioAvatar, StudioBody
from anr_studio.components.tryon import PREVIEW_IDENTITY, REGION_PRESETS, preview_swap, region_mask
from anr_studio.errors import AnrError
from anr_studio.gui.qt_util import guarded, to_qimage

MASK_TINT = np.array([255, 120, 40], np.float32)


class UVCanvas(QtWidgets.QWidget):
    """Draws the UV layout with the mask tinted over it; mouse drags become PaintEvents."""

    def __init__(self, state: PaintState, layout_img: np.ndarray, parent=None) -> None:
        super().__init__(parent)
        self.state = state
        self.layout_img = layout_img.astype(np.float32)
        self.setMinimumSize(200, 200)
        self.setObjectName("uvCanvas")
        self.setMouseTracking(False)
        self.setCursor(QtCore.Qt.CursorShape.CrossCursor)
        self._qimg: QtGui.QImage | None = None
        self._hover: QtCore.QPointF | None = None
        state.changed.connect(self._on_changed)
        self._compose()

    def _on_changed(self, _box) -> None:
        self._compose()
        self.update()

    def _compose(self) -> None:
        m = self.state.mask[..., None]
        img = self.layout_img * (1 - 0.7 * m) + MASK_TINT * 0.7 * m
        self._qimg = to_qimage(img.clip(0, 255).astype(np.uint8))

    def _square(self) -> QtCore.QRectF:
        side = min(self.width(), self.height())
        return QtCore.QRectF((self.width() - side) / 2, (self.height() - side) / 2, side, side)

    def to_mask_xy(self, pos: QtCore.QPointF) -> tuple[float, float]:
        """Returns mask pixel coordinates (x, y) of a widget position."""
        r = self._square()
        s = self.state.size / r.width()
        return (pos.x() - r.x()) * s, (pos.y() - r.y()) * s

    def paintEvent(self, _event) -> None:  # noqa: N802 - Qt name
        p = QtGui.QPainter(self)
        p.fillRect(self.rect(), QtGui.QColor(25, 25, 30))
        if self._qimg is not None:
            p.drawImage(self._square(), self._qimg)
        if self._hover is not None:
            r = self.state.brush.radius * self._square().width() / self.state.size
            p.setPen(QtGui.QPen(QtGui.QColor(255, 255, 255, 180), 1))
            p.drawEllipse(self._hover, r, r)
        p.end()

    def _send(self, kind: str, event: QtGui.QMouseEvent) -> None:
        x, y = self.to_mask_xy(event.position())
        handle_event(self.state, PaintEvent(kind, x, y))
        self._hover = event.position()

    def mousePressEvent(self, e: QtGui.QMouseEvent) -> None:  # noqa: N802
        if e.button() == QtCore.Qt.MouseButton.LeftButton:
            self._send("press", e)

    def mouseMoveEvent(self, e: QtGui.QMouseEvent) -> None:  # noqa: N802
        if e.buttons() & QtCore.Qt.MouseButton.LeftButton:
            self._send("move", e)

    def mouseReleaseEvent(self, e: QtGui.QMouseEvent) -> None:  # noqa: N802
        if e.button() == QtCore.Qt.MouseButton.LeftButton:
            self._send("release", e)
            self._hover = None
            self.update()


class TryOnPanel(QtWidgets.QWidget):
    """Edits the PaintState and previews the A/B texture swap in the neural view."""

    def __init__(self, body: StudioBody, state: PaintState, neural_view, parent=None) -> None:
        super().__init__(parent)
        self.body, self.state, self.neural = body, state, neural_view
        self.avatar = None
        self.canvas = UVCanvas(state, uv_layout_image(body.face_uvs.cpu().numpy(), state.size))
        self.size_slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.size_slider.setRange(1, 64)
        self.size_slider.setValue(int(state.brush.radius))
        self.size_slider.valueChanged.connect(lambda v: setattr(state.brush, "radius", float(v)))
        self.soft_slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.soft_slider.setRange(0, 100)
        self.soft_slider.setValue(int(state.brush.softness * 100))
        self.soft_slider.valueChanged.connect(lambda v: setattr(state.brush, "softness", v / 100.0))
        self.eraser = QtWidgets.QCheckBox("Eraser")
        self.eraser.toggled.connect(lambda on: setattr(state.brush, "erase", bool(on)))
        self.region = QtWidgets.QComboBox()
        self.region.addItems(list(REGION_PRESETS))
        fill_btn = QtWidgets.QPushButton("Fill region")
        fill_btn.clicked.connect(self.fill_region)
        clear_btn = QtWidgets.QPushButton("Clear")
        clear_btn.clicked.connect(lambda: clear(self.state))
        self.ident_a = QtWidgets.QComboBox()
        self.ident_b = QtWidgets.QComboBox()
        self.preview_box = QtWidgets.QCheckBox("Live preview")
        self.preview_box.setChecked(True)
        self.preview_box.toggled.connect(lambda _=None: self.update_preview())
        self.new_name = QtWidgets.QLineEdit()
        self.new_name.setPlaceholderText("new identity name")
        save_btn = QtWidgets.QPushButton("Save as new identity…")
        save_btn.clicked.connect(self.save_identity)
        self.note = QtWidgets.QLabel("Open an avatar to preview a swap; painting works without one.")
        self.note.setWordWrap(True)
        form = QtWidgets.QFormLayout()
        form.addRow("Brush size", self.size_slider)
        form.addRow("Soft edge", self.soft_slider)
        form.addRow("", self.eraser)
        rr = QtWidgets.QHBoxLayout()
        rr.addWidget(self.region, 1)
        rr.addWidget(fill_btn)
        rr.addWidget(clear_btn)
        form.addRow("Region", rr)
        form.addRow("Inside mask (A)", self.ident_a)
        form.addRow("Outside mask (B)", self.ident_b)
        form.addRow("", self.preview_box)
        sr = QtWidgets.QHBoxLayout()
        sr.addWidget(self.new_name, 1)
        sr.addWidget(save_btn)
        form.addRow("Save", sr)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.canvas, 1)
        lay.addLayout(form)
        lay.addWidget(self.note)
        self._debounce = QtCore.QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(60)  # one swap per burst of brush dabs
        self._debounce.timeout.connect(self.update_preview)
        state.changed.connect(lambda _b: self._debounce.start())
        self.ident_a.currentTextChanged.connect(lambda _=None: self.update_preview())
        self.ident_b.currentTextChanged.connect(lambda _=None: self.update_preview())

    def set_avatar(self, avatar: StudioAvatar | None) -> None:
        """Fills the identity pickers from ``avatar`` (None clears them)."""
        self.avatar = avatar
        names = [] if avatar is None else [n for n in avatar.identities if n != PREVIEW_IDENTITY]
        for box, pick in ((self.ident_a, 0), (self.ident_b, 1)):
            with QtCore.QSignalBlocker(box):
                box.clear()
                box.addItems(names)
                if names:
                    box.setCurrentIndex(min(pick, len(names) - 1))
        self.note.setText("Paint where identity A's texture should replace B's; the neural view shows the result."
                          if avatar is not None else "Open an avatar to preview a swap; painting works without one.")

    @guarded
    def fill_region(self, _checked: bool = False) -> None:
        fill(self.state, region_mask(self.body, self.region.currentText(), self.state.size))

    def update_preview(self) -> None:
        """Shows the swapped identity in the neural view (or the plain identity B when off)."""
        av = self.avatar
        if av is None or not self.ident_a.currentText():
            return
        if not self.preview_box.isChecked():
            self.neural.extra_note = ""
            self._show_identity(self.ident_b.currentText())
            return
        try:
            name = preview_swap(av, self.ident_a.currentText(), self.ident_b.currentText(), self.state.mask)
        except AnrError as exc:
            self.note.setText(str(exc))
            return
        self.neural.extra_note = f"try-on: {self.ident_a.currentText()} inside the mask, {self.ident_b.currentText()} outside"
        self._show_identity(name)

    def _show_identity(self, name: str) -> None:
        self.neural.identity = name
        self.neural.request()

    @guarded
    def save_identity(self, _checked: bool = False) -> None:
        """Adds the swap as a named identity and writes the avatar to a new file."""
        av = self.avatar
        if av is None:
            raise AnrError("try-on: no avatar is open, expected File ▸ Open avatar first")
        name = self.new_name.text().strip()
        if not name or name in av.identities:
            raise AnrError(f"try-on: identity name {name!r} is empty or taken, expected a new name")
        preview_swap(av, self.ident_a.currentText(), self.ident_b.currentText(), self.state.mask, name=name)
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Save avatar with the new identity", f"{name}.anr", "Avatars (*.anr)")
        if path:
            av.save(path)
            self.note.setText(f"saved identity {name!r} to {path}")
        self.set_avatar(av)
