"""MeshViewport: a vispy 3D view of the posed coarse body with skeleton overlay and orbit camera.

The view only reacts: it reads PoseState and ViewState and redraws; mouse drags write ViewState
(drag to orbit, wheel to zoom, double-click to reset). vispy's own camera interaction is off so
ViewState stays the one truth shared with the neural preview.
"""

from __future__ import annotations

import time

import numpy as np
from PySide6 import QtWidgets
from vispy import app as vispy_app
from vispy import scene

from anr_studio.components.face_colors import checker_face_colors
from anr_studio.components.pose_state import PoseState
from anr_studio.components.protocols import StudioBody
from anr_studio.components.scene import OrbitView, ViewState, pose_body
from anr_studio.errors import AnrError
from anr_studio.gui.theme import VIEWPORT_BG

vispy_app.use_app("pyside6")

SKIN = (0.78, 0.66, 0.58, 1.0)
# vispy's turntable azimuth 0 looks from -x; orbit_camera's azimuth 0 looks from +z.
VISPY_AZIMUTH_OFFSET = 90.0
# How the mesh is coloured: plain skin, a UV checkerboard, or the current identity's neural texture.
COLOR_MODES = ("skin", "checker", "neural")


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
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.canvas.native)
        self.show_skeleton(True)
        self._press_pos = None
        self._frame_times: list[float] = []
        self.canvas.events.mouse_press.connect(self._on_press)
        self.canvas.events.mouse_move.connect(self._on_move)
        self.canvas.events.mouse_release.connect(self._on_release)
        self.canvas.events.mouse_wheel.connect(self._on_wheel)
        self.canvas.events.mouse_double_click.connect(lambda ev: self.view_state.reset())
        self.canvas.events.draw.connect(self._on_draw)
        pose_state.changed.connect(self._on_pose)
        view_state.changed.connect(self._apply_view)
        self._apply_view(view_state.view)

    # --- model -> view -------------------------------------------------------------------
    def _posed(self) -> tuple[np.ndarray, np.ndarray]:
        s = self.pose_state
        return pose_body(self.body, s.pose, s.betas, s.transl)

    def _on_pose(self, _what: str = "") -> None:
        verts, joints = self._posed()
        self.mesh.set_data(vertices=verts, faces=self.faces, **self._color_kwargs())
        self.bones.set_data(pos=joints, connect=self._segments)
        self.joints.set_data(joints, face_color=(1.0, 0.4, 0.2, 1.0), edge_color=None, size=6)

    def _color_kwargs(self) -> dict:
        colors = {"checker": self._checker, "neural": self._neural}.get(self.color_mode)
        return {"color": SKIN} if colors is None else {"face_colors": colors}

    def _apply_view(self, v: OrbitView) -> None:
        self.camera.azimuth = v.azimuth + VISPY_AZIMUTH_OFFSET
        self.camera.elevation = v.elevation
        self.camera.distance = v.distance
        self.camera.center = tuple(v.target)
        self.camera.fov = v.fov
        # A headlight: light from the camera so the side facing the user is always lit.
        az, el = np.radians(v.azimuth), np.radians(v.elevation)
        to_cam = np.array([np.cos(el) * np.sin(az), np.sin(el), np.cos(el) * np.cos(az)])
        light = -(to_cam + np.array([0.0, 0.35, 0.0]))
        if self.mesh.shading_filter is not None:
            self.mesh.shading_filter.light_dir = tuple(light)
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
        self.canvas.update()

    # --- mouse -> ViewState --------------------------------------------------------------
    def _on_press(self, ev) -> None:
        self._press_pos = np.asarray(ev.pos[:2], np.float64)

    def _drag_to(self, ev) -> None:
        pos = np.asarray(ev.pos[:2], np.float64)
        dx, dy = pos - self._press_pos
        self._press_pos = pos
        if dx or dy:
            # Half a degree per pixel: a drag across the view turns the body about once.
            self.view_state.orbit(-0.5 * dx, 0.5 * dy)

    def _on_move(self, ev) -> None:
        if self._press_pos is not None:  # a move without a press on the canvas is a hover
            self._drag_to(ev)

    def _on_release(self, ev) -> None:
        # vispy drops moves closer than 10 ms apart; the release carries the rest of the drag.
        if self._press_pos is not None:
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
