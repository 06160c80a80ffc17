"""Per-pixel attributes from Fragments, barycentric sums of per-corner values: the UV image (differentiable in
``face_uvs``) and the camera-space normal image."""

from __future__ import annotations

import torch

from anr_studio.errors import AnrError, expect_shape
from anr_studio.render.cameras import Camera
from anr_studio.render.rasterizer import Fragments

__all__ = ["BACKGROUND_UV", "interpolate_uv", "interpolate_normals", "vertex_normals"]

BACKGROUND_UV = -2.0  # outside [-1, 1], so grid_sample(padding_mode="zeros") reads zeros there


def _dense(fragments: Fragments) -> bool:
    """Returns True where every pixel is interpolated (CUDA: no ``nonzero``, no host sync); on the CPU only covered ones."""
    return fragments.face_id.device.type != "cpu"


def _gather_covered(fragments: Fragments) -> tuple[torch.Tensor | None, torch.Tensor, torch.Tensor]:
    """Returns (covered (N,) flat pixel indices or None when dense, face (N,) ids, bary (N,3)) of the pixels to interpolate."""
    if _dense(fragments):
        return None, fragments.face_id.reshape(-1).clamp_min(0), fragments.bary.reshape(-1, 3)
    covered = fragments.covered_pixels()
    face = fragments.face_id.reshape(-1).index_select(0, covered)
    bary = fragments.bary.reshape(-1, 3).index_select(0, covered)
    return covered, face, bary


def _scatter_image(fragments: Fragments, covered: torch.Tensor | None, values: torch.Tensor, fill: float) -> torch.Tensor:
    """Returns (B,H,W,D): ``values`` (N,D) at the ``covered`` pixels (or (B*H*W,D) when None), ``fill`` elsewhere."""
    batch, height, width = fragments.face_id.shape
    if covered is None:
        mask = (fragments.face_id >= 0).reshape(-1, 1)
        return torch.where(mask, values, fill).view(batch, height, width, values.shape[-1])
    image = torch.full((batch * height * width, values.shape[-1]), fill, dtype=values.dtype, device=values.device)
    # In place when no gradient is needed: the out-of-place copy costs a full image.
    image = image.index_copy(0, covered, values) if values.requires_grad else image.index_copy_(0, covered, values)
    return image.view(batch, height, width, values.shape[-1])


def interpolate_uv(fragments: Fragments, face_uvs: torch.Tensor) -> torch.Tensor:
    """Returns the UV image (B,H,W,2) as grid_sample coordinates gx = 2u - 1, gy = 1 - 2v (``BACKGROUND_UV`` off the
    body) of ``face_uvs`` (F,3,2): OBJ-style u, v in [0, 1] per face corner (v up; seams allowed)."""
    expect_shape(face_uvs, ("F", 3, 2), "face_uvs", "interpolate_uv")
    count = face_uvs.shape[0]
    if fragments.num_faces is None or fragments.num_faces > count:  # a host sync, unless the face count is known
        highest = int(fragments.face_id.max()) if fragments.face_id.numel() else -1
        if highest >= count:
            raise AnrError(f"interpolate_uv: fragments reference face {highest}, expected fewer than {count} faces")
    covered, face, bary = _gather_covered(fragments)
    # The affine map to grid coordinates commutes with the barycentric blend, so apply it per corner.
    grid_uvs = torch.stack([2.0 * face_uvs[..., 0] - 1.0, 1.0 - 2.0 * face_uvs[..., 1]], dim=-1).to(face.device)
    # Multiply-and-sum, not bmm: a TF32 bmm would cost the UVs three decimal digits.
    uv = (bary.to(grid_uvs.dtype).unsqueeze(-1) * grid_uvs.index_select(0, face)).sum(dim=1)  # (N,2)
    return _scatter_image(fragments, covered, uv, BACKGROUND_UV)


def vertex_normals(vertices: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """Returns (B,V,3) unit vertex normals: area-weighted face normals (CCW = outward); zero for unused vertices."""
    expect_shape(vertices, ("B", "V", 3), "vertices", "vertex_normals")
    faces = faces.to(device=vertices.device, dtype=torch.long)
    corners = vertices[:, faces]  # (B,F,3,3)
    # The cross product's length is twice the face area, which is the weighting we want.
    face_n = torch.linalg.cross(corners[:, :, 1] - corners[:, :, 0], corners[:, :, 2] - corners[:, :, 0])
    normals = torch.zeros_like(vertices)
    for k in range(3):
        normals.index_add_(1, faces[:, k], face_n)
    return torch.nn.functional.normalize(normals, dim=-1, eps=1e-12)


def interpolate_normals(fragments: Fragments, vertices: torch.Tensor, faces: torch.Tensor, camera: Camera) -> torch.Tensor:
    """Returns the normal image (B,3,H,W): unit camera-space normals (n_z < 0 facing the camera), 0 off the body,
    smooth so that the coarse body's facets do not print into the renderer's input; ``vertices`` (B,V,3) world."""
    expect_shape(vertices, ("B", "V", 3), "vertices", "interpolate_normals")
    batch, height, width = fragments.face_id.shape
    device = fragments.face_id.device
    verts = vertices.to(device=device, dtype=fragments.bary.dtype)
    faces = faces.to(device=device, dtype=torch.long)
    normals = vertex_normals(verts, faces)
    normals = camera.to(device=device, dtype=verts.dtype).rotate_to_camera(normals)
    if normals.shape[0] != batch:
        normals = normals.expand(batch, -1, -1)
    covered, face, bary = _gather_covered(fragments)
    # Flat index of each corner's vertex in the (B*V) normal list.
    hw = height * width
    image_of = (covered if covered is not None else torch.arange(batch * hw, device=device)) // hw
    corner_vertices = faces.index_select(0, face) + (image_of * normals.shape[1]).unsqueeze(1)
    corners = normals.reshape(-1, 3).index_select(0, corner_vertices.reshape(-1)).view(-1, 3, 3)
    # Background pixels of the dense path blend with barycentrics 0: a zero vector, which normalize keeps 0.
    n = torch.nn.functional.normalize((bary.unsqueeze(-1) * corners).sum(dim=1), dim=-1, eps=1e-12)
    if covered is None:
        return n.view(batch, hw, 3).transpose(1, 2).contiguous().view(batch, 3, height, width)
    # Written straight into the channel-first layout, which saves a transposing copy.
    image = torch.zeros((batch, 3, hw), dtype=n.dtype, device=device)
    image[image_of, :, covered - image_of * hw] = n
    return image.view(batch, 3, height, width)
