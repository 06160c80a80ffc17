"""Loading SMPL-format model files (.npz, .pkl) and OBJ UV layouts; the .pkl reader builds only numpy arrays and
stand-ins for scipy sparse and chumpy arrays, and refuses every other global."""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from anr_studio.body.skeleton import BODY_PART_NAMES, NUM_JOINTS, SMPL_PARENTS, joint_part_indices
from anr_studio.errors import AnrError, expect_shape
from anr_studio.fileio import file_sha256
from anr_studio.restricted_pickle import RefusedGlobal, RestrictedUnpickler
from anr_studio.safe_npz import NpzArchive

SMPL_FIELDS = ("v_template", "f", "shapedirs", "J_regressor", "weights", "kintree_table", "posedirs")
"""The arrays of an SMPL-format model that the body reads."""


class ChumpyArray:
    """Stands in for ``chumpy.ch.Ch``: keeps the pickled state; ``x`` is the array."""

    def __setstate__(self, state: Any) -> None:
        self.__dict__.update(state if isinstance(state, dict) else {"x": state})


class SparseMatrix:
    """Stands in for scipy.sparse csc/csr/coo matrices: keeps the pickled state, densifies on demand."""

    format = ""

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, dict):
            raise pickle.UnpicklingError("sparse matrix state is not a dict")
        self.__dict__.update(state)

    def toarray(self) -> np.ndarray:
        """Returns the dense matrix (rows, cols) as float64."""
        d = self.__dict__
        shape = tuple(int(s) for s in d.get("_shape", d.get("shape", ())))
        if len(shape) != 2:
            raise ValueError("sparse matrix has no 2-D shape")
        data = np.asarray(d["data"], dtype=np.float64)
        out = np.zeros(shape, dtype=np.float64)
        if self.format in ("csc", "csr"):
            indices, indptr = np.asarray(d["indices"], np.int64), np.asarray(d["indptr"], np.int64)
            major = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
            rows, cols = (indices, major) if self.format == "csc" else (major, indices)
        else:  # coo: scipy >= 1.13 stores coords, older versions row and col
            rows, cols = d["coords"] if "coords" in d else (d["row"], d["col"])
        np.add.at(out, (np.asarray(rows, np.int64), np.asarray(cols, np.int64)), data)
        return out


def _safe_reconstructor(cls: type, base: type, state: Any) -> Any:
    # copyreg._reconstructor (protocols 0 and 1) may call base.__new__ on anything; only our
    # stand-ins are allowed here.
    if base is object and isinstance(cls, type) and issubclass(cls, (ChumpyArray, SparseMatrix)):
        return object.__new__(cls)
    raise RefusedGlobal(f"copyreg._reconstructor of {cls!r} is not allowed")


_ALLOWED: dict[tuple[str, str], Any] = {
    **{("scipy.sparse", f"{fmt}_{kind}"): type(f"{fmt}_matrix", (SparseMatrix,), {"format": fmt})
       for fmt in ("csc", "csr", "coo") for kind in ("matrix", "array")},
    ("copyreg", "_reconstructor"): _safe_reconstructor,
    ("builtins", "object"): object,
    ("chumpy.ch", "Ch"): ChumpyArray,
    ("chumpy", "Ch"): ChumpyArray,
}


def read_pickle(path: Path) -> dict[str, Any]:
    """Returns the dict stored in an SMPL .pkl (numpy arrays, scipy sparse matrices and chumpy arrays only)."""
    try:
        with open(path, "rb") as f:
            data = RestrictedUnpickler(f, _ALLOWED).load()
    except RefusedGlobal as exc:
        raise AnrError(f"{path}: not a loadable SMPL pickle ({exc}); expected only numpy arrays, scipy sparse matrices and chumpy arrays") from None
    except Exception as exc:  # a damaged stream can fail inside any allowed constructor
        raise AnrError(f"{path}: damaged or truncated SMPL pickle ({type(exc).__name__}: {exc})") from None
    if not isinstance(data, dict):
        raise AnrError(f"{path}: the pickle holds a {type(data).__name__}, expected a dict of SMPL arrays")
    return data


def _array(fields: Any, key: str, path: Path, shape: tuple | None = None, required: bool = True) -> np.ndarray | None:
    """Returns the numeric array ``fields[key]`` (checked against ``shape`` as `expect_shape` reads it)."""
    if key not in fields:
        if required:
            raise AnrError(f"{path}: field {key} is missing, expected it in an SMPL-format model")
        return None
    value = fields[key]
    if isinstance(value, ChumpyArray):
        value = value.__dict__.get("x")
    try:
        if isinstance(value, SparseMatrix):
            value = value.toarray()
        arr = np.asarray(value)
    except (KeyError, ValueError, TypeError, IndexError) as exc:
        raise AnrError(f"{path}: field {key} is not a readable array ({exc})") from None
    if arr.dtype.kind not in "biuf":
        raise AnrError(f"{path}: field {key} has dtype {arr.dtype}, expected a numeric array")
    if shape is not None:
        expect_shape(arr, shape, f"field {key}", str(path))
    return arr


