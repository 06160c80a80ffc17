"""MeshViewport: a vispy 3D view of the posed coarse body with skeleton overlay and orbit camera.

The view only reacts: it reads PoseState and ViewState and redraws; mouse drags write ViewState
(drag to orbit, middle or Shift drag to pan, wheel to zoom, double-click to reset) and a click
picks the nearest joint into PoseState's selection. The selected joint wears a rotate handle, three
rings coloured by axis: dragging a ring turns the joint about that axis (one undo step per drag). vispy's own camera interaction is off so
ViewState stays the one truth shared with the neural preview.
"""

from __future__ import annotations

import time

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets
from vispy import app as vispy_app
from vispy import scene

from anr_studio.components.face_colors import checker_face_colors
from anr_studio.components.pose_state import SMPL_JOINT_NAMES, PoseState, nearest_joint
from anr_studio.components.protocols import StudioBody
from anr_studio.components.rotate_gizmo import AXIS_COLORS, AXIS_NAMES, RingDrag, eye_position, joint_frames, pick_ring, ring_colors, ring_points, ring_radius
from anr_studio.components.scene import VIEW_PRESETS, OrbitView, ViewState, pose_body
from anr_studio.errors import AnrError
from anr_studio.gui.theme import VIEWPORT_BG

vispy_app.use_app("pyside6")

SKIN = (0.78, 0.66, 0.58, 1.0)
# vispy's turntable azimuth 0 looks from -x; orbit_camera's azimuth 0 looks from +z.
VISPY_AZIMUTH_OFFSET = 90.0
# How the mesh is coloured: plain skin, a UV checkerboard, or the current identity's neural texture.
COLOR_MODES = ("skin", "checker", "neural")
SELECTED = (0.3, 0.9, 1.0, 1.0)
RING_WIDTH = 2.5
# A press and release closer than this (pixels) is a click (picks a joint), not a drag.
CLICK_SLOP_PX = 3.0
AXIS_BOX_PX = 84
# Keys of the view presets, as in Blender's numpad: 1 front, 3 side, 7 top.
PRESET_KEYS = {"front": "1", "side": "3", "top": "7"}


