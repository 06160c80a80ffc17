"""BodyModel: a skinned body mesh with SMPL's 24-joint skeleton, shape blendshapes and UVs, posed
by linear blend skinning in torch; stored as safetensors with JSON metadata (nothing is unpickled).
`load_body` returns the one a capture, an avatar or a command asks for: the built-in body or a file."""

from __future__ import annotations

import itertools
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from anr_studio.body.lbs import axis_angle_to_matrix, kinematic_chain, linear_blend_skinning
from anr_studio.body.skeleton import NUM_JOINTS, SMPL_JOINT_NAMES, SMPL_PARENTS
from anr_studio.errors import AnrError, device_checks_enabled, expect_finite, expect_shape
from anr_studio.fileio import atomic_path, read_safetensors, shipped_path

DEFAULT_BODY_PATH = shipped_path("resources", "body", "anr_body.safetensors")
METADATA_KEY = "anr_body"
_REQUIRED = ("v_template", "faces", "shapedirs", "J_regressor", "lbs_weights")
_default_cache: dict[str, "BodyModel"] = {}


@dataclass
class BodyOutput:
    """A posed body: ``vertices`` (B,V,3) and ``joints`` (B,24,3) in metres (world, y up)."""

    vertices: torch.Tensor
    joints: torch.Tensor


def phenotype_features(values: torch.Tensor, degree: int) -> torch.Tensor:
    """Returns the monomials (..., D), D = C(P+degree, degree), of ``values`` (..., P) up to ``degree``: 1, then each
    degree in ``combinations_with_replacement`` order (what ``phenotype_regressor`` (K, D) was fitted on)."""
    terms = [torch.ones_like(values[..., :1])]
    for d in range(1, degree + 1):
        for combo in itertools.combinations_with_replacement(range(values.shape[-1]), d):
            terms.append(torch.prod(values[..., list(combo)], dim=-1, keepdim=True))
    return torch.cat(terms, dim=-1)


def _as_tensor(value: Any, dtype: torch.dtype, field: str, source: str) -> torch.Tensor:
    try:
        return torch.as_tensor(np.asarray(value) if not isinstance(value, torch.Tensor) else value, dtype=dtype)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise AnrError(f"{source}: {field} is not a numeric array ({exc})") from None