def load_smpl(path: str | os.PathLike, uv_obj: str | os.PathLike | None = None) -> Any:
    """Returns a BodyModel from an SMPL-format .npz or .pkl; UVs from ``uv_obj`` when given."""
    from anr_studio.body.model import BodyModel

    path = Path(path)
    if not path.is_file():
        raise AnrError(f"{path}: file not found, expected an SMPL model (.npz, .pkl)")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        with NpzArchive(path, "the arrays of an SMPL-format model") as npz:
            fields: Any = {key: npz.array(key) for key in SMPL_FIELDS if key in npz}
    elif suffix == ".pkl":
        fields = read_pickle(path)
    else:
        raise AnrError(f"{path}: unknown SMPL model format {suffix!r}, expected .npz or .pkl")

    v_template = _array(fields, "v_template", path, ("V", 3))
    nv = v_template.shape[0]
    faces = _array(fields, "f", path, ("F", 3)).astype(np.int64)
    if faces.size and (faces.min() < 0 or faces.max() >= nv):
        raise AnrError(f"{path}: field f (faces) index vertices {faces.min()}..{faces.max()}, expected 0..{nv - 1}")
    shapedirs = _array(fields, "shapedirs", path, (nv, 3, "K"))
    J_regressor = _array(fields, "J_regressor", path, (NUM_JOINTS, nv))
    weights = _array(fields, "weights", path, (nv, NUM_JOINTS))
    kintree = _array(fields, "kintree_table", path, (2, NUM_JOINTS))
    parents = kintree[0].astype(np.int64)
    parents[0] = -1  # SMPL stores the root's parent as uint32 -1 (4294967295)
    if tuple(parents.tolist()) != SMPL_PARENTS:
        raise AnrError(f"{path}: kintree_table has parents {parents.tolist()}, expected SMPL's 24-joint tree {list(SMPL_PARENTS)}")
    posedirs = _array(fields, "posedirs", path, required=False)
    num_pose = (NUM_JOINTS - 1) * 9
    if posedirs is not None and posedirs.shape != (num_pose, nv * 3):
        expect_shape(posedirs, (nv, 3, num_pose), "field posedirs", str(path))
        posedirs = posedirs.reshape(nv * 3, num_pose).T  # smplx's layout: (207, V*3)
    uv, uv_faces = read_obj_uvs(uv_obj, faces, nv) if uv_obj is not None else (None, None)
    # A face belongs to the part of the joint that dominates its three vertices' skinning.
    face_parts = np.asarray(joint_part_indices(), dtype=np.int64)[weights[faces].sum(axis=1).argmax(axis=1)]
    return BodyModel(v_template=v_template, faces=faces, lbs_weights=weights, J_regressor=J_regressor,
                     shapedirs=shapedirs, posedirs=posedirs, uv=uv, uv_faces=uv_faces, face_parts=face_parts,
                     part_names=list(BODY_PART_NAMES), parents=parents, model_id=file_sha256(path),
                     provenance={"source": "smpl", "file": path.name, "uv_obj": Path(uv_obj).name if uv_obj else None},
                     source=str(path))


def read_obj_uvs(obj_path: str | os.PathLike, faces: np.ndarray, num_vertices: int) -> tuple[np.ndarray, np.ndarray]:
    """Returns (uv (U,2), uv_faces (F,3)) for the model's ``faces`` (F,3) from an OBJ's ``vt`` and ``f v/vt``
    (each face matched to the OBJ face of the same three vertices; polygons are fan-triangulated)."""
    obj_path = Path(obj_path)
    try:
        lines = obj_path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        raise AnrError(f"{obj_path}: cannot read the UV OBJ ({exc.strerror})") from None
    uvs: list[tuple[float, float]] = []
    corners: dict[tuple[int, ...], tuple[tuple[int, ...], tuple[int, ...]]] = {}
    n_v = 0
    for lineno, line in enumerate(lines, 1):
        parts = line.split()
        if not parts:
            continue
        try:
            if parts[0] == "v":
                n_v += 1
            elif parts[0] == "vt":
                uvs.append((float(parts[1]), float(parts[2])))
            elif parts[0] == "f":
                vs, vts = [], []
                for tok in parts[1:]:
                    idx = tok.split("/")
                    if len(idx) < 2 or not idx[1]:
                        raise AnrError(f"{obj_path}: line {lineno}: face corner {tok!r} has no vt index, expected v/vt")
                    v, vt = int(idx[0]), int(idx[1])
                    vs.append(v - 1 if v > 0 else n_v + v)
                    vts.append(vt - 1 if vt > 0 else len(uvs) + vt)
                for k in range(1, len(vs) - 1):
                    tri_v, tri_vt = (vs[0], vs[k], vs[k + 1]), (vts[0], vts[k], vts[k + 1])
                    corners[tuple(sorted(tri_v))] = (tri_v, tri_vt)
        except (ValueError, IndexError):
            raise AnrError(f"{obj_path}: line {lineno} is not valid OBJ ({line.strip()[:60]!r})") from None
    if n_v != num_vertices:
        raise AnrError(f"{obj_path}: the OBJ has {n_v} vertices, expected {num_vertices} (the model's)")
    if not uvs:
        raise AnrError(f"{obj_path}: the OBJ has no vt lines, expected texture coordinates")
    uv_faces = np.empty_like(faces)
    for i, face in enumerate(faces.tolist()):
        match = corners.get(tuple(sorted(face)))
        if match is None:
            raise AnrError(f"{obj_path}: model face {i} {tuple(face)} is not in the OBJ, expected the model's faces with UVs")
        tri_v, tri_vt = match
        uv_faces[i] = [tri_vt[tri_v.index(v)] for v in face]
    uv = np.asarray(uvs, dtype=np.float32)
    if uv_faces.min() < 0 or uv_faces.max() >= len(uv):
        raise AnrError(f"{obj_path}: faces index vt {uv_faces.min() + 1}..{uv_faces.max() + 1}, expected 1..{len(uv)}")
    return uv, uv_faces
