"""Exports: the posed coarse mesh (OBJ/GLB with UVs, via trimesh) and pictures of a neural texture
(its first three channels and a PCA false-colour view)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from anr_studio.errors import AnrError
from anr_studio.fileio import atomic_write_bytes, atomic_write_text
from anr_studio.model.images import to_pixels

MESH_SUFFIXES = (".obj", ".glb")


def pca_false_colour(features: torch.Tensor) -> np.ndarray:
    """Returns (N,3) float64 in [0,1]: ``features`` (N,C) on their three principal directions, each stretched to
    its 1st..99th percentile (0 where C < 3)."""
    feats = features.detach().double().cpu()
    feats = feats - feats.mean(0, keepdim=True)
    k = min(3, feats.shape[1])
    _, _, v = torch.linalg.svd(feats, full_matrices=False)
    proj = (feats @ v[:k].T).numpy()
    if k < 3:
        proj = np.concatenate([proj, np.zeros((proj.shape[0], 3 - k))], 1)
    lo, hi = np.percentile(proj, 1, axis=0), np.percentile(proj, 99, axis=0)
    return np.clip((proj - lo) / np.maximum(hi - lo, 1e-12), 0, 1)


def texture_images(texture: torch.Tensor) -> dict[str, np.ndarray]:
    """Returns {"rgb": channels 0-2 mapped [-1,1] -> [0,255], "pca": PCA false colour}, each (S,S,3) uint8, of a (C,S,S) texture."""
    tex = texture.detach().float().cpu().reshape(-1, *texture.shape[-2:])
    c, s, _ = tex.shape
    first = tex[:3] if c >= 3 else torch.cat([tex, tex[-1:].expand(3 - c, s, s)])
    rgb = to_pixels(first).numpy()
    pca = (pca_false_colour(tex.reshape(c, -1).T) * 255).round().astype(np.uint8).reshape(s, s, 3)
    return {"rgb": rgb, "pca": pca}


def textured_mesh(body, vertices: np.ndarray, image: np.ndarray | None = None):
    """Returns a trimesh.Trimesh of ``vertices`` (V,3) with ``body``'s faces and UVs (split at seams), textured with ``image``."""
    import trimesh
    from PIL import Image

    faces = body.faces.detach().cpu().numpy()
    if not body.has_uvs:
        return trimesh.Trimesh(vertices, faces, process=False)
    uv = body.uv.detach().cpu().numpy().astype(np.float64)
    uv_faces = body.uv_faces.detach().cpu().numpy()
    # One output vertex per distinct (position, UV) corner: OBJ/GLB store one UV per vertex.
    pairs = np.stack([faces.reshape(-1), uv_faces.reshape(-1)], 1)
    unique, inverse = np.unique(pairs, axis=0, return_inverse=True)
    new_faces = inverse.reshape(-1, 3)
    visual = trimesh.visual.TextureVisuals(uv=uv[unique[:, 1]], image=None if image is None else Image.fromarray(image))
    return trimesh.Trimesh(vertices[unique[:, 0]], new_faces, visual=visual, process=False)


def mesh_files(path: str | os.PathLike, texture: bool = True) -> list[Path]:
    """Returns the files `export_mesh` writes: ``path``, and beside a textured .obj its NAME.mtl and NAME_texture.png
    (named after the mesh: meshes exported into one folder keep their own)."""
    path = Path(path)
    if path.suffix.lower() != ".obj" or not texture:
        return [path]
    return [path, path.with_suffix(".mtl"), path.with_name(f"{path.stem}_texture.png")]


def export_mesh(avatar, path: str | os.PathLike, pose: Any = None, identity: str | None = None,
                texture: bool = True) -> list[Path]:
    """Writes the posed coarse mesh to ``path`` (.obj or .glb) and the files `mesh_files` names; returns them."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in MESH_SUFFIXES:
        raise AnrError(f"--mesh {path}: unsupported mesh type {suffix!r}, expected .obj or .glb")
    image = texture_images(avatar.texture(identity))["rgb"] if (texture and identity is not None) else None
    mesh = textured_mesh(avatar.body, avatar.posed_vertices(pose, identity).astype(np.float64), image)
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".glb":
        atomic_write_bytes(path, mesh.export(file_type="glb"))
        return [path]
    from trimesh.exchange.obj import export_obj

    text, files = export_obj(mesh, include_texture=image is not None, return_texture=True, mtl_name=f"{path.stem}.mtl")
    files = dict(files or {})
    mtl = files.pop(f"{path.stem}.mtl", None)
    written = mesh_files(path, image is not None)
    for name, blob in files.items():  # the texture image
        mtl = mtl.replace(name.encode(), written[2].name.encode())
        atomic_write_bytes(written[2], blob)
    if mtl is not None:
        atomic_write_bytes(written[1], mtl)
    atomic_write_text(path, text)
    return written
