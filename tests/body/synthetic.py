"""Synthetic bodies for tests: an SMPL-format model (random but sane) and a box humanoid with UVs.

Nothing here is SMPL's data: the arrays are generated, so the repository never holds SMPL.
"""

from __future__ import annotations

import contextlib
import io
import pickle
import struct
import sys
import types
from pathlib import Path

import numpy as np

from anr_studio.body import BodyModel
from anr_studio.body.skeleton import SMPL_PARENTS

# Roughly SMPL's neutral rest joints (metres, y up, x = the body's left, z = forward).
REST_JOINTS = np.array(
    [
        [0.0, 0.93, 0.0], [0.06, 0.84, 0.0], [-0.06, 0.84, 0.0], [0.0, 1.04, 0.0],
        [0.1, 0.46, 0.0], [-0.1, 0.46, 0.0], [0.0, 1.17, 0.0], [0.09, 0.06, -0.04],
        [-0.09, 0.06, -0.04], [0.0, 1.22, 0.0], [0.12, 0.01, 0.1], [-0.12, 0.01, 0.1],
        [0.0, 1.44, 0.0], [0.08, 1.35, 0.0], [-0.08, 1.35, 0.0], [0.0, 1.52, 0.04],
        [0.18, 1.39, 0.0], [-0.18, 1.39, 0.0], [0.44, 1.39, 0.0], [-0.44, 1.39, 0.0],
        [0.7, 1.39, 0.0], [-0.7, 1.39, 0.0], [0.78, 1.39, 0.0], [-0.78, 1.39, 0.0],
    ],
    dtype=np.float64,
)


def smpl_arrays(num_vertices: int = 200, num_betas: int = 10, seed: int = 0) -> dict[str, np.ndarray]:
    """Returns SMPL-format arrays (SMPL's field names and layouts) for a random but sane body."""
    rng = np.random.default_rng(seed)
    owner = rng.integers(0, 24, num_vertices)
    v_template = REST_JOINTS[owner] + rng.normal(scale=0.04, size=(num_vertices, 3))
    # Sparse-ish skinning: each vertex mostly follows its joint, a little its parent and a random one.
    weights = np.zeros((num_vertices, 24))
    weights[np.arange(num_vertices), owner] = rng.uniform(0.5, 1.0, num_vertices)
    parent = np.maximum(np.asarray(SMPL_PARENTS)[owner], 0)
    weights[np.arange(num_vertices), parent] += rng.uniform(0.0, 0.4, num_vertices)
    weights[np.arange(num_vertices), rng.integers(0, 24, num_vertices)] += rng.uniform(0.0, 0.1, num_vertices)
    weights /= weights.sum(1, keepdims=True)
    # Each joint regressed from the vertices that belong to it (or 3 random ones if none do).
    J_regressor = np.zeros((24, num_vertices))
    for j in range(24):
        idx = np.flatnonzero(owner == j)
        if len(idx) == 0:
            idx = rng.choice(num_vertices, 3, replace=False)
        J_regressor[j, idx] = rng.uniform(0.5, 1.0, len(idx))
    J_regressor /= J_regressor.sum(1, keepdims=True)
    kintree = np.array([SMPL_PARENTS, list(range(24))], dtype=np.int64)
    kintree[0, 0] = 4294967295  # SMPL's uint32 -1 for the root
    return {
        "v_template": v_template,
        "f": rng.integers(0, num_vertices, (2 * num_vertices, 3)).astype(np.uint32),
        "shapedirs": rng.normal(scale=0.01, size=(num_vertices, 3, num_betas)),
        "posedirs": rng.normal(scale=0.005, size=(num_vertices, 3, 207)),
        "J_regressor": J_regressor,
        "weights": weights,
        "kintree_table": kintree,
    }


def save_npz(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    """Writes ``arrays`` as an SMPL-format .npz; returns the path."""
    np.savez(path, **arrays)
    return path


@contextlib.contextmanager
def fake_chumpy():
    """Yields a stand-in ``chumpy.ch.Ch`` class, importable while the context is open."""
    pkg, mod = types.ModuleType("chumpy"), types.ModuleType("chumpy.ch")

    class Ch:
        def __init__(self, x):
            self.x = np.asarray(x)
            self._dirty_vars = {"x"}
            self._itr = None
            self._depends_on_deps = {}

        def __getstate__(self):  # chumpy drops its weakref caches the same way
            return dict(self.__dict__)

    Ch.__module__, Ch.__qualname__ = "chumpy.ch", "Ch"
    mod.Ch, pkg.ch, pkg.Ch = Ch, mod, Ch
    saved = {k: sys.modules.get(k) for k in ("chumpy", "chumpy.ch")}
    sys.modules.update({"chumpy": pkg, "chumpy.ch": mod})
    try:
        yield Ch
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v


class _Python2Pickler(pickle._Pickler):
    """Writes bytes the way Python 2 wrote str (SHORT_BINSTRING/BINSTRING), as SMPL's own files hold them."""

    dispatch = dict(pickle._Pickler.dispatch)

    def _save_py2_str(self, obj: bytes) -> None:
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)
        self.memoize(obj)

    dispatch[bytes] = _save_py2_str