class BodyModel(torch.nn.Module):
    """A coarse skinned body: ``out = body(pose (B,24,3), betas (B,K), transl (B,3))``.

    Buffers: ``v_template`` (V,3), ``faces`` (F,3) long, ``uv`` (U,2) in [0,1] (v up),
    ``uv_faces`` (F,3) long, ``face_uvs`` (F,3,2), ``shapedirs`` (V,3,K), ``posedirs``
    (P, V*3) or None (SMPL's pose correctives, P = 23*9), ``J_regressor`` (24,V),
    ``lbs_weights`` (V,24), ``parents`` (24,) long, ``face_parts`` (F,) long. A model without
    UVs (an SMPL file loaded without an OBJ) has ``has_uvs == False``, ``uv`` (0,2), and no ``face_uvs``."""

    def __init__(self, v_template: Any, faces: Any, lbs_weights: Any, J_regressor: Any, shapedirs: Any = None,
                 posedirs: Any = None, uv: Any = None, uv_faces: Any = None, face_parts: Any = None,
                 part_names: Sequence[str] | None = None, parents: Any = None, model_id: str = "custom",
                 phenotype: Mapping[str, Any] | None = None, phenotype_regressor: Any = None,
                 provenance: Mapping[str, Any] | None = None, source: str = "body model") -> None:
        super().__init__()
        self.source = source
        f32, i64 = torch.float32, torch.long

        def checked(value: Any, dtype: torch.dtype, field: str, shape: tuple) -> torch.Tensor:
            t = _as_tensor(value, dtype, field, source)
            expect_shape(t, shape, field, source)
            if t.is_floating_point():
                expect_finite(t, field, source)
            return t

        def in_range(index: torch.Tensor, count: int, field: str, what: str) -> None:
            if index.numel() and (int(index.min()) < 0 or int(index.max()) >= count):
                raise AnrError(f"{source}: {field} index {what} {int(index.min())}..{int(index.max())}, expected 0..{count - 1}")

        v_template = checked(v_template, f32, "v_template", ("V", 3))
        faces = checked(faces, i64, "faces", ("F", 3))
        nv, nf = v_template.shape[0], faces.shape[0]
        in_range(faces, nv, "faces", "vertices")
        lbs_weights = checked(lbs_weights, f32, "lbs_weights", (nv, NUM_JOINTS))
        J_regressor = checked(J_regressor, f32, "J_regressor", (NUM_JOINTS, nv))
        shapedirs = checked(torch.zeros(nv, 3, 0) if shapedirs is None else shapedirs, f32, "shapedirs", (nv, 3, None))
        if posedirs is not None:
            posedirs = checked(posedirs, f32, "posedirs", ((NUM_JOINTS - 1) * 9, nv * 3))
        parents = _as_tensor(SMPL_PARENTS if parents is None else parents, i64, "parents", source)
        if tuple(parents.tolist()) != SMPL_PARENTS:
            raise AnrError(f"{source}: parents is {parents.tolist()}, expected SMPL's 24-joint tree {list(SMPL_PARENTS)}")
        self.has_uvs = uv is not None
        if self.has_uvs:
            uv = checked(uv, f32, "uv", ("U", 2))
            uv_faces = checked(faces.clone() if uv_faces is None else uv_faces, i64, "uv_faces", (nf, 3))
            in_range(uv_faces, uv.shape[0], "uv_faces", "UVs")
        else:
            uv, uv_faces = torch.zeros(0, 2), torch.zeros(0, 3, dtype=i64)
        if face_parts is None:
            face_parts = torch.zeros(nf, dtype=i64)
            part_names = list(part_names or ["body"])
        face_parts = checked(face_parts, i64, "face_parts", (nf,))
        self.part_names = list(part_names or [])
        in_range(face_parts, len(self.part_names), "face_parts", "part names")
        if phenotype_regressor is not None:
            phenotype_regressor = checked(phenotype_regressor, f32, "phenotype_regressor", (shapedirs.shape[-1], None))
        buffers = dict(v_template=v_template, faces=faces, lbs_weights=lbs_weights, J_regressor=J_regressor,
                       shapedirs=shapedirs, posedirs=posedirs, parents=parents, uv=uv, uv_faces=uv_faces,
                       _face_uvs=uv[uv_faces] if self.has_uvs else None, face_parts=face_parts,
                       phenotype_regressor=phenotype_regressor)
        for name, tensor in buffers.items():
            self.register_buffer(name, tensor)
        self.phenotype = dict(phenotype) if phenotype else None
        self.joint_names = list(SMPL_JOINT_NAMES)
        self.model_id = str(model_id)
        self.provenance = dict(provenance or {})
        self.extra_metadata: dict[str, Any] = {}
        # Tensors of the file this class does not use (e.g. anny_vertex_ids), written back by save.
        self.extra_tensors: dict[str, torch.Tensor] = {}
        self._parents_list = list(SMPL_PARENTS)

    @property
    def num_betas(self) -> int:
        """Returns K, the number of shape parameters."""
        return int(self.shapedirs.shape[-1])

    @property
    def num_vertices(self) -> int:
        """Returns V."""
        return int(self.v_template.shape[0])

    @property
    def face_uvs(self) -> torch.Tensor:
        """Returns the UV of each face corner (F,3,2) (= ``uv[uv_faces]``); AnrError without UVs."""
        if self._face_uvs is None:
            raise AnrError(f"{self.source}: the body model has no UVs, expected a model loaded with a UV layout (from_smpl(..., uv_obj=...))")
        return self._face_uvs

    def _batched(self, value: Any, field: str, tail: tuple[int | str, ...], batch: int | None,
                 pending: list | None = None) -> torch.Tensor:
        ref = self.v_template
        t = _as_tensor(value, ref.dtype, field, self.source) if not isinstance(value, torch.Tensor) else value
        expect_shape(t, ("B", *tail) if batch is None else (None, *tail), field, self.source)
        if batch is not None and t.shape[0] not in (1, batch):
            raise AnrError(f"{self.source}: {field} has batch size {t.shape[0]}, expected 1 or {batch} (the pose batch)")
        if pending is None or t.device.type == "cpu":
            expect_finite(t, field, self.source)
        else:  # device tensors: checked together in one round trip (`_check_finite`), not one sync each
            pending.append((field, t))
        return t.to(device=ref.device, dtype=ref.dtype)

    def _check_finite(self, pending: list) -> None:
        """Raises AnrError naming the first non-finite (field, tensor) of ``pending`` (one host sync for all;
        skipped inside `anr_studio.errors.inputs_checked_on_host`)."""
        if not pending or not device_checks_enabled():
            return
        flags = torch.stack([torch.isfinite(t).all() for _, t in pending]).tolist()
        for (field, _), ok in zip(pending, flags):
            if not ok:
                raise AnrError(f"{self.source}: {field} contains NaN or Inf values, expected finite numbers")

    def forward(self, pose: Any, betas: Any = None, transl: Any = None) -> BodyOutput:
        """Returns the posed body, vertices (B,V,3) and joints (B,24,3), float32 even under autocast, of ``pose``
        (B,24,3) or (B,72) axis-angle, ``betas`` (B or 1,K'), K' <= num_betas (the rest zero), ``transl`` (B or 1,3)."""
        # Geometry stays float32 under a caller's bf16 autocast: a bf16 vertex is off by ~4 mm at 1 m.
        with torch.autocast(self.v_template.device.type, enabled=False):
            if hasattr(pose, "shape") and len(pose.shape) == 2 and pose.shape[1] == NUM_JOINTS * 3:
                pose = pose.reshape(pose.shape[0], NUM_JOINTS, 3)
            pending: list = []
            pose = self._batched(pose, "pose", (NUM_JOINTS, 3), None, pending)
            batch = pose.shape[0]
            v_shaped = self._shaped(betas, batch, pending).expand(batch, -1, -1)
            rest_joints = torch.einsum("jv,bvc->bjc", self.J_regressor, v_shaped)
            rot_mats = axis_angle_to_matrix(pose)  # (B, 24, 3, 3)
            if self.posedirs is not None:
                eye = torch.eye(3, dtype=pose.dtype, device=pose.device)
                pose_feature = (rot_mats[:, 1:] - eye).reshape(batch, -1)
                v_shaped = v_shaped + (pose_feature @ self.posedirs).reshape(batch, -1, 3)
            joints, rot, trans = kinematic_chain(rot_mats, rest_joints, self._parents_list)
            vertices = linear_blend_skinning(v_shaped, self.lbs_weights, rot, trans)
            if transl is not None:
                transl = self._batched(transl, "transl", (3,), batch, pending)[:, None]
                vertices, joints = vertices + transl, joints + transl
            self._check_finite(pending)
            return BodyOutput(vertices=vertices, joints=joints)

    def _shaped(self, betas: Any, batch: int | None = None, pending: list | None = None) -> torch.Tensor:
        """Returns the rest vertices (B,V,3) for ``betas`` (B,K') (B = 1 without betas)."""
        if betas is None:
            return self.v_template[None]
        betas = self._batched(betas, "betas", ("K",), batch, pending)
        k = betas.shape[1]
        if k > self.num_betas:
            raise AnrError(f"{self.source}: betas has {k} values, expected at most num_betas = {self.num_betas}")
        return self.v_template + torch.einsum("bk,vck->bvc", betas, self.shapedirs[..., :k])

    def rest_joints(self, betas: Any = None) -> torch.Tensor:
        """Returns the rest-pose joint positions (B,24,3) for ``betas`` (B,K') (B = 1 if None)."""
        return torch.einsum("jv,bvc->bjc", self.J_regressor, self._shaped(betas))

    def phenotype_to_betas(self, values: Mapping[str, float]) -> torch.Tensor:
        """Returns betas (K,) for phenotype values such as {"age": 0.5, "weight": 0.7} (default body only);
        names not given take their default (metadata ``phenotype``: names, ranges, defaults, degree)."""
        if self.phenotype is None or self.phenotype_regressor is None:
            raise AnrError(f"{self.source}: phenotype_to_betas needs a body with phenotype data, expected the built-in body (BodyModel.default())")
        names = list(self.phenotype["names"])
        for name in values:
            if name not in names:
                raise AnrError(f"{self.source}: unknown phenotype {name!r}, expected one of {', '.join(names)}")
        vec = []
        for name, default, (lo, hi) in zip(names, self.phenotype_table("defaults"), self.phenotype_table("ranges")):
            v = float(values.get(name, default))
            if not (lo <= v <= hi):
                raise AnrError(f"{self.source}: phenotype {name} is {v}, expected a value in [{lo}, {hi}]")
            vec.append(v)
        feats = phenotype_features(torch.tensor(vec, dtype=self.phenotype_regressor.dtype), int(self.phenotype.get("degree", 2)))
        reg = self.phenotype_regressor
        if reg.shape[1] != feats.shape[0]:
            raise AnrError(f"{self.source}: phenotype_regressor has {reg.shape[1]} columns, expected {feats.shape[0]} features")
        return reg @ feats.to(reg.device)

    def phenotype_table(self, field: str) -> list[Any]:
        """Returns the phenotype metadata ``field`` ("ranges", "defaults") as a list in name order (files
        store lists in name order or dicts by name)."""
        names, table = self.phenotype["names"], self.phenotype[field]
        return [table[n] if isinstance(table, Mapping) else table[i] for i, n in enumerate(names)]

    def metadata(self) -> dict[str, Any]:
        """Returns the JSON metadata stored beside the tensors (keys this class does not use are kept)."""
        return {**self.extra_metadata, "format": "anr-body", "version": 1, "model_id": self.model_id,
                "joint_names": self.joint_names, "part_names": self.part_names, "has_uvs": self.has_uvs,
                "phenotype": self.phenotype, "provenance": self.provenance}

    def save(self, path: str | os.PathLike) -> None:
        """Writes the model to ``path`` (safetensors; JSON metadata under ``__metadata__["anr_body"]``)."""
        from safetensors.torch import save_file

        names = ["v_template", "faces", "lbs_weights", "J_regressor", "shapedirs", "parents", "face_parts"]
        names += [n for n in ("posedirs", "phenotype_regressor") if getattr(self, n) is not None]
        names += ["uv", "uv_faces", "face_uvs"] if self.has_uvs else []
        # clone: safetensors refuses tensors that share memory (e.g. uv_faces made from faces)
        tensors = {n: getattr(self, n).detach().cpu().clone().contiguous() for n in names}
        tensors.update({k: v.cpu().clone() for k, v in self.extra_tensors.items() if k not in tensors})
        with atomic_path(path) as tmp:
            save_file(tensors, str(tmp), metadata={METADATA_KEY: json.dumps(self.metadata())})

    @classmethod
    def load(cls, path: str | os.PathLike) -> "BodyModel":
        """Returns the model stored in ``path`` by :meth:`save` (or by the built-in body's builder)."""
        path = Path(path)
        src = str(path)
        meta, tensors = read_safetensors(path, METADATA_KEY, "a body file (.safetensors) or an SMPL model (.npz, .pkl)")
        for key, kind in (("part_names", list), ("phenotype", dict), ("provenance", dict), ("model_id", str)):
            if meta.get(key) is not None and not isinstance(meta[key], kind):
                raise AnrError(f"{src}: metadata {key} is a JSON {type(meta[key]).__name__}, expected a JSON {kind.__name__}")
        for name in _REQUIRED:
            if name not in tensors:
                raise AnrError(f"{src}: tensor {name!r} is missing, expected it in a body model file")
        if meta.get("joint_names", list(SMPL_JOINT_NAMES)) != list(SMPL_JOINT_NAMES):
            raise AnrError(f"{src}: joint_names differ from SMPL's 24 joints, expected {list(SMPL_JOINT_NAMES)}")
        try:
            body = cls(v_template=tensors["v_template"], faces=tensors["faces"], lbs_weights=tensors["lbs_weights"],
                       J_regressor=tensors["J_regressor"], shapedirs=tensors["shapedirs"],
                       posedirs=tensors.get("posedirs"), uv=tensors.get("uv"), uv_faces=tensors.get("uv_faces"),
                       face_parts=tensors.get("face_parts"),
                       part_names=meta.get("part_names"), parents=tensors.get("parents"),
                       model_id=meta.get("model_id", "custom"), phenotype=meta.get("phenotype"),
                       phenotype_regressor=tensors.get("phenotype_regressor"), provenance=meta.get("provenance"),
                       source=src)
        except (TypeError, ValueError, KeyError, IndexError, AttributeError) as exc:  # nested metadata of other shapes
            raise AnrError(f"{src}: metadata does not describe a body model ({type(exc).__name__}: {str(exc)[:120]}), "
                           "expected an ANR Studio body file") from None
        body.extra_metadata = {k: v for k, v in meta.items() if k not in body.metadata()}
        known = set(_REQUIRED) | {"posedirs", "uv", "uv_faces", "face_uvs", "face_parts", "parents", "phenotype_regressor"}
        body.extra_tensors = {k: v for k, v in tensors.items() if k not in known}
        return body

    @classmethod
    def default(cls, device: str | torch.device = "cpu") -> "BodyModel":
        """Returns the built-in body, loaded once per device and shared: ``copy.deepcopy`` it before changing it."""
        key = str(torch.device(device))
        if key not in _default_cache:
            if not DEFAULT_BODY_PATH.is_file():
                raise AnrError(f"{DEFAULT_BODY_PATH}: the built-in body model is missing, expected the file written by "
                               "`python -m scripts.build_body.build`")
            body = cls.load(DEFAULT_BODY_PATH)
            body.model_id = "default"
            _default_cache[key] = body.to(device)
        return _default_cache[key]

    @classmethod
    def from_smpl(cls, path: str | os.PathLike, uv_obj: str | os.PathLike | None = None) -> "BodyModel":
        """Returns the body of an SMPL-format .npz or .pkl (no arbitrary unpickling), UVs from the OBJ
        ``uv_obj``; model_id is the file's sha256."""
        from anr_studio.body.smpl_io import load_smpl

        return load_smpl(path, uv_obj)

    def extra_repr(self) -> str:
        return f"model_id={self.model_id!r}, V={self.num_vertices}, F={self.faces.shape[0]}, K={self.num_betas}, uvs={self.has_uvs}"


def load_body(path: str | os.PathLike | None = None, *, model_id: str | None = None,
              device: str | torch.device = "cpu", uv_obj: str | os.PathLike | None = None,
              source: str = "body") -> BodyModel:
    """Returns the body model on ``device``: the shared built-in one (do not modify it), or the one at ``path`` (a
    `BodyModel.save` file or an SMPL-format .npz/.pkl, UVs from ``uv_obj``); AnrError naming ``source`` when its id
    differs from ``model_id``, the id the caller's data names."""
    if path is None:
        if model_id not in (None, "default"):
            raise AnrError(f"{source}: body model {model_id[:16]}... is not the built-in body, "
                           "expected the body model file it names (--body-model PATH)")
        return BodyModel.default(device)
    path = Path(path)
    body = BodyModel.from_smpl(path, uv_obj=uv_obj) if path.suffix.lower() in (".npz", ".pkl") else BodyModel.load(path)
    if model_id is not None and body.model_id != model_id:
        raise AnrError(f"{path}: body model id {body.model_id[:16]} differs from {source}'s {model_id[:16]}, "
                       "expected the body model file it was made with")
    return body.to(device)
