"""The one path from a posed body to the renderer's inputs: UV image, normal image and mask."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from anr_studio.errors import expect_shape
from anr_studio.render.cameras import Camera
from anr_studio.render.interpolate import interpolate_normals, interpolate_uv
from anr_studio.render.rasterizer import Fragments, rasterize

__all__ = ["BodyMaps", "render_body_maps"]


@dataclass
class BodyMaps:
    """What the neural renderer sees of a posed body.

    uv:        (B,H,W,2) grid_sample coordinates in [-1, 1]; BACKGROUND_UV (-2) off the body.
    normals:   (B,3,H,W) unit camera-space normals (smooth), zeros off the body.
    mask:      (B,1,H,W) float, 1 on the body, 0 elsewhere.
    fragments: the rasterizer output they were interpolated from.
    """

    uv: torch.Tensor
    normals: torch.Tensor
    mask: torch.Tensor
    fragments: Fragments


def render_body_maps(body, vertices: torch.Tensor, camera: Camera, image_size: Sequence[int]) -> BodyMaps:
    """Returns BodyMaps(uv (B,H,W,2), normals (B,3,H,W), mask (B,1,H,W), fragments) of ``body`` (``faces (F,3)``,
    ``face_uvs (F,3,2)``) posed as ``vertices`` (B,V,3); camera of batch B or 1."""
    faces, face_uvs = body.faces, body.face_uvs
    expect_shape(face_uvs, (faces.shape[0], 3, 2), "body.face_uvs", "render_body_maps")
    fragments = rasterize(vertices, faces, camera, image_size)
    uv = interpolate_uv(fragments, face_uvs.to(vertices.device))
    normals = interpolate_normals(fragments, vertices, faces, camera)
    mask = fragments.mask.unsqueeze(1).to(torch.float32)
    return BodyMaps(uv=uv, normals=normals, mask=mask, fragments=fragments)