class MeshViewport(QtWidgets.QWidget):
    """Shows ``body`` posed by ``pose_state`` from ``view_state``."""

    def __init__(self, body: StudioBody, pose_state: PoseState, view_state: ViewState, parent=None) -> None:
        super().__init__(parent)
        self.body, self.pose_state, self.view_state = body, pose_state, view_state
        self.canvas = scene.SceneCanvas(keys=None, bgcolor=VIEWPORT_BG, show=False)
        self.canvas.native.setObjectName("meshCanvas")
        self.view = self.canvas.central_widget.add_view()
        self.camera = scene.TurntableCamera(up="+y", fov=30.0)
        self.camera.interactive = False
        self.view.camera = self.camera
        self.faces = body.faces.cpu().numpy().astype(np.uint32)
        self.parents = body.parents.cpu().numpy()
        self._checker = checker_face_colors(body.face_uvs.cpu().numpy())
        self.color_mode = "skin"
        self._neural: np.ndarray | None = None
        verts, joints = self._posed()
        self.mesh = scene.visuals.Mesh(vertices=verts, faces=self.faces, color=SKIN, shading="smooth", parent=self.view.scene)
        segs = np.array([(j, p) for j, p in enumerate(self.parents) if p >= 0], np.int64)
        self._segments = segs
        self.bones = scene.visuals.Line(pos=joints, connect=segs, color=(1.0, 0.85, 0.2, 1.0), width=2.0, parent=self.view.scene)
        self.joints = scene.visuals.Markers(parent=self.view.scene)
        self.joints.set_data(joints, face_color=(1.0, 0.4, 0.2, 1.0), edge_color=None, size=6)
        for vis in (self.bones, self.joints):
            vis.set_gl_state(depth_test=False)  # the skeleton stays visible through the skin
            vis.order = 10
        self.selected_marker = scene.visuals.Markers(parent=self.view.scene)
        self.selected_marker.set_gl_state(depth_test=False)
        self.selected_marker.order = 11
        self.selected_marker.visible = False
        self.rings = []
        for k in range(3):
            ring = scene.visuals.Line(color=AXIS_COLORS[k], width=RING_WIDTH, antialias=True, parent=self.view.scene)
            ring.set_gl_state(depth_test=False, blend=True)
            ring.order = 12
            ring.visible = False
            self.rings.append(ring)
        self._ring_world = np.zeros((3, 2, 3))
        self._hover_ring: int | None = None
        self._ring_drag: RingDrag | None = None
        self._frame = np.eye(3)
        self._joints_world = joints
        self._build_axis_indicator()
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self._build_view_bar())
        layout.addWidget(self.canvas.native, 1)
        self.show_skeleton(True)
        self._press_pos = None
        self._press_origin = None
        self._panning = False
        self._frame_times: list[float] = []
        self.canvas.events.mouse_press.connect(self._on_press)
        self.canvas.events.mouse_move.connect(self._on_move)
        self.canvas.events.mouse_release.connect(self._on_release)
        self.canvas.events.mouse_wheel.connect(self._on_wheel)
        self.canvas.events.mouse_double_click.connect(lambda ev: self.view_state.reset())
        self.canvas.events.draw.connect(self._on_draw)
        self.canvas.events.resize.connect(self._on_resize)
        pose_state.changed.connect(self._on_pose)
        pose_state.selection_changed.connect(self._on_selection)
        view_state.changed.connect(self._apply_view)
        self._apply_view(view_state.view)

    # --- view presets and axis indicator -------------------------------------------------
    def _build_view_bar(self) -> QtWidgets.QWidget:
        bar = QtWidgets.QWidget()
        lay = QtWidgets.QHBoxLayout(bar)
        lay.setContentsMargins(4, 2, 4, 2)
        lay.setSpacing(2)
        self.preset_buttons: dict[str, QtWidgets.QToolButton] = {}
        for name in VIEW_PRESETS:
            b = QtWidgets.QToolButton()
            b.setText(name.capitalize())
            b.setToolTip(f"Look at the body from the {name} ({PRESET_KEYS[name]} with the 3D view focused)")
            b.clicked.connect(lambda _=False, n=name: self.view_state.preset(n))
            act = QtGui.QAction(f"{name.capitalize()} view", self)
            act.setShortcut(QtGui.QKeySequence(PRESET_KEYS[name]))
            act.setShortcutContext(QtCore.Qt.ShortcutContext.WidgetWithChildrenShortcut)
            act.triggered.connect(lambda _=False, n=name: self.view_state.preset(n))
            self.addAction(act)
            self.preset_buttons[name] = b
            lay.addWidget(b)
        lay.addStretch(1)
        self.selection_label = QtWidgets.QLabel("Click a joint to select it")
        self.selection_label.setToolTip("Click near a joint to select it; drag to orbit, middle or Shift drag to pan, wheel to zoom")
        lay.addWidget(self.selection_label)
        return bar

    def _build_axis_indicator(self) -> None:
        """A small corner view whose camera turns with the main one, showing the world x (red), y (green), z (blue)."""
        box = scene.widgets.ViewBox(parent=self.canvas.scene, border_color=None, bgcolor=None)
        box.size = (AXIS_BOX_PX, AXIS_BOX_PX)
        box.interactive = False
        box.camera = scene.TurntableCamera(up="+y", fov=0.0, distance=3.0)
        box.camera.interactive = False
        box.camera.center = (0.0, 0.0, 0.0)
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

    def ring_pixels(self) -> np.ndarray:
        """Returns the rotate handle's three rings as drawn on the canvas, (3,N,2) logical pixels."""
        return self.to_pixels(self._ring_world.reshape(-1, 3)).reshape(3, -1, 2)

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
        if not shown:
            self._hover_ring = None
        self._show_rings(shown)

    # --- rotate handle -------------------------------------------------------------------
    def _show_rings(self, shown: bool) -> None:
        """Places the three rings around the selected joint, turned with it, a fixed size on screen."""
        for ring in self.rings:
            ring.visible = shown
        if not shown:
            return
        j = self.pose_state.selected_joint
        center = self._joints_world[j].astype(np.float64)
        self._frame = joint_frames(self.pose_state.pose, self.parents)[j]
        radius = ring_radius(self.view_state.view, center, self.canvas.size[1])
        self._ring_world = ring_points(center, self._frame, radius)
        active = self._ring_drag.axis if self._ring_drag is not None else self._hover_ring
        colors = ring_colors(self._ring_world, center, center - eye_position(self.view_state.view), active)
        for k, ring in enumerate(self.rings):
            ring.set_data(pos=self._ring_world[k].astype(np.float32), color=colors[k],
                          width=RING_WIDTH * (1.6 if active == k else 1.0))

    def _grab_ring(self, pos: np.ndarray) -> int | None:
        """Returns the axis of the ring of the rotate handle under canvas pixel ``pos``, or None."""
        if not self.rings[0].visible:
            return None
        j = self.pose_state.selected_joint
        view_dir = self._joints_world[j] - eye_position(self.view_state.view)
        return pick_ring(self.ring_pixels(), pos, self._frame, view_dir)

    def _start_ring_drag(self, axis: int, pos: np.ndarray) -> None:
        j = self.pose_state.selected_joint
        center = self._joints_world[j].astype(np.float64)
        self._ring_drag = RingDrag(self.pose_state.pose, j, axis, self._frame, self.to_pixels(center[None])[0], pos,
                                   center - eye_position(self.view_state.view))
        self._ring_key = ("rotate handle", time.perf_counter())

    def _drag_ring(self, pos: np.ndarray) -> None:
        d = self._ring_drag
        self.pose_state.set_pose(d.update(pos), merge_key=self._ring_key)
        name = SMPL_JOINT_NAMES[d.joint].replace("_", " ")
        self.selection_label.setText(f"Turning {name} about {AXIS_NAMES[d.axis]}: {np.degrees(d.angle):+.1f}°")

    def _end_ring_drag(self) -> None:
        self._ring_drag = None
        self.pose_state.end_gesture()
        self._on_selection(self.pose_state.selected_joint)

    # --- model -> view -------------------------------------------------------------------
    def _posed(self) -> tuple[np.ndarray, np.ndarray]:
        s = self.pose_state
        return pose_body(self.body, s.pose, s.betas, s.transl)

    def _on_pose(self, _what: str = "") -> None:
        verts, joints = self._posed()
        self._joints_world = joints
        self.mesh.set_data(vertices=verts, faces=self.faces, **self._color_kwargs())
        self.bones.set_data(pos=joints, connect=self._segments)
        self.joints.set_data(joints, face_color=(1.0, 0.4, 0.2, 1.0), edge_color=None, size=6)
        self._show_selection()

    def _color_kwargs(self) -> dict:
        colors = {"checker": self._checker, "neural": self._neural}.get(self.color_mode)
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
        az, el = np.radians(v.azimuth), np.radians(v.elevation)
        to_cam = np.array([np.cos(el) * np.sin(az), np.sin(el), np.cos(el) * np.cos(az)])
        light = -(to_cam + np.array([0.0, 0.35, 0.0]))
        if self.mesh.shading_filter is not None:
            self.mesh.shading_filter.light_dir = tuple(light)
        self._show_selection()  # the rings keep their size on screen
        self.canvas.update()

    def set_color_mode(self, mode: str) -> None:
        """Colours the mesh by ``mode`` (one of COLOR_MODES); "neural" shows skin until neural colours are set."""
        if mode not in COLOR_MODES:
            raise AnrError(f"viewport colour mode {mode!r}, expected one of {COLOR_MODES}")
        self.color_mode = mode
        self._on_pose()
        self.canvas.update()

    def set_neural_colors(self, colors: np.ndarray | None) -> None:
        """Sets the (F,4) RGBA face colours the "neural" mode shows (None: no avatar, skin instead)."""
        self._neural = None if colors is None else np.asarray(colors, np.float32)
        if self.color_mode == "neural":
            self._on_pose()
            self.canvas.update()

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
            axis = self._grab_ring(self._press_pos)
            if axis is not None:
                self._start_ring_drag(axis, self._press_pos)

    def _drag_to(self, ev) -> None:
        pos = np.asarray(ev.pos[:2], np.float64)
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
        if self._ring_drag is not None:
            self._drag_ring(pos)
        elif self._press_pos is not None:
            self._drag_to(ev)
        else:  # a move without a press on the canvas is a hover: light the ring a press would grab
            hover = self._grab_ring(pos)
            if hover != self._hover_ring:
                self._hover_ring = hover
                self._show_selection()
                self.canvas.update()

    def _on_release(self, ev) -> None:
        # vispy drops moves closer than 10 ms apart; the release carries the rest of the drag.
        if self._ring_drag is not None:
            pos = np.asarray(ev.pos[:2], np.float64)
            if np.linalg.norm(pos - self._press_origin) >= CLICK_SLOP_PX:
                self._drag_ring(pos)
            self._end_ring_drag()
        elif self._press_pos is not None:
            pos = np.asarray(ev.pos[:2], np.float64)
            if np.linalg.norm(pos - self._press_origin) < CLICK_SLOP_PX and ev.button == 1 and not self._panning:
                self.pick_joint(pos)
            else:
                self._drag_to(ev)
        self._press_pos = None

    def _on_wheel(self, ev) -> None:
        self.view_state.zoom(0.9 ** float(ev.delta[1]))

    def _on_draw(self, ev) -> None:
        now = time.perf_counter()
        self._frame_times = [t for t in self._frame_times if now - t < 1.0] + [now]

    @property
    def fps(self) -> float:
        """Returns the number of frames drawn in the last second."""
        now = time.perf_counter()
        return float(sum(1 for t in self._frame_times if now - t < 1.0))
