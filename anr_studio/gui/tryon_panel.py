"""TryOnPanel: the UV layout as a paintable canvas (parts, brush, soft edge, eraser, presets; pops out),
painting on the neural view, identity A/B pickers, a live swap preview and saving it as a new identity."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from anr_studio.components.avatars import (PREVIEW_IDENTITY, REGION_PRESETS, compare_images, name_problem, preview_swap,
                                           region_mask, save_avatar)
from anr_studio.components.paint import BRUSH_RADIUS_RANGE, PaintState, clear, fill, uv_layout_image, uv_part_labels
from anr_studio.components.protocols import StudioAvatar, StudioBody
from anr_studio.errors import AnrError
from anr_studio.gui.qt_util import ImageLabel, ask_user, button, combo, form, guarded, hbox, set_quietly, slider, vbox, widget
from anr_studio.gui.theme import NEURAL_BACKDROP
from anr_studio.gui.uv_canvas import UVCanvas
from anr_studio.gui.view_painter import ViewPainter

COMPARE_SIZE = 160  # pixels per image of the B | swap | A strip
NO_AVATAR = "Open an avatar to preview a swap; painting works without one."


class TryOnPanel(QtWidgets.QWidget):
    """Edits the PaintState and previews the A/B swap in ``neural_view`` (which lists the identities it saves);
    ``identity_added(name)`` fires when Save adds a swap to the avatar, ``avatar_saved(path)`` when it wrote the avatar."""

    identity_added = QtCore.Signal(str)
    avatar_saved = QtCore.Signal(str)

    def __init__(self, body: StudioBody, state: PaintState, neural_view, parent=None) -> None:
        super().__init__(parent)
        self.body, self.state, self.neural = body, state, neural_view
        self.avatar = None
        face_uvs = body.face_uvs.cpu().numpy()
        labels = uv_part_labels(face_uvs, body.face_parts.cpu().numpy(), list(body.part_names))
        self.canvas = UVCanvas(state, uv_layout_image(face_uvs, state.size), labels)
        self.canvas_window: QtWidgets.QWidget | None = None
        self.size_slider = slider(int(BRUSH_RADIUS_RANGE[0]), int(BRUSH_RADIUS_RANGE[1]), int(state.brush.radius),
                                  "Brush radius in mask pixels ([ and ] on the canvas)", state.set_brush_radius)
        self.size_label = QtWidgets.QLabel(f"{state.brush.radius:.0f} px", minimumWidth=40)
        self.soft_slider = slider(0, 100, int(state.brush.softness * 100), "Soft edge of the brush: 0 is a hard edge, 100 "
                                  "fades from the centre", lambda v: setattr(state.brush, "softness", v / 100.0))
        self.eraser = button("Eraser", "Paint to remove the mask instead of adding to it",
                             lambda on: setattr(state.brush, "erase", bool(on)), kind=QtWidgets.QCheckBox)
        self.region = combo(REGION_PRESETS, "Body region that Fill region paints into the mask")
        fill_btn = button("Fill region", "Add the chosen region to the mask (undo with Ctrl+Z)", self.fill_region)
        clear_btn = button("Clear", "Clear the whole mask (undo with Ctrl+Z)", lambda: clear(self.state))
        self.ident_a = combo([], "Identity A: its texture shows inside the painted mask")
        self.ident_b = combo([], "Identity B: its texture shows outside the painted mask")
        self.preview_box = button("Live preview", "Show the swap in the neural view while painting (off: identity B alone)",
                                  lambda _=None: self.update_preview(), kind=QtWidgets.QCheckBox, checked=True)
        self.new_name = QtWidgets.QLineEdit(placeholderText="new identity name",
                                            toolTip="Name of the identity that Save adds to the avatar")
        save_btn = button("Save as new identity…", "Add the swap as a new identity of the open avatar and write the avatar "
                          "to a new file", self.save_identity)
        self.note = QtWidgets.QLabel(NO_AVATAR, wordWrap=True)
        self.saved_note = QtWidgets.QLabel(wordWrap=True, styleSheet="color: #7fd67f;", visible=False,
                                           textInteractionFlags=QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.pop_btn = button("Large canvas", "Paint in a separate, resizable window (uncheck or close it to dock the "
                              "canvas back)", self.pop_out_canvas, kind=QtWidgets.QToolButton, checkable=True)
        self.labels_box = button("Part names", "Write the body part names on the UV layout", self._on_labels,
                                 kind=QtWidgets.QCheckBox, checked=True)
        self.view_painter = ViewPainter(body, state, neural_view, self)
        self.paint_on_view = button("Paint on view", "Drag on the neural view to paint the mask where the body under the "
                                    "brush is (same brush; [ and ] size it there too)", self.view_painter.set_enabled,
                                    kind=QtWidgets.QCheckBox)
        self.compare_btn = button("Compare B | swap | A", "Render identity B, the swap and identity A side by side from the "
                                  "current view", self.show_comparison)
        self.compare_images = [ImageLabel(minimum=72) for _ in range(3)]
        self.compare_titles = [QtWidgets.QLabel(alignment=QtCore.Qt.AlignmentFlag.AlignCenter) for _ in range(3)]
        self.compare_row = widget(hbox(*(vbox((img, 1), title, spacing=0)
                                         for img, title in zip(self.compare_images, self.compare_titles)), margins=0),
                                  visible=False)
        options = form(("Brush size", hbox((self.size_slider, 1), self.size_label)), ("Soft edge", self.soft_slider),
                       ("", self.eraser), ("Region", hbox((self.region, 1), fill_btn, clear_btn)),
                       ("Inside mask (A)", self.ident_a), ("Outside mask (B)", self.ident_b), ("", self.preview_box),
                       ("Save", hbox((self.new_name, 1), save_btn)))
        self.canvas_slot = vbox(self.canvas)
        self.setLayout(vbox(hbox(self.labels_box, self.paint_on_view, None, self.pop_btn), (self.canvas_slot, 1), options,
                            self.compare_btn, self.compare_row, self.note, self.saved_note, margins=4))
        state.brush_resized.connect(self._on_brush_resized)
        # one swap per burst of brush dabs
        self._debounce = QtCore.QTimer(self, singleShot=True, interval=60, timeout=self.update_preview)
        state.changed.connect(lambda _b: self._debounce.start())
        self.ident_a.currentTextChanged.connect(lambda _=None: self.update_preview())
        self.ident_b.currentTextChanged.connect(lambda _=None: self.update_preview())

    def set_avatar(self, avatar: StudioAvatar | None) -> None:
        """Fills the identity pickers from ``avatar`` (None clears them), keeping the picked names that remain."""
        changed = avatar is not self.avatar
        self.avatar = avatar
        names = [] if avatar is None else [n for n in avatar.identities if n != PREVIEW_IDENTITY]
        for box, pick in ((self.ident_a, 0), (self.ident_b, 1)):
            keep = box.currentText()
            with QtCore.QSignalBlocker(box):
                box.clear()
                box.addItems(names)
                if keep in names and not changed:
                    box.setCurrentText(keep)
                elif names:
                    box.setCurrentIndex(min(pick, len(names) - 1))
        if changed:
            self.saved_note.hide()
            self.compare_row.hide()
            self.note.setText("Paint where identity A's texture should replace B's; the neural view shows the result."
                              if avatar is not None else NO_AVATAR)

    def _on_brush_resized(self, radius: float) -> None:
        set_quietly(self.size_slider, int(radius))
        self.size_label.setText(f"{radius:.0f} px")

    def _on_labels(self, on: bool) -> None:
        self.canvas.show_labels = bool(on)
        self.canvas.update()

    def pop_out_canvas(self, on: bool) -> None:
        """Moves the canvas into its own large window (``on``) or back into the panel."""
        if on and self.canvas_window is None:
            self.canvas_window = win = widget(vbox(self.canvas, margins=0), self, QtCore.Qt.WindowType.Window,
                                              windowTitle="Try-on canvas")
            win.installEventFilter(self)  # closing the window docks the canvas back
            win.resize(760, 760)
            win.show()
        elif not on and self.canvas_window is not None:
            win, self.canvas_window = self.canvas_window, None
            self.canvas_slot.addWidget(self.canvas)
            self.canvas.show()
            win.close()
        with QtCore.QSignalBlocker(self.pop_btn):
            self.pop_btn.setChecked(on)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt name
        if obj is self.canvas_window and event.type() == QtCore.QEvent.Type.Close:
            self.pop_out_canvas(False)
        return False

    @guarded
    def show_comparison(self, _checked: bool = False) -> None:
        """Renders identity B, the swap and identity A side by side under the canvas."""
        av = self.avatar
        if av is None or not self.ident_a.currentText():
            raise AnrError("try-on: no avatar is open, expected File ▸ Open avatar first")
        pose = self.neural.pose_state
        camera = self.neural.view_state.view.camera((COMPARE_SIZE, COMPARE_SIZE))
        shots = compare_images(av, self.ident_a.currentText(), self.ident_b.currentText(), self.state.mask,
                               pose.pose, camera, betas=pose.betas, transl=pose.transl, size=COMPARE_SIZE,
                               background=NEURAL_BACKDROP)  # the neural view's grey, not white
        for label, caption, (title, rgb) in zip(self.compare_images, self.compare_titles, shots):
            label.set_array(rgb, "")
            label.setToolTip(title)
            caption.setText(title)
        self.compare_row.show()

    def confirm_discard(self) -> bool:
        """Returns True when there is no unsaved painting (or no window on screen to ask in) or the user agrees to discard it."""
        if not self.state.unsaved or not self.window().isVisible():
            return True
        return ask_user(self, "Unsaved try-on painting", "The painted try-on mask has not been saved as an identity. "
                        "Close and discard it?", "Discard Cancel", "Cancel") == "Discard"

    @guarded
    def fill_region(self, _checked: bool = False) -> None:
        fill(self.state, region_mask(self.body, self.region.currentText(), self.state.size))

    def update_preview(self) -> None:
        """Shows the swapped identity in the neural view (or the plain identity B when off), in B's shape."""
        av = self.avatar
        if av is None or not self.ident_a.currentText():
            return
        # The swap is identity B dressed in A's texture inside the mask: the neural view's picker names B and the
        # body takes B's shape (on another identity's shape B's texture no longer fits).
        self.neural.ident_box.setCurrentText(self.ident_b.currentText())
        if not self.preview_box.isChecked():
            self.neural.extra_note = ""
            self.neural.show_identity(self.ident_b.currentText())
            return
        try:
            name = preview_swap(av, self.ident_a.currentText(), self.ident_b.currentText(), self.state.mask)
        except AnrError as exc:
            self.note.setText(str(exc))
            return
        self.neural.extra_note = f"try-on: {self.ident_a.currentText()} inside the mask, {self.ident_b.currentText()} outside"
        self.neural.show_identity(name)

    @guarded
    def save_identity(self, _checked: bool = False) -> None:
        """Adds the swap as a named identity and writes the avatar to a new file."""
        av = self.avatar
        if av is None:
            raise AnrError("try-on: no avatar is open, expected File ▸ Open avatar first")
        name = self.new_name.text().strip()
        problem = name_problem(name, av.identities, "the avatar")
        if problem:
            raise AnrError(f"try-on: {problem}, expected a new name for the swap")
        preview_swap(av, self.ident_a.currentText(), self.ident_b.currentText(), self.state.mask, name=name)
        self.identity_added.emit(name)  # unsaved work until the avatar is written
        self.set_avatar(av)  # the pickers keep A and B and now list the new identity
        self.neural.add_identity(name)
        self.state.mark_saved()
        self.new_name.clear()
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Save avatar with the new identity", f"{name}.anr", "Avatars (*.anr)")
        if path:
            save_avatar(av, path)
            self.avatar_saved.emit(path)
            self.saved_note.setText(f"Saved identity “{name}” to {path}.")
        else:
            self.saved_note.setText(f"Added identity “{name}” to the open avatar (not written to a file).")
        self.saved_note.show()
