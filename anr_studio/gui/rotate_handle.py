"""RotateHandle: the selected joint's rotate gizmo in the 3D view (vispy rings coloured by axis, the far
halves faded, the hovered or held one lit); a drag is one undo step. Geometry: ``components.rotate_gizmo``."""

from __future__ import annotations

import time

import numpy as np
from vispy import scene

from anr_studio.components.pose_state import SMPL_JOINT_NAMES
from anr_studio.components.rotate_gizmo import (AXIS_COLORS, AXIS_NAMES, RingDrag, eye_position, joint_frames, pick_ring,
                                                ring_colors, ring_points, ring_radius)

RING_WIDTH = 2.5


def on_top(visual, order: int, visible: bool = True, **gl_state):
    """Returns ``visual`` drawn over the scene (no depth test) in draw ``order``, shown or hidden."""
    visual.set_gl_state(depth_test=False, **gl_state)
    visual.order = order
    visual.visible = visible
    return visual


class RotateHandle:
    """The rings of ``viewport`` (a MeshViewport) around its pose state's selected joint."""

    def __init__(self, viewport) -> None:
        self.vp = viewport
        self.rings = [on_top(scene.visuals.Line(color=AXIS_COLORS[k], width=RING_WIDTH, antialias=True,
                                                parent=viewport.view.scene), 12, visible=False, blend=True) for k in range(3)]
        self.world = np.zeros((3, 2, 3))
        """The rings' points in the world, (3,N,3)."""
        self.hover: int | None = None
        self.drag: RingDrag | None = None
        self.frame = np.eye(3)
        self._key: object = None

    @property
    def visible(self) -> bool:
        return self.rings[0].visible

    def place(self, shown: bool) -> None:
        """Places the three rings around the selected joint, turned with it, a fixed size on screen (or hides them)."""
        vp = self.vp
        for ring in self.rings:
            ring.visible = shown
        if not shown:
            self.hover = None
            return
        j = vp.pose_state.selected_joint
        center = vp._joints_world[j].astype(np.float64)
        self.frame = joint_frames(vp.pose_state.pose, vp.parents)[j]
        self.world = ring_points(center, self.frame, ring_radius(vp.view_state.view, center, vp.canvas.size[1]))
        active = self.drag.axis if self.drag is not None else self.hover
        colors = ring_colors(self.world, center, center - eye_position(vp.view_state.view), active)
        for k, ring in enumerate(self.rings):
            ring.set_data(pos=self.world[k].astype(np.float32), color=colors[k], width=RING_WIDTH * (1.6 if active == k else 1.0))

    def pixels(self) -> np.ndarray:
        """Returns the three rings as drawn on the canvas, (3,N,2) logical pixels."""
        return self.vp.to_pixels(self.world.reshape(-1, 3)).reshape(3, -1, 2)

    def grab(self, pos: np.ndarray) -> int | None:
        """Returns the axis of the ring under canvas pixel ``pos``, or None."""
        if not self.visible:
            return None
        vp = self.vp
        view_dir = vp._joints_world[vp.pose_state.selected_joint] - eye_position(vp.view_state.view)
        return pick_ring(self.pixels(), pos, self.frame, view_dir)

    def hover_at(self, pos: np.ndarray) -> bool:
        """Lights the ring a press at ``pos`` would grab; returns True when that changed."""
        axis = self.grab(pos)
        if axis == self.hover:
            return False
        self.hover = axis
        self.place(self.visible)
        return True

    def start(self, axis: int, pos: np.ndarray) -> None:
        """Takes ring ``axis`` in hand at canvas pixel ``pos``."""
        vp = self.vp
        j = vp.pose_state.selected_joint
        center = vp._joints_world[j].astype(np.float64)
        self.drag = RingDrag(vp.pose_state.pose, j, axis, self.frame, vp.to_pixels(center[None])[0], pos,
                             center - eye_position(vp.view_state.view))
        self._key = ("rotate handle", time.perf_counter())

    def drag_to(self, pos: np.ndarray) -> None:
        """Turns the joint by the angle the drag has swept around it, as one undo step with the rest of the drag."""
        d = self.drag
        self.vp.pose_state.set_pose(d.update(pos), merge_key=self._key)
        name = SMPL_JOINT_NAMES[d.joint].replace("_", " ")
        self.vp.selection_label.setText(f"Turning {name} about {AXIS_NAMES[d.axis]}: {np.degrees(d.angle):+.1f}°")

    def end(self) -> None:
        """Lets go of the ring: the next edit is a new undo step."""
        self.drag = None
        self.vp.pose_state.end_gesture()
