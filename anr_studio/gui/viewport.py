"""MeshViewport: a vispy 3D view of the posed coarse body with skeleton overlay and orbit camera.

It reads PoseState and ViewState and redraws; drags write ViewState (orbit; middle or Shift: pan; wheel:
zoom; double-click: reset), a click selects the nearest joint, the selected joint's rings turn it, and
while the try-on panel paints on the view a drag starting on the body paints (``ViewBrush``). vispy's own
camera interaction is off: ViewState is the one truth shared with the neural preview.
"""

from __future__ import annotations

import time

import numpy as np
from PySide6 import QtCore, QtWidgets
from vispy import app as vispy_app
from vispy import scene

from anr_studio.components.face_colors import checker_face_colors, mask_face_weights, tint_face_colors
from anr_studio.components.pose_state import SMPL_JOINT_NAMES, PoseState, nearest_joint
from anr_studio.components.protocols import StudioBody
from anr_studio.components.paint import PaintEvent
from anr_studio.components.scene import VIEW_PRESETS, OrbitView, ViewState, pose_body
from anr_studio.components.view_paint import ViewBrush
from anr_studio.errors import AnrError
from anr_studio.gui.qt_util import action, button, hbox, vbox, widget
from anr_studio.gui.rotate_handle import RotateHandle, on_top
from anr_studio.gui.theme import VIEWPORT_BG

vispy_app.use_app("pyside6")

SKIN = (0.78, 0.66, 0.58, 1.0)
# vispy's turntable azimuth 0 looks from -x; orbit_camera's azimuth 0 looks from +z.
VISPY_AZIMUTH_OFFSET = 90.0
# How the mesh is coloured: plain skin, a UV checkerboard, or the current identity's neural texture.
COLOR_MODES = ("skin", "checker", "neural")
SELECTED = (0.3, 0.9, 1.0, 1.0)
# A press and release closer than this (pixels) is a click (picks a joint), not a drag.
CLICK_SLOP_PX = 3.0
AXIS_BOX_PX = 84
# Keys of the view presets, as in Blender's numpad: 1 front, 3 side, 7 top.
PRESET_KEYS = {"front": "1", "side": "3", "top": "7"}


class PosedMesh(scene.visuals.Mesh):
    """vispy's mesh, its shader program kept through ``set_data``: vispy builds a new colour function on every
    call, so each pose relinked the program, and Mesa keeps memory from every link (about 4 KiB a pose drawn)."""

    _pass_through = None

    def _build_color_transform(self, colors):
        if colors.ndim == 2 and colors.shape[1] == 1:  # values through a colormap: vispy's own, clim built in
            return super()._build_color_transform(colors)
        if self._pass_through is None:
            self._pass_through = super()._build_color_transform(colors)
        return self._pass_through