def save_pkl(path: Path, arrays: dict[str, np.ndarray], protocol: int = 2, python2: bool = False) -> Path:
    """Writes ``arrays`` as SMPL's .pkl does: chumpy shapedirs/posedirs, a scipy csc J_regressor.

    ``python2``: imitate a Python 2 pickle (str opcodes for raw array data, numpy.core and
    scipy.sparse.csc module paths), like the files SMPL distributes.
    """
    import scipy.sparse

    with fake_chumpy() as Ch:
        data = dict(arrays)
        data["shapedirs"] = Ch(arrays["shapedirs"])
        data["posedirs"] = Ch(arrays["posedirs"])
        data["J_regressor"] = scipy.sparse.csc_matrix(arrays["J_regressor"])
        data["bs_style"], data["bs_type"] = "lbs", "lrotmin"
        data["J"] = arrays["J_regressor"] @ arrays["v_template"]
        if python2:
            buf = io.BytesIO()
            _Python2Pickler(buf, protocol=2).dump(data)
            # GLOBAL opcodes are newline-terminated text, so renaming modules keeps the stream valid.
            raw = buf.getvalue().replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")
            raw = raw.replace(b"scipy.sparse._csc\n", b"scipy.sparse.csc\n")
            assert b"_codecs" not in raw and b"scipy.sparse.csc\n" in raw
            path.write_bytes(raw)
        else:
            path.write_bytes(pickle.dumps(data, protocol=protocol))
    return path


def box_body(with_phenotype: bool = False) -> BodyModel:
    """Returns a humanoid of boxes, one per bone, each skinned rigidly to its joint, with UVs.

    A box spans from its joint to the joint's first child (leaves extend 8 cm outwards); UVs
    place box j in cell j of a 5x5 atlas.
    """
    children = {j: [c for c, p in enumerate(SMPL_PARENTS) if p == j] for j in range(24)}
    leaf_dir = {10: (0, 0, 1), 11: (0, 0, 1), 15: (0, 1, 0), 22: (1, 0, 0), 23: (-1, 0, 0)}
    verts, faces, uvs, weights, parts = [], [], [], [], []
    # Corners of a unit box: (along the bone 0/1, around index 0..3).
    quads = [(0, 1, 2, 3), (4, 7, 6, 5), (0, 4, 5, 1), (1, 5, 6, 2), (2, 6, 7, 3), (3, 7, 4, 0)]
    from anr_studio.body.skeleton import joint_part_indices

    for j in range(24):
        start = REST_JOINTS[j]
        if children[j] and j not in (0, 9):  # pelvis and spine3 fan out: use a vertical box
            end = REST_JOINTS[children[j][0]]
        elif j in (0, 9):
            end = start + np.array([0.0, 0.12, 0.0])
        else:
            end = start + 0.08 * np.asarray(leaf_dir[j], dtype=np.float64)
        axis = end - start
        axis /= np.linalg.norm(axis)
        side = np.cross(axis, [0.0, 0.0, 1.0] if abs(axis[2]) < 0.9 else [1.0, 0.0, 0.0])
        side /= np.linalg.norm(side)
        up = np.cross(side, axis)
        r = 0.05
        ring = [r * (side + up), r * (side - up), r * (-side - up), r * (-side + up)]
        base = len(verts)
        for k, end_pt in enumerate((start, end)):
            for i, offset in enumerate(ring):
                verts.append(end_pt + offset)
                cell = np.array([j % 5, j // 5]) / 5.0
                uvs.append(cell + np.array([0.02 + 0.16 * k, 0.02 + 0.16 * i / 3]))
                w = np.zeros(24)
                w[j] = 1.0
                weights.append(w)
        for a, b, c, d in quads:
            faces += [(base + a, base + c, base + b), (base + a, base + d, base + c)]  # outward (CCW)
            parts += [joint_part_indices()[j]] * 2
    verts_np = np.asarray(verts)
    J_regressor = np.zeros((24, len(verts)))
    for j in range(24):  # the joint is the mean of its box's start ring
        J_regressor[j, 8 * j : 8 * j + 4] = 0.25
    rng = np.random.default_rng(1)
    shapedirs = rng.normal(scale=0.01, size=(len(verts), 3, 10))
    from anr_studio.body.skeleton import BODY_PART_NAMES

    kwargs = {}
    if with_phenotype:
        kwargs = dict(
            phenotype={"names": ["age", "weight"], "ranges": [[0.0, 1.0], [0.0, 1.0]], "defaults": [0.5, 0.5], "degree": 2},
            phenotype_regressor=rng.normal(size=(10, 6)),
        )
    return BodyModel(
        v_template=verts_np, faces=np.asarray(faces), lbs_weights=np.asarray(weights), J_regressor=J_regressor,
        shapedirs=shapedirs, uv=np.asarray(uvs), face_parts=np.asarray(parts), part_names=list(BODY_PART_NAMES),
        model_id="box", source="box body", **kwargs,
    )
