"""Per-pixel attributes from Fragments: the UV image and the camera-space normal image.

The UV image is differentiable with respect to ``face_uvs`` (it is a weighted sum with fixed
barycentrics); neither output is differentiable with respect to vertex positions.
"""

from __future__ import annotations

import torch

from anr_studio.errors import AnrError, expect_shape
from anr_studio.render.cameras import PerspectiveCamera, WeakPerspectiveCamera
from anr_studio.render.rasterizer import Fragments

__all__ = ["BACKGROUND_UV", "interpolate_uv", "interpolate_normals", "vertex_normals", "interpolate_face_attributes"]

BACKGROUND_UV = -2.0  # outside [-1, 1], so grid_sample(padding_mode="zeros") reads zeros there


def interpolate_face_attributes(fragments: Fragments, face_attributes: torch.Tensor) -> torch.Tensor:
    """Returns (B,H,W,D): per-corner ``face_attributes (F,3,D)`` blended by the barycentrics; 0 on background."""
    expect_shape(face_attributes, (None, 3, None), "face_attributes", "interpolate_face_attributes")
    face_id = fragments.face_id
    if face_id.numel() and int(face_id.max()) >= face_attributes.shape[0]:
        raise AnrError(
            f"interpolate_face_attributes: fragments reference face {int(face_id.max())}, expected fewer than {face_attributes.shape[0]} faces"
        )
    attrs = face_attributes.to(device=face_id.device)
    mask = face_id >= 0
    corners = attrs[face_id.clamp_min(0)]  # (B,H,W,3,D)
    bary = fragments.bary.to(attrs.dtype) if attrs.is_floating_point() else fragments.bary
    values = (bary.unsqueeze(-1) * corners).sum(dim=-2)
    return values * mask.unsqueeze(-1)


def interpolate_uv(fragments: Fragments, face_uvs: torch.Tensor) -> torch.Tensor:
    """Returns the UV image (B,H,W,2) as grid_sample coordinates: gx = 2u - 1, gy = 1 - 2v.

    face_uvs: (F,3,2) OBJ-style u, v in [0, 1] per face corner (v up; seams allowed).
    Background pixels hold ``BACKGROUND_UV`` in both channels.
    """
    expect_shape(face_uvs, ("F", 3, 2), "face_uvs", "interpolate_uv")
    uv = interpolate_face_attributes(fragments, face_uvs)
    grid = torch.stack([2.0 * uv[..., 0] - 1.0, 1.0 - 2.0 * uv[..., 1]], dim=-1)
    return torch.where(fragments.mask.unsqueeze(-1), grid, torch.full_like(grid, BACKGROUND_UV))


def vertex_normals(vertices: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """Returns (B,V,3) unit smooth vertex normals: area-weighted sums of the adjacent face normals.

    Face normals follow the winding (counter-clockwise seen from outside = outward, as in OBJ).
    A vertex used by no face gets a zero normal.
    """
    expect_shape(vertices, ("B", "V", 3), "vertices", "vertex_normals")
    faces = faces.to(device=vertices.device, dtype=torch.long)
    corners = vertices[:, faces]  # (B,F,3,3)
    # The cross product's length is twice the face area, which is the weighting we want.
    face_n = torch.linalg.cross(corners[:, :, 1] - corners[:, :, 0], corners[:, :, 2] - corners[:, :, 0])
    normals = torch.zeros_like(vertices)
    for k in range(3):
        normals.index_add_(1, faces[:, k], face_n)
    return torch.nn.functional.normalize(normals, dim=-1, eps=1e-12)


def interpolate_normals(
    fragments: Fragments,
    vertices: torch.Tensor,
    faces: torch.Tensor,
    camera: PerspectiveCamera | WeakPerspectiveCamera,
) -> torch.Tensor:
    """Returns the normal image (B,3,H,W): unit camera-space normals, zeros on background.

    Smooth shading: per-vertex normals (area-weighted, see ``vertex_normals``) interpolated with
    the perspective-correct barycentrics and renormalised. Smooth normals hide the coarse body's
    facets, which would otherwise print into the renderer's input as a faceted pattern.
    Camera space is OpenCV (x right, y down, z forward), so a surface facing the camera has n_z < 0.
    vertices: (B,V,3) world positions; faces: (F,3); camera of batch B or 1.
    """
    expect_shape(vertices, ("B", "V", 3), "vertices", "interpolate_normals")
    with torch.no_grad():
        verts = vertices.detach().to(device=fragments.face_id.device, dtype=torch.float32)
        normals = vertex_normals(verts, faces)
        normals = camera.to(device=verts.device, dtype=torch.float32).rotate_to_camera(normals)
        faces = faces.to(device=verts.device, dtype=torch.long)
        batch = fragments.face_id.shape[0]
        if normals.shape[0] != batch:
            normals = normals.expand(batch, -1, -1)
        face_id = fragments.face_id.clamp_min(0)
        # Gather per batch: corner normals for each pixel's face.
        corner_index = faces[face_id]  # (B,H,W,3)
        flat = corner_index.reshape(batch, -1)
        corners = torch.gather(normals, 1, flat.unsqueeze(-1).expand(-1, -1, 3)).reshape(*corner_index.shape, 3)
        n = (fragments.bary.unsqueeze(-1) * corners).sum(dim=-2)
        n = torch.nn.functional.normalize(n, dim=-1, eps=1e-12) * fragments.mask.unsqueeze(-1)
        return n.permute(0, 3, 1, 2).contiguous()
