"""Shared meshes for the render tests: small, deterministic, posed so that parts overlap."""

from __future__ import annotations

import types

import numpy as np
import pytest
import torch
import trimesh


def _rotation(axis, degrees):
    return trimesh.transformations.rotation_matrix(np.radians(degrees), axis)


def posed_scene_mesh() -> trimesh.Trimesh:
    """Returns a closed-parts 'posed figure' (~1.3k faces): torso, head, bent limbs that overlap in depth."""
    parts = []

    def add(mesh, transform):
        mesh = mesh.copy()
        mesh.apply_transform(transform)
        parts.append(mesh)

    torso = trimesh.creation.icosphere(subdivisions=2, radius=1.0)
    torso.apply_scale((0.18, 0.3, 0.12))
    add(torso, trimesh.transformations.translation_matrix((0, 1.2, 0)))
    add(trimesh.creation.icosphere(subdivisions=2, radius=0.11), trimesh.transformations.translation_matrix((0, 1.66, 0.02)))
    limb = trimesh.creation.capsule(height=0.3, radius=0.05, count=(10, 10))
    # Arms bent forward across the torso (they occlude it), legs apart and bent at the knee.
    for side in (-1, 1):
        upper = trimesh.transformations.translation_matrix((0.24 * side, 1.35, 0.05)) @ _rotation((1, 0, 0), 20) @ _rotation((0, 1, 0), -60 * side)
        add(limb, upper)
        fore = trimesh.transformations.translation_matrix((0.12 * side, 1.2, 0.22)) @ _rotation((0, 1, 0), 80 * side)
        add(limb, fore)
        thigh = trimesh.transformations.translation_matrix((0.1 * side, 0.72, 0.05)) @ _rotation((1, 0, 0), 80)
        add(limb, thigh)
        shin = trimesh.transformations.translation_matrix((0.1 * side, 0.35, 0.0)) @ _rotation((1, 0, 0), 100)
        add(limb, shin)
    return trimesh.util.concatenate(parts)


def random_face_uvs(num_faces: int, seed: int = 0) -> torch.Tensor:
    """Returns (F,3,2) float32 per-corner UVs in [0, 1], independent per face (a hard interpolation test)."""
    rng = np.random.default_rng(seed)
    return torch.tensor(rng.uniform(0.0, 1.0, size=(num_faces, 3, 2)), dtype=torch.float32)


@pytest.fixture(scope="session")
def scene():
    """Returns a SimpleNamespace(mesh, vertices (1,V,3), faces (F,3) long, face_uvs (F,3,2)) for the posed figure."""
    mesh = posed_scene_mesh()
    return types.SimpleNamespace(
        mesh=mesh,
        vertices=torch.tensor(mesh.vertices, dtype=torch.float32).unsqueeze(0),
        faces=torch.tensor(mesh.faces, dtype=torch.long),
        face_uvs=random_face_uvs(len(mesh.faces)),
    )


@pytest.fixture(scope="session")
def sphere():
    """Returns a SimpleNamespace(mesh, vertices (1,V,3), faces) of a radius-0.4 icosphere centred at (0, 0.9, 0)."""
    mesh = trimesh.creation.icosphere(subdivisions=3, radius=0.4)
    mesh.apply_translation((0.0, 0.9, 0.0))
    return types.SimpleNamespace(
        mesh=mesh,
        vertices=torch.tensor(mesh.vertices, dtype=torch.float32).unsqueeze(0),
        faces=torch.tensor(mesh.faces, dtype=torch.long),
        center=torch.tensor([0.0, 0.9, 0.0]),
        radius=0.4,
    )
