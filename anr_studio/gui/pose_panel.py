"""PosePanel: a fine slider and a degree field per joint axis (grouped, filterable), global rotation and
translation, shape sliders, resets and motion playback, bound both ways to PoseState; the angle widgets."""

from __future__ import annotations

import math
import time

from PySide6 import QtCore, QtWidgets

from anr_studio.components.pose_state import BUILTIN_MOTIONS, JOINT_GROUPS, SMPL_JOINT_NAMES, Playback, PoseState, joint_index
from anr_studio.components.protocols import StudioBody
from anr_studio.gui.qt_util import button, combo, guarded, hbox, open_file, set_quietly, slider, vbox, widget

TICKS_PER_DEGREE = 10  # sliders are integers; 0.1 degree steps feel continuous
DEGREES_PER_PIXEL = 0.5  # a plain drag
FINE_DEGREES_PER_PIXEL = 0.1  # a drag with Shift held
ANGLE_STEP = 0.5  # degrees per arrow key or wheel step in the typed field
SELECTED_ROW_CSS = "#{name} {{ background: rgba(77, 200, 255, 70); border-radius: 3px; }}"
BETA_TICKS = 100
TICK_S = 0.033  # playback timer interval; the playhead follows the wall clock


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


class PosePanel(QtWidgets.QWidget):
    """Edits ``state`` of ``body``; every slider change is one PoseState edit, a drag is one undo step."""

    def __init__(self, state: PoseState, body: StudioBody, parent=None) -> None:
        super().__init__(parent)
        self.state, self.body = state, body
        self.phenotype_sliders: dict[str, QtWidgets.QSlider] = {}
        self.sliders: dict[tuple[int, int], QtWidgets.QSlider] = {}
        self.angle_fields: dict[tuple[int, int], QtWidgets.QDoubleSpinBox] = {}
        self.rows: dict[int, QtWidgets.QWidget] = {}
        self.beta_sliders: list[QtWidgets.QSlider] = []
        self.playback = Playback()
        self.filter = QtWidgets.QLineEdit(placeholderText="Filter joints (e.g. elbow, left)…", clearButtonEnabled=True,
                                          toolTip="Show only the joints whose names contain every word typed here",
                                          textChanged=self._apply_filter)
        reset_all = button("Reset all", "Reset every joint, the translation and the shape to the rest pose (Ctrl+R; undo "
                           "with Ctrl+Z)", state.reset_all)
        self.selected_label = QtWidgets.QLabel(toolTip="Click a joint in the 3D view, or a joint's name below, to select it")
        self.form = vbox(spacing=2)
        self.scroll = QtWidgets.QScrollArea(widgetResizable=True, widget=widget(self.form))
        self.groups: dict[str, QtWidgets.QGroupBox] = {}
        self._build_global()
        for group, names in JOINT_GROUPS.items():
            # the pelvis rotation is the global rotation above
            rows = [self._joint_row(j, n.replace("_", " ")) for n in names if (j := joint_index(n)) != 0]
            self._add_group(group, group.capitalize(), vbox(*rows, spacing=1))
        self._build_shape()
        self.form.addStretch(1)
        self.setLayout(vbox(hbox((self.filter, 1), reset_all), self.selected_label, (self.scroll, 1), self._build_motion(),
                            margins=4))
        state.changed.connect(self.refresh)
        state.selection_changed.connect(self._on_selection)
        self.refresh()
        self._on_selection(state.selected_joint)

    # --- construction --------------------------------------------------------------------
    def _joint_row(self, j: int, title: str) -> QtWidgets.QWidget:
        name = SMPL_JOINT_NAMES[j]
        row = QtWidgets.QWidget(objectName=f"row_{name}")
        row.setAttribute(QtCore.Qt.WidgetAttribute.WA_StyledBackground, True)
        lay = QtWidgets.QGridLayout(row, horizontalSpacing=4, verticalSpacing=0, contentsMargins=QtCore.QMargins(2, 1, 2, 1))
        pick = button(title, f"Select {title} (also by clicking it in the 3D view)",
                      lambda _=False, j=j: self.state.select_joint(j), kind=QtWidgets.QToolButton, autoRaise=True,
                      minimumWidth=84)
        lay.addWidget(pick, 0, 0, 2, 1)
        for axis, axis_name in enumerate("xyz"):
            tip = f"{title}: rotation about {axis_name} in degrees"
            self.angle_fields[(j, axis)] = sp = angle_field(
                tip + " (type a value, arrows step 0.5°)", objectName=f"angle_{name}_{axis_name}",
                valueChanged=lambda v, j=j, a=axis: self._on_angle(j, a, v))
            lay.addWidget(sp, 0, axis + 1)
            self.sliders[(j, axis)] = s = FineSlider(
                objectName=f"joint_{name}_{axis_name}", toolTip=tip + " (drag: 0.5° per pixel, with Shift 0.1°)",
                sliderReleased=self.state.end_gesture, valueChanged=lambda v, j=j, a=axis: self._on_joint(j, a, v),
                sliderPressed=lambda j=j: self.state.select_joint(j))
            lay.addWidget(s, 1, axis + 1)
            lay.setColumnStretch(axis + 1, 1)
        lay.addWidget(button("⟲", f"Reset {title}", lambda _=False, j=j: self.state.reset_joint(j), kind=QtWidgets.QToolButton),
                      0, 4, 2, 1)
        row.setProperty("joint_name", name)
        self.rows[j] = row
        return row

    def _add_group(self, key: str, title: str, layout: QtWidgets.QLayout) -> None:
        self.groups[key] = box = QtWidgets.QGroupBox(title)
        box.setLayout(layout)
        self.form.addWidget(box)

    def _build_global(self) -> None:
        self.transl_spins = [QtWidgets.QDoubleSpinBox(minimum=-5.0, maximum=5.0, singleStep=0.02, decimals=3,
                                                      toolTip=f"Move the whole body along {'xyz'[axis]} in metres (y is up)",
                                                      valueChanged=lambda v, a=axis: self._on_transl(a, v))
                             for axis in range(3)]
        self._add_group("global", "Global rotation and translation",
                        vbox(self._joint_row(0, "rotation"), hbox(QtWidgets.QLabel("translation (m)"), *self.transl_spins)))

    def _build_shape(self) -> None:
        lay = QtWidgets.QFormLayout()
        shape = {"minimumWidth": 60, "sliderReleased": self.state.end_gesture}  # a drag is one undo step
        pheno = self.body.phenotype
        if pheno:
            # The built-in body maps six named traits to betas: friendlier than raw coefficients.
            for name in pheno["names"]:
                lo, hi = pheno["ranges"][name]
                self.phenotype_sliders[name] = s = slider(
                    round(lo * 100), round(hi * 100), round(pheno["defaults"][name] * 100), f"Body shape: {name} (from "
                    f"{lo:g} to {hi:g})", self._on_phenotype, objectName=f"phenotype_{name}", **shape)
                lay.addRow(name, s)
        for k in range(self.state.num_betas):
            s = slider(-3 * BETA_TICKS, 3 * BETA_TICKS, 0, f"Shape coefficient β{k} of the body model (-3 to 3 standard "
                       "deviations)", lambda v, k=k: self.state.set_beta(k, v / BETA_TICKS, merge_key=("beta", k)),
                       objectName=f"beta_{k}", **shape)
            self.beta_sliders.append(s)
            lay.addRow(f"β{k}", s)
        self._add_group("shape", "Shape", lay)

    def _build_motion(self) -> QtWidgets.QWidget:
        box = QtWidgets.QGroupBox("Motion")
        lay = QtWidgets.QGridLayout(box)
        self.motion_box = combo(BUILTIN_MOTIONS, "Built-in motion to load (walk, turn, arms, dance)")
        load = button("Load", "Load the chosen built-in motion", lambda: self.load_motion(self.motion_box.currentText()))
        browse = button("File…", "Load a motion from an SMPL .npz or a .bvh file",
                        lambda: open_file(self, "Load motion", "Motions (*.npz *.bvh)", self.load_motion))
        self.play_btn = button("Play", "Play the motion on the clock, looping (frames are skipped when rendering lags)",
                               self._on_play, checkable=True, enabled=False)  # until a motion is loaded
        self.speed = QtWidgets.QDoubleSpinBox(minimum=0.1, maximum=4.0, value=1.0, suffix="×", singleStep=0.25,
                                              toolTip="Playback speed (1× is the motion's own frame rate, in real time)")
        self.timeline = slider(0, 0, 0, "Scrub through the motion", self._show_frame, minimumWidth=60, enabled=False)
        self.frame_label = QtWidgets.QLabel("frame – / –", objectName="frameLabel",
                                            toolTip="Current frame / frames in the motion")
        use = button("Use this pose", "Copy the motion's current frame into the editable pose (undoable)", self._use_frame)
        for row, widgets in enumerate(((self.motion_box, load, browse), (self.play_btn, self.speed, use))):
            for col, w in enumerate(widgets):
                lay.addWidget(w, row, col)
        lay.addWidget(self.timeline, 2, 0, 1, 2)
        lay.addWidget(self.frame_label, 2, 2)
        self._timer = QtCore.QTimer(self, timeout=self._tick)
        return box

    def _on_phenotype(self, _value: int = 0) -> None:
        values = {n: s.value() / 100.0 for n, s in self.phenotype_sliders.items()}
        betas = self.body.phenotype_to_betas(values).detach().cpu().numpy()
        self.state.set_betas(betas[: self.state.num_betas], merge_key=("phenotype",))

    # --- widget -> state -----------------------------------------------------------------
    def _on_joint(self, j: int, axis: int, ticks: int) -> None:
        self.state.set_joint_axis(j, axis, math.radians(ticks / TICKS_PER_DEGREE), merge_key=("joint", j, axis))

    def _on_angle(self, j: int, axis: int, degrees: float) -> None:
        self.state.select_joint(j)
        self.state.set_joint_axis(j, axis, math.radians(degrees))  # a typed value is one undo step
        self.state.end_gesture()

    def _on_transl(self, axis: int, value: float) -> None:
        t = self.state.transl
        t[axis] = value
        self.state.set_transl(t, merge_key=("transl", axis))

    # --- state -> widgets (blocked: no ping-pong) ---------------------------------------
    def refresh(self, _what: str = "all") -> None:
        """Moves every widget to the state's values without emitting their change signals."""
        pose, betas, transl = self.state.pose, self.state.betas, self.state.transl
        for (j, a), s in self.sliders.items():
            ticks = int(round(math.degrees(float(pose[j, a])) * TICKS_PER_DEGREE))
            set_quietly(s, max(s.minimum(), min(s.maximum(), ticks)))
        for (j, a), sp in self.angle_fields.items():
            set_quietly(sp, max(-180.0, min(180.0, math.degrees(float(pose[j, a])))), 0.05)
        for k, s in enumerate(self.beta_sliders):
            set_quietly(s, int(round(float(betas[k]) * BETA_TICKS)))
        for a, sp in enumerate(self.transl_spins):
            set_quietly(sp, float(transl[a]), 1e-6)

    def _on_selection(self, joint) -> None:
        """Highlights the selected joint's row, scrolls to it and names it above the list."""
        for j, row in self.rows.items():
            row.setStyleSheet(SELECTED_ROW_CSS.format(name=row.objectName()) if j == joint else "")
        if joint is None:
            self.selected_label.setText("Selected joint: none (click one in the 3D view)")
            return
        self.selected_label.setText(f"Selected joint: <b>{SMPL_JOINT_NAMES[joint].replace('_', ' ')}</b>")
        row = self.rows.get(joint)
        if row is not None:
            if not row.isVisibleTo(self) and self.filter.text():
                self.filter.clear()
            QtCore.QTimer.singleShot(0, lambda: self.scroll.ensureWidgetVisible(row, 10, 40))

    def _apply_filter(self, text: str) -> None:
        words = text.lower().split()
        for j, row in self.rows.items():
            name = SMPL_JOINT_NAMES[j].replace("_", " ")
            row.setVisible(all(w in name for w in words))
        for key, box in self.groups.items():
            if key in ("shape",):
                box.setVisible(not words)
            elif key != "global":
                rows = [self.rows[joint_index(n)] for n in JOINT_GROUPS[key] if n != "pelvis"]
                box.setVisible(not words or any(row.isVisible() for row in rows))

    # --- motion --------------------------------------------------------------------------
    @guarded
    def load_motion(self, name_or_path: str) -> None:
        """Loads a motion clip (built-in name or file) and enables playback."""
        n = self.playback.load(name_or_path)
        self.timeline.setEnabled(True)
        self.play_btn.setEnabled(True)
        with QtCore.QSignalBlocker(self.timeline):
            self.timeline.setRange(0, max(n - 1, 0))
            self.timeline.setValue(0)
        self._show_frame(0)

    def _show_frame(self, i: int) -> None:
        if self.playback.clip is None:
            return
        self.frame_label.setText(f"frame {i + 1} / {len(self.playback.clip)}")
        # Playback previews frames without filling the undo history with every frame.
        self.state.set_pose(self.playback.pose(i), record=False)

    def _use_frame(self) -> None:
        if self.playback.clip is not None:
            self.state.set_pose(self.playback.pose(self.timeline.value()), record=True)

    def _on_play(self, on: bool) -> None:
        self.play_btn.setText("Pause" if on else "Play")
        if on and self.playback.clip is not None:
            self.playback.phase = float(self.timeline.value())
            self._last_tick = time.perf_counter()
            self._timer.start(round(TICK_S * 1000))
        else:
            self._timer.stop()

    def _tick(self) -> None:
        # On the clock: the playhead moves by the wall time since the last tick, so a late tick
        # skips frames instead of slowing the motion down.
        now = time.perf_counter()
        elapsed, self._last_tick = now - self._last_tick, now
        self.timeline.setValue(self.playback.advance(elapsed, self.speed.value()))
