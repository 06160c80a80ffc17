"""Renders the true person: rasterize (anr_studio.render), paint the albedo, Lambert-shade, antialias."""

from __future__ import annotations

import cv2
import numpy as np
import torch

from anr_studio.capture.synth.appearance import albedo
from anr_studio.capture.synth.person import TruePerson
from anr_studio.render import PerspectiveCamera, rasterize
from anr_studio.render.interpolate import vertex_normals

# A fixed world light (up, front, to the person's left), so shading changes as the body turns.
LIGHT = np.float32([0.35, 0.75, 0.55]) / np.linalg.norm([0.35, 0.75, 0.55])
AMBIENT = 0.34
DIFFUSE = 0.72
# A weak fill from behind, so a back view is not a flat silhouette.
FILL_LIGHT = np.float32([-0.3, 0.4, -0.85]) / np.linalg.norm([-0.3, 0.4, -0.85])
FILL = 0.25


def front_faces(vertices: torch.Tensor, faces: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """Returns the indices (F',) of faces that face at least one camera (``vertices`` (B,V,3), ``centres`` (B,3));
    the true person is closed and wound outward, so culling the others changes no pixel."""
    tri = vertices[:, faces]  # (B, F, 3, 3)
    normal = torch.cross(tri[:, :, 1] - tri[:, :, 0], tri[:, :, 2] - tri[:, :, 0], dim=-1)
    towards = ((centres[:, None] - tri[:, :, 0]) * normal).sum(-1) > 0  # (B, F)
    return torch.nonzero(towards.any(0)).squeeze(1)


def render_people(person: TruePerson, vertices: torch.Tensor, camera: PerspectiveCamera, image_size: tuple[int, int],
                  supersample: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Returns (colour (B,H,W,3) float32 premultiplied by alpha, alpha (B,H,W) float32 in [0,1]) of the posed
    true person ``vertices`` (B,V,3), rendered at ``supersample`` times ``image_size`` and box filtered."""
    h, w = image_size
    s = int(supersample)
    verts = vertices.float()
    batch = verts.shape[0]
    scale = torch.diag(torch.tensor([float(s), float(s), 1.0]))
    cam = PerspectiveCamera(scale @ camera.K, camera.R, camera.t)
    kept = front_faces(verts, person.faces, camera.centers)
    faces = person.faces[kept]
    face_region = person.face_region[kept.numpy()]
    frags = rasterize(verts, faces, cam, (h * s, w * s), max_pairs=2**22)
    normals = vertex_normals(verts, person.faces)
    face_ids = frags.face_id.reshape(batch, -1)
    barys = frags.bary.reshape(batch, -1, 3)
    colours = np.zeros((batch, h, w, 3), np.float32)
    alphas = np.zeros((batch, h, w), np.float32)
    for b in range(batch):
        pix = torch.nonzero(face_ids[b] >= 0).squeeze(1)
        fid = face_ids[b].index_select(0, pix)
        bary = barys[b].index_select(0, pix)  # (P, 3)
        # One gather for every per-vertex attribute: posed normal, rest position, rest normal.
        attrs = torch.cat([normals[b], person.rest, person.rest_normals], 1)  # (V, 9)
        values = torch.einsum("pk,pkc->pc", bary, attrs[faces.index_select(0, fid)]).numpy()  # (P, 9)
        n = values[:, 0:3] / np.maximum(np.linalg.norm(values[:, 0:3], axis=1, keepdims=True), 1e-8)
        region = face_region[fid.numpy()]
        colour = albedo(person.identity, person.landmarks, region, values[:, 3:6], values[:, 6:9])
        shade = AMBIENT + DIFFUSE * np.clip(n @ LIGHT, 0.0, None) + FILL * np.clip(n @ FILL_LIGHT, 0.0, None)
        rgba = np.zeros((h * s * w * s, 4), np.float32)
        rgba[pix.numpy()] = np.concatenate([colour * shade[:, None], np.ones((len(shade), 1), np.float32)], 1)
        rgba = rgba.reshape(h * s, w * s, 4)
        if s > 1:
            rgba = cv2.resize(rgba, (w, h), interpolation=cv2.INTER_AREA)
        colours[b], alphas[b] = np.clip(rgba[..., :3], 0.0, 1.0), np.clip(rgba[..., 3], 0.0, 1.0)
    return colours, alphas


def composite(colour: np.ndarray, alpha: np.ndarray, background: np.ndarray, rng: np.random.Generator | None = None,
              sensor_noise: float = 1.5) -> np.ndarray:
    """Returns the frame (H,W,3) uint8: premultiplied ``colour`` over ``background``, plus Gaussian pixel noise
    of ``sensor_noise`` levels."""
    frame = colour * 255.0 + background.astype(np.float32) * (1.0 - alpha[..., None])
    if rng is not None and sensor_noise > 0:
        frame += rng.normal(0.0, sensor_noise, frame.shape).astype(np.float32)
    return np.clip(frame + 0.5, 0, 255).astype(np.uint8)
