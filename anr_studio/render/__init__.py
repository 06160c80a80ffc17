"""Cameras, the rasterizer and per-pixel interpolation: posed body -> UV image, normal image, mask."""

from anr_studio.render.body_maps import BodyMaps, render_body_maps
from anr_studio.render.cameras import PerspectiveCamera, WeakPerspectiveCamera, orbit_camera
from anr_studio.render.interpolate import BACKGROUND_UV, interpolate_normals, interpolate_uv, vertex_normals
from anr_studio.render.rasterizer import Fragments, rasterize

__all__ = [
    "BACKGROUND_UV", "BodyMaps", "Fragments", "PerspectiveCamera", "WeakPerspectiveCamera", "interpolate_normals",
    "interpolate_uv", "orbit_camera", "rasterize", "render_body_maps", "vertex_normals",
]