class MeshViewport(QtWidgets.QWidget):
    """Shows ``body`` posed by ``pose_state`` from ``view_state``."""

    def __init__(self, body: StudioBody, pose_state: PoseState, view_state: ViewState, parent=None) -> None:
        super().__init__(parent, accessibleName="3D view")
        self.body, self.pose_state, self.view_state = body, pose_state, view_state
        self.canvas = scene.SceneCanvas(keys=None, bgcolor=VIEWPORT_BG, show=False)
        self.canvas.native.setObjectName("meshCanvas")
        self.view = self.canvas.central_widget.add_view()
        self.view.camera = self.camera = scene.TurntableCamera(up="+y", fov=30.0, interactive=False)
        self.faces = body.faces.cpu().numpy().astype(np.uint32)
        self.parents = body.parents.cpu().numpy()
        self._checker = checker_face_colors(body.face_uvs.cpu().numpy())
        self.color_mode = "skin"
        self._neural: np.ndarray | None = None
        self._verts, self._joints_world = self._posed()
        self.mesh = PosedMesh(vertices=self._verts, faces=self.faces, color=SKIN, shading="smooth", parent=self.view.scene)
        self._segments = np.array([(j, p) for j, p in enumerate(self.parents) if p >= 0], np.int64)
        # The skeleton stays visible through the skin.
        self.bones = on_top(scene.visuals.Line(color=(1.0, 0.85, 0.2, 1.0), width=2.0, parent=self.view.scene), 10)
        self.joints = on_top(scene.visuals.Markers(parent=self.view.scene), 10)
        self.selected_marker = on_top(scene.visuals.Markers(parent=self.view.scene), 11, visible=False)
        self.handle = RotateHandle(self)
        self.paint_brush: ViewBrush | None = None
        self._painting = False
        self._paint_weights: np.ndarray | None = None
        circle = scene.visuals.Ellipse(center=(0, 0), radius=(1, 1), color=(0, 0, 0, 0), border_color=(1, 1, 1, 0.9),
                                       border_width=1.5, parent=self.canvas.scene)
        self.brush_circle = on_top(circle, 30, visible=False, blend=True)
        self._build_axis_indicator()
        self.setLayout(vbox(self._build_view_bar(), (self.canvas.native, 1), margins=0, spacing=0))
        self.show_skeleton(True)
        self._press_pos = self._press_origin = None  # where a drag last was and where it began
        self._panning = False
        self._frame_times: list[float] = []
        self.canvas.events.mouse_press.connect(self._on_press)
        self.canvas.events.mouse_move.connect(self._on_move)
        self.canvas.events.mouse_release.connect(self._on_release)
        self.canvas.events.mouse_wheel.connect(lambda ev: self.view_state.zoom(0.9 ** float(ev.delta[1])))
        self.canvas.events.mouse_double_click.connect(lambda ev: self.view_state.reset())
        self.canvas.events.draw.connect(self._on_draw)
        self.canvas.events.resize.connect(self._on_resize)
        pose_state.changed.connect(self._on_pose)
        pose_state.selection_changed.connect(self._on_selection)
        view_state.changed.connect(self._apply_view)
        self._show_pose()
        self._apply_view(view_state.view)

    # --- view presets and axis indicator -------------------------------------------------
    def _build_view_bar(self) -> QtWidgets.QWidget:
        self.preset_buttons: dict[str, QtWidgets.QToolButton] = {}
        for name in VIEW_PRESETS:
            self.preset_buttons[name] = button(
                name.capitalize(), f"Look at the body from the {name} ({PRESET_KEYS[name]} with the 3D view focused)",
                lambda _=False, n=name: self.view_state.preset(n), kind=QtWidgets.QToolButton)
            self.addAction(action(self, f"{name.capitalize()} view", lambda _=False, n=name: self.view_state.preset(n),
                                  PRESET_KEYS[name], shortcutContext=QtCore.Qt.ShortcutContext.WidgetWithChildrenShortcut))
        self.selection_label = QtWidgets.QLabel("Click a joint to select it", toolTip=(
            "Click near a joint to select it, then drag one of its rings (x red, y green, z blue) to turn it; "
            "drag elsewhere to orbit, middle or Shift drag to pan, wheel to zoom"))
        return widget(hbox(*self.preset_buttons.values(), None, self.selection_label, spacing=2,
                           contentsMargins=QtCore.QMargins(4, 2, 4, 2)))

    def _build_axis_indicator(self) -> None:
        """A small corner view whose camera turns with the main one, showing the world x (red), y (green), z (blue)."""
        camera = scene.TurntableCamera(up="+y", fov=0.0, distance=3.0, center=(0.0, 0.0, 0.0), interactive=False)
        box = scene.widgets.ViewBox(camera, parent=self.canvas.scene, size=(AXIS_BOX_PX, AXIS_BOX_PX))
        box.interactive = False
        box.camera.set_range(x=(-1.3, 1.3), y=(-1.3, 1.3), z=(-1.3, 1.3))
        scene.visuals.XYZAxis(parent=box.scene, width=2)
        for text, pos, color in (("X", (1.2, 0, 0), "red"), ("Y", (0, 1.2, 0), "lime"), ("Z", (0, 0, 1.2), "dodgerblue")):
            scene.visuals.Text(text, pos=pos, color=color, font_size=9, bold=True, parent=box.scene)
        box.order = 20
        self.axis_box = box
        self._place_axis_indicator()

    def _on_resize(self, _ev=None) -> None:
        self._place_axis_indicator()
        self._show_selection()

    def _place_axis_indicator(self) -> None:
        self.axis_box.pos = (4, max(self.canvas.size[1] - AXIS_BOX_PX - 4, 0))

    # --- selection -----------------------------------------------------------------------
    def to_pixels(self, points: np.ndarray) -> np.ndarray:
        """Returns where world points (N,3) are drawn on the canvas, (N,2) logical pixels (x right, y down)."""
        tr = self.view.scene.node_transform(self.canvas.scene)
        mapped = np.asarray(tr.map(np.asarray(points, np.float64).reshape(-1, 3)), np.float64)
        return mapped[:, :2] / mapped[:, 3:4]

    def joint_pixels(self) -> np.ndarray:
        """Returns where each joint is drawn on the canvas, (24,2) logical pixels (x right, y down)."""
        return self.to_pixels(self._joints_world)

    def pick_joint(self, pos) -> int | None:
        """Selects and returns the joint drawn nearest to canvas pixel ``pos`` (x, y), or clears the selection."""
        j = nearest_joint(self.joint_pixels(), pos) if self.joints.visible else None
        self.pose_state.select_joint(j)
        return j

    def _on_selection(self, joint) -> None:
        self._show_selection()
        name = "Click a joint to select it" if joint is None else f"Selected: {SMPL_JOINT_NAMES[joint].replace('_', ' ')}"
        self.selection_label.setText(name)
        self.canvas.update()

    def _show_selection(self) -> None:
        j = self.pose_state.selected_joint
        shown = j is not None and self.joints.visible
        self.selected_marker.visible = shown
        if j is not None:
            self.selected_marker.set_data(self._joints_world[[j]], face_color=SELECTED, edge_color=(1, 1, 1, 1), edge_width=2, size=14)
        self.handle.place(shown)

    # --- model -> view -------------------------------------------------------------------
    def _posed(self) -> tuple[np.ndarray, np.ndarray]:
        s = self.pose_state
        return pose_body(self.body, s.pose, s.betas, s.transl)

    def _on_pose(self, _what: str = "") -> None:
        self._verts, self._joints_world = self._posed()
        # A canvas that does not draw (hidden tab, minimized window) would pile up the markers' GL uploads, one
        # set per pose, until shown again: it takes the newest pose when it next draws.
        if self.canvas.native.isVisible() and not self.window().isMinimized():
            self._show_pose()
        else:
            self._pose_drawn = False

    def _show_pose(self) -> None:
        self._pose_drawn = True
        self._recolor()
        self.bones.set_data(pos=self._joints_world, connect=self._segments)
        self.joints.set_data(self._joints_world, face_color=(1.0, 0.4, 0.2, 1.0), edge_color=None, size=6)
        self._show_selection()

    def _recolor(self) -> None:
        self.mesh.set_data(vertices=self._verts, faces=self.faces, **self._color_kwargs())
        self.canvas.update()

    def _color_kwargs(self) -> dict:
        colors = {"checker": self._checker, "neural": self._neural}.get(self.color_mode)
        if self._paint_weights is not None:  # painting on the view: the painted mask tints the body
            base = np.tile(np.asarray(SKIN, np.float32), (len(self.faces), 1)) if colors is None else colors
            return {"face_colors": tint_face_colors(base, self._paint_weights)}
        return {"color": SKIN} if colors is None else {"face_colors": colors}

    def _apply_view(self, v: OrbitView) -> None:
        self.camera.azimuth = v.azimuth + VISPY_AZIMUTH_OFFSET
        self.camera.elevation = v.elevation
        self.camera.distance = v.distance
        self.camera.center = tuple(v.target)
        self.camera.fov = v.fov
        self.axis_box.camera.azimuth = self.camera.azimuth
        self.axis_box.camera.elevation = v.elevation
        # A headlight: light from the camera so the side facing the user is always lit.
        light = -(v.to_camera() + np.array([0.0, 0.35, 0.0]))
        if self.mesh.shading_filter is not None:
            self.mesh.shading_filter.light_dir = tuple(light)
        self._show_selection()  # the rings keep their size on screen
        self.canvas.update()

    def set_color_mode(self, mode: str) -> None:
        """Colours the mesh by ``mode`` (one of COLOR_MODES); "neural" shows skin until neural colours are set."""
        if mode not in COLOR_MODES:
            raise AnrError(f"viewport colour mode {mode!r}, expected one of {COLOR_MODES}")
        self.color_mode = mode
        self._recolor()

    def set_neural_colors(self, colors: np.ndarray | None) -> None:
        """Sets the (F,4) RGBA face colours the "neural" mode shows (None: no avatar, skin instead)."""
        self._neural = None if colors is None else np.asarray(colors, np.float32)
        if self.color_mode == "neural":
            self._recolor()

    def show_skeleton(self, on: bool) -> None:
        """Shows or hides the bone/joint overlay."""
        self.bones.visible = self.joints.visible = bool(on)
        self._show_selection()
        self.canvas.update()

    # --- mouse -> ViewState --------------------------------------------------------------
    def _on_press(self, ev) -> None:
        self._press_pos = np.asarray(ev.pos[:2], np.float64)
        self._press_origin = self._press_pos.copy()
        # vispy numbers buttons 1 left, 2 right, 3 middle.
        self._panning = ev.button == 3 or "Shift" in [k.name for k in ev.modifiers]
        if ev.button == 1 and not self._panning:
            axis = self.handle.grab(self._press_pos)
            if axis is not None:
                self.handle.start(axis, self._press_pos)
            elif self.paint_brush is not None and self.paint_brush.over_body(*self._press_pos, self._image_size()):
                self._painting = True
                self.paint_brush.handle(PaintEvent("press", *self._press_pos), self._image_size())

    def _drag_to(self, pos: np.ndarray) -> None:
        dx, dy = pos - self._press_pos
        self._press_pos = pos
        if not (dx or dy):
            return
        if self._panning:
            self.view_state.pan(dx, dy, self.canvas.size[1])
        else:
            # Half a degree per pixel: a drag across the view turns the body about once.
            self.view_state.orbit(-0.5 * dx, 0.5 * dy)

    def _on_move(self, ev) -> None:
        pos = np.asarray(ev.pos[:2], np.float64)
        if self.paint_brush is not None and (self._painting or self._press_pos is None):
            self._show_brush(pos)  # not while orbiting or turning a joint: the circle would follow a moving body
        if self.handle.drag is not None:
            self.handle.drag_to(pos)
        elif self._painting:
            self.paint_brush.handle(PaintEvent("move", *pos), self._image_size())
        elif self._press_pos is not None:
            self._drag_to(pos)
        else:  # a move without a press on the canvas is a hover: light the ring a press would grab
            if self.handle.hover_at(pos):
                self.canvas.update()

    def _on_release(self, ev) -> None:
        # vispy drops moves closer than 10 ms apart; the release carries the rest of the drag.
        pos = np.asarray(ev.pos[:2], np.float64)
        if self.handle.drag is not None:
            if np.linalg.norm(pos - self._press_origin) >= CLICK_SLOP_PX:
                self.handle.drag_to(pos)
            self.handle.end()
            self._on_selection(self.pose_state.selected_joint)
        elif self._painting:
            self._painting = False
            self.paint_brush.handle(PaintEvent("release", *pos), self._image_size())
        elif self._press_pos is not None:
            if np.linalg.norm(pos - self._press_origin) < CLICK_SLOP_PX and ev.button == 1 and not self._panning:
                self.pick_joint(pos)
            else:
                self._drag_to(pos)
        self._press_pos = None

    # --- painting the try-on mask on the body ----------------------------------------------
    def set_paint_brush(self, brush: ViewBrush | None) -> None:
        """Paints with ``brush`` on drags that start on the body, its mask tinting the body (None: every left drag orbits again)."""
        if self.paint_brush is not None:
            self.paint_brush.state.changed.disconnect(self._on_paint)
        self.paint_brush = brush
        self._painting = False
        self.brush_circle.visible = False
        if brush is None:
            self.canvas.native.unsetCursor()
            self._paint_weights = None
            self._recolor()
        else:
            self.canvas.native.setCursor(QtCore.Qt.CursorShape.CrossCursor)
            brush.state.changed.connect(self._on_paint)
            self._on_paint()

    def _on_paint(self, _box=None) -> None:
        self._paint_weights = mask_face_weights(self.paint_brush.state.mask, self.body.face_uvs.cpu().numpy())
        self._recolor()

    def _image_size(self) -> tuple[int, int]:
        return int(self.canvas.size[1]), int(self.canvas.size[0])

    def _show_brush(self, pos: np.ndarray) -> None:
        """Draws the brush circle at canvas pixel ``pos``, its radius the brush's on the body as this view shows it."""
        r = self.paint_brush.radius_px(self._image_size())
        self.brush_circle.center = (float(pos[0]), float(pos[1]))
        self.brush_circle.radius = (max(r, 1.0), max(r, 1.0))
        self.brush_circle.visible = True
        self.canvas.update()

    def _on_draw(self, ev) -> None:
        if not self._pose_drawn:
            self._show_pose()
        now = time.perf_counter()
        self._frame_times = [t for t in self._frame_times if now - t < 1.0] + [now]

    @property
    def fps(self) -> float:
        """Returns the number of frames drawn in the last second."""
        now = time.perf_counter()
        return float(sum(1 for t in self._frame_times if now - t < 1.0))
