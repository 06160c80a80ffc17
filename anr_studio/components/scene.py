"""The body the studio poses and the orbit view it is seen from, free of Qt.

``ViewState.view.camera(size)`` is the camera of both the viewport and the neural preview, so they always agree.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch
from psygnal import Signal

from anr_studio.components.protocols import StudioBody
from anr_studio.errors import AnrError

DEFAULT_VIEW = (0.0, 5.0, 4.2, (0.0, 0.9, 0.0))
FRAME_MARGIN = 0.1  # share of the view's height kept free above and below a framed body
# Named views (azimuth, elevation) in degrees: looking at the body's front, its left side, from above.
VIEW_PRESETS = {"front": (0.0, 0.0), "side": (90.0, 0.0), "top": (0.0, 89.0)}


def default_body() -> StudioBody:
    """Returns the built-in BodyModel, the body the studio poses unless it is given another."""
    from anr_studio.body import load_body

    return load_body()


@torch.no_grad()
def posed(body: StudioBody, pose: np.ndarray, betas: np.ndarray | None = None, transl: np.ndarray | None = None):
    """Returns the body's output (vertices (1,V,3), joints (1,24,3)) for pose (24,3), betas (K,) and transl (3,)."""
    p = torch.as_tensor(np.asarray(pose, np.float32)).reshape(1, 24, 3)
    b = None if betas is None or not len(betas) else torch.as_tensor(np.asarray(betas, np.float32)[None, : body.num_betas])
    t = None if transl is None else torch.as_tensor(np.asarray(transl, np.float32)).reshape(1, 3)
    return body(pose=p, betas=b, transl=t)


def pose_body(body: StudioBody, pose: np.ndarray, betas: np.ndarray | None = None, transl: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Returns (vertices (V,3), joints (24,3)) float32 of ``body`` posed with pose (24,3), betas (K,), transl (3,)."""
    out = posed(body, pose, betas, transl)
    return out.vertices[0].cpu().numpy(), out.joints[0].cpu().numpy()


@dataclass(frozen=True)
class OrbitView:
    """An orbit camera: azimuth/elevation in degrees, distance in metres, target (3,), vertical fov."""

    azimuth: float = DEFAULT_VIEW[0]
    elevation: float = DEFAULT_VIEW[1]
    distance: float = DEFAULT_VIEW[2]
    target: tuple[float, float, float] = DEFAULT_VIEW[3]
    fov: float = 30.0

    def camera(self, size: tuple[int, int]):
        """Returns the PerspectiveCamera (batch 1) of this view for an image of ``size`` (H,W)."""
        from anr_studio.render import orbit_camera

        return orbit_camera(self.azimuth, self.elevation, self.distance, self.target, image_size=size, fov_deg=self.fov)

    def to_camera(self) -> np.ndarray:
        """Returns the unit vector (3,) from the target towards the camera, in world space."""
        az, el = np.radians(self.azimuth), np.radians(self.elevation)
        return np.array([np.cos(el) * np.sin(az), np.sin(el), np.cos(el) * np.cos(az)])


class ViewState:
    """Holds the current OrbitView; ``changed(OrbitView)`` fires on the main thread after each edit."""

    changed = Signal(object)

    def __init__(self) -> None:
        self.view = OrbitView()
        self.home = OrbitView()  # where `reset` returns: the default view, or one that frames a taller body

    def frame_heights(self, bottom: float, top: float) -> None:
        """Makes the home view show a body spanning heights [bottom, top] in metres (the default view when they fit
        in it) and moves the camera there when the current view cuts the body off."""

        def half_height(view: OrbitView) -> float:  # metres of the view above (and below) its target
            return view.distance * float(np.tan(np.radians(view.fov) / 2.0)) * (1.0 - FRAME_MARGIN)

        def shows(view: OrbitView) -> bool:
            return view.target[1] - half_height(view) <= bottom and top <= view.target[1] + half_height(view)

        default = OrbitView()
        middle = (0.0, 0.5 * (bottom + top), 0.0)
        needed = 0.5 * (top - bottom) / (half_height(default) / default.distance)
        self.home = default if shows(default) else replace(default, target=middle, distance=max(default.distance, needed))
        if not shows(self.view):
            self.set(target=self.home.target, distance=max(self.view.distance, self.home.distance))

    def set(self, **fields) -> None:
        """Updates some fields (elevation is clamped to [-89, 89], distance to [0.3, 30])."""
        if "elevation" in fields:
            fields["elevation"] = float(np.clip(fields["elevation"], -89.0, 89.0))
        if "distance" in fields:
            fields["distance"] = float(np.clip(fields["distance"], 0.3, 30.0))
        if "azimuth" in fields:
            fields["azimuth"] = (float(fields["azimuth"]) + 180.0) % 360.0 - 180.0
        new = replace(self.view, **fields)
        if new != self.view:
            self.view = new
            self.changed.emit(new)

    def orbit(self, d_azimuth: float, d_elevation: float) -> None:
        """Turns the camera by the given degrees."""
        self.set(azimuth=self.view.azimuth + d_azimuth, elevation=self.view.elevation + d_elevation)

    def pan(self, dx_px: float, dy_px: float, height_px: float) -> None:
        """Moves the target so the scene follows a drag of (dx, dy) pixels in a view ``height_px`` tall."""
        metres_per_px = 2.0 * self.view.distance * np.tan(np.radians(self.view.fov) / 2.0) / max(float(height_px), 1.0)
        az = np.radians(self.view.azimuth)
        right = np.array([np.cos(az), 0.0, -np.sin(az)])  # the camera's right and up unit vectors in world space
        up = np.cross(self.view.to_camera(), right)
        target = np.asarray(self.view.target, np.float64) - metres_per_px * (dx_px * right - dy_px * up)
        self.set(target=tuple(float(x) for x in target))

    def preset(self, name: str) -> None:
        """Turns the camera to the named view in VIEW_PRESETS ("front", "side", "top"), keeping target and distance."""
        if name not in VIEW_PRESETS:
            raise AnrError(f"view preset {name!r}, expected one of {tuple(VIEW_PRESETS)}")
        az, el = VIEW_PRESETS[name]
        self.set(azimuth=az, elevation=el)

    def zoom(self, factor: float) -> None:
        """Multiplies the distance by ``factor`` (< 1 moves closer)."""
        self.set(distance=self.view.distance * factor)

    def reset(self) -> None:
        """Returns to the home view: the default front view, or the one that frames a taller body."""
        self.set(**vars(self.home))
