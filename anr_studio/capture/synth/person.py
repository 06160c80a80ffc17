"""The true person of a synthetic capture: a fine body dressed in clothes and hair, deliberately NOT the
coarse body the capture stores: clothing offsets (loose shirt, skirt or wide trousers, hair volume) and
clothing skinning (a skirt blending both hips, sleeves blending shoulder and elbow)."""

from __future__ import annotations

import numpy as np
import torch

from anr_studio.body.lbs import axis_angle_to_matrix, kinematic_chain, linear_blend_skinning
from anr_studio.body.skeleton import SMPL_PARENTS
from anr_studio.capture.synth.appearance import BOTTOMS, FACE, HAIR, SHIRT, SHOES, SKIN, Identity, Landmarks
from anr_studio.render.interpolate import vertex_normals

# SMPL joint indices (docs/interfaces.md, body.skeleton).
PELVIS, L_HIP, R_HIP, SPINE1, L_KNEE, R_KNEE, SPINE2, L_ANKLE, R_ANKLE, SPINE3 = range(10)
L_FOOT, R_FOOT, NECK, L_COLLAR, R_COLLAR, HEAD, L_SHOULDER, R_SHOULDER, L_ELBOW, R_ELBOW = range(10, 20)
L_WRIST, R_WRIST, L_HAND, R_HAND = range(20, 24)
_TORSO = (SPINE1, SPINE2, SPINE3, L_COLLAR, R_COLLAR)
_LEGS = (L_HIP, R_HIP, L_KNEE, R_KNEE)
_FEET = (L_ANKLE, R_ANKLE, L_FOOT, R_FOOT)
_ARMS = {+1: (L_SHOULDER, L_ELBOW, L_WRIST, L_HAND), -1: (R_SHOULDER, R_ELBOW, R_WRIST, R_HAND)}


def _face_mode(labels: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Returns per-face labels (F,): the label two of the three corners agree on, else the first."""
    a, b, c = labels[faces[:, 0]], labels[faces[:, 1]], labels[faces[:, 2]]
    return np.where((b == c) & (a != b), b, a)


class TruePerson:
    """The dressed fine body of one identity; ``person.pose(pose, transl)`` gives its vertices.

    ``faces`` (F,3), ``rest`` (V,3) clothed rest positions, ``rest_normals`` (V,3), ``region`` (V,) and
    ``face_region`` (F,) labels (appearance.SKIN..SHOES), ``weights`` (V,24) clothing skinning weights.
    """

    def __init__(self, fine_body, identity: Identity, betas: torch.Tensor) -> None:
        self.identity = identity
        self.faces = fine_body.faces.detach().cpu().long()
        betas = torch.as_tensor(betas, dtype=torch.float32).reshape(1, -1)[:, : fine_body.num_betas]
        with torch.no_grad():
            shaped = fine_body.v_template[None] + torch.einsum("bk,vck->bvc", betas, fine_body.shapedirs[..., : betas.shape[1]])
            self.rest_joints = fine_body.rest_joints(betas).float()  # (1, 24, 3): the body's, not the clothes'
        self.posedirs = fine_body.posedirs
        v = shaped[0].numpy().astype(np.float64)
        normals = vertex_normals(shaped.float(), self.faces)[0].numpy().astype(np.float64)
        # Wind faces outward (clothes are pushed along the normals; back faces are culled).
        centre = v.mean(0)
        if np.mean(np.sum(normals * (v - centre), 1)) < 0:
            normals = -normals
            self.faces = self.faces[:, [0, 2, 1]]
        weights = fine_body.lbs_weights.detach().cpu().numpy().astype(np.float64)
        face_part = _part_mask(fine_body, "face")
        offset, region, weights, self.landmarks, skirt, fields = _dress(
            v, normals, weights, self.rest_joints[0].numpy().astype(np.float64), identity, face_part)
        offset = _smooth(offset, self.faces.numpy(), region == FACE)
        self.offset = offset  # (V_body, 3) clothing displacement of each fine-body vertex, metres
        rest = v + offset
        faces = self.faces.numpy()
        if skirt is not None:  # appended after the body, so body vertex indices stay the fine body's
            s_verts, s_faces, s_weights, s_flare = skirt
            fields = [(j, a, np.concatenate([f, np.zeros_like(s_verts)])) for j, a, f in fields]
            # Spreading or lifting the legs flares the skirt.
            fields.append(((L_HIP, R_HIP), 1.2, np.concatenate([np.zeros_like(v), s_flare])))
            faces = np.concatenate([faces, s_faces + len(rest)])
            rest = np.concatenate([rest, s_verts])
            weights = np.concatenate([weights, s_weights])
            region = np.concatenate([region, np.full(len(s_verts), BOTTOMS)])
            if self.posedirs is not None:
                pad = torch.zeros(self.posedirs.shape[0], 3 * len(s_verts), dtype=self.posedirs.dtype)
                self.posedirs = torch.cat([self.posedirs, pad], 1)
            self.faces = torch.as_tensor(faces, dtype=torch.long)
        self.region = region
        self.face_region = _face_mode(region, self.faces.numpy())
        self.weights = torch.as_tensor(weights / weights.sum(1, keepdims=True), dtype=torch.float32)
        self.rest = torch.as_tensor(rest, dtype=torch.float32)
        self.rest_normals = vertex_normals(self.rest[None], self.faces)[0]
        # Pose-dependent clothing: (joints, angle at full effect, offset field (V,3)).
        self.pose_fields = [(list(j), float(a), torch.as_tensor(f, dtype=torch.float32)) for j, a, f in fields]

    def pose(self, pose: torch.Tensor, transl: torch.Tensor | None = None) -> torch.Tensor:
        """Returns the posed clothed vertices (B, V, 3) for ``pose`` (B,24,3) and ``transl`` (B,3), with
        pose-dependent clothing (a bent elbow bunches its sleeve, spread legs flare the skirt)."""
        pose = torch.as_tensor(pose, dtype=torch.float32)
        batch = pose.shape[0]
        rot_mats = axis_angle_to_matrix(pose)
        points = self.rest.expand(batch, -1, -1)
        for joints, full, field in self.pose_fields:
            amount = (pose[:, joints].norm(dim=-1).sum(-1) / full).clamp(0.0, 1.0)  # (B,)
            points = points + amount[:, None, None] * field
        if self.posedirs is not None:
            feat = (rot_mats[:, 1:] - torch.eye(3)).reshape(batch, -1)
            points = points + (feat @ self.posedirs).reshape(batch, -1, 3)
        _, rot, trans = kinematic_chain(rot_mats, self.rest_joints.expand(batch, -1, -1), list(SMPL_PARENTS))
        verts = linear_blend_skinning(points, self.weights, rot, trans)
        if transl is not None:
            verts = verts + torch.as_tensor(transl, dtype=torch.float32).reshape(batch, 1, 3)
        return verts


def _part_mask(body, name: str) -> np.ndarray | None:
    """Returns the (V,) bool mask of the body's vertices labelled ``name`` (``vertex_parts``), or None."""
    parts = body.extra_tensors.get("vertex_parts")
    if parts is None or name not in body.part_names:
        return None
    return parts.detach().cpu().numpy() == body.part_names.index(name)


def _smooth(offset: np.ndarray, faces: np.ndarray, pinned: np.ndarray) -> np.ndarray:
    """Returns ``offset`` (V,3) averaged with its mesh neighbours three times (``pinned`` (V,) stay put), so
    hems and hairlines are short slopes instead of cliffs of stretched triangles."""
    from scipy.sparse import coo_matrix

    nv = len(offset)
    i = np.concatenate([faces[:, 0], faces[:, 1], faces[:, 2], faces[:, 1], faces[:, 2], faces[:, 0]])
    j = np.concatenate([faces[:, 1], faces[:, 2], faces[:, 0], faces[:, 0], faces[:, 1], faces[:, 2]])
    adj = coo_matrix((np.ones(len(i)), (i, j)), shape=(nv, nv)).tocsr()
    adj.data[:] = 1.0  # duplicate edges count once
    deg = np.maximum(np.asarray(adj.sum(1)).ravel(), 1)
    out = offset.copy()
    for _ in range(3):
        out = np.where(pinned[:, None], offset, 0.5 * out + 0.5 * (adj @ out) / deg[:, None])
    return out


def _dress(v: np.ndarray, n: np.ndarray, w: np.ndarray, J: np.ndarray, ident: Identity,
           face_part: np.ndarray | None = None):
    """Returns (offset (V,3), region (V,), weights (V,24), Landmarks, skirt, fields) for the rest body ``v`` (V,3).

    ``skirt``: None or (vertices (S,3), faces (G,3), weights (S,24), flare field (S,3)); ``fields``:
    pose-dependent offsets (joints, angle at full effect, field (V,3)). ``n`` (V,3) outward normals,
    ``w`` (V,24) skinning weights, ``J`` (24,3) rest joints, ``face_part`` (V,) face labels or None.
    """
    nv = len(v)
    dom = np.argmax(w, 1)
    x, y, z = v[:, 0], v[:, 1], v[:, 2]
    offset = np.zeros_like(v)
    region = np.full(nv, SKIN, np.int64)
    w = w.copy()

    # ---- head: face in front, hair on the rest of the scalp
    head = dom == HEAD
    hv = v[head]
    y_chin, y_top = hv[:, 1].min(), hv[:, 1].max()
    hx = 0.5 * (hv[:, 0].min() + hv[:, 0].max())
    hz = 0.5 * (hv[:, 2].min() + hv[:, 2].max())
    width = hv[:, 0].max() - hv[:, 0].min()
    y_hairline = y_chin + 0.8 * (y_top - y_chin)
    face = head & (z > hz) & (y < y_hairline) & (np.abs(x - hx) < 0.36 * width)
    face_w = 0.8 * width
    if face_part is not None and face_part.any():
        face = face_part
        fv = v[face]
        y_chin, y_hairline = fv[:, 1].min(), fv[:, 1].max()
        hx, face_w = 0.5 * (fv[:, 0].min() + fv[:, 0].max()), fv[:, 0].max() - fv[:, 0].min()
    region[face] = FACE
    hair = head & ~face & (y > y_chin + 0.35 * (y_top - y_chin))
    vol = ident.hair_volume
    if ident.hair_style == "short":
        amount = np.full(nv, 0.4 * vol)
    elif ident.hair_style == "volume":
        amount = np.full(nv, 1.7 * vol)
    else:  # bob: longer towards the bottom, and it covers the back of the neck
        hair |= (dom == NECK) & (z < J[NECK, 2] - 0.01)
        amount = vol * (1.0 + 1.5 * np.clip((y_hairline - y) / (y_top - y_chin), 0, 1.5))
    # Fade in over the hairline so the fringe is a slope, not a cliff of stretched triangles.
    fade = np.where(z > hz, np.clip((y - (y_hairline - 0.01)) / 0.03, 0.3, 1.0), 1.0)
    region[hair] = HAIR
    offset[hair] = n[hair] * (amount * fade)[hair, None]
    marks_face = np.array([hx, 0.5 * (y_chin + y_hairline), hv[:, 2].max()])

    # ---- feet: shoes slightly larger than the feet
    feet = np.isin(dom, _FEET)
    region[feet] = SHOES
    offset[feet] = n[feet] * 0.008

    # ---- shirt over the torso and sleeves
    fields: list[tuple[tuple[int, ...], float, np.ndarray]] = []
    y_waist = J[PELVIS, 1] + 0.6 * (J[SPINE1, 1] - J[PELVIS, 1])
    torso = np.isin(dom, _TORSO + (PELVIS,)) & (y > y_waist - 0.03)
    shirt = torso.copy()
    loose = ident.shirt_looseness
    hem = np.clip((J[SPINE2, 1] - y) / max(J[SPINE2, 1] - y_waist, 1e-3), 0, 1)
    off_amount = np.where(torso, loose * (0.6 + 0.6 * hem), 0.0)
    # The neckline stays close to the neck.
    off_amount *= np.clip((J[NECK, 1] - y) / 0.06, 0.2, 1.0)
    for side, (sh, el, wr, ha) in _ARMS.items():
        arm = np.isin(dom, (sh, el, wr, ha)) | (np.isin(dom, (L_COLLAR if side > 0 else R_COLLAR,)) & (side * x > side * J[sh, 0]))
        axis = J[wr] - J[sh]
        length = np.linalg.norm(axis)
        s = (v - J[sh]) @ (axis / length)  # distance along the arm from the shoulder
        upper = np.linalg.norm(J[el] - J[sh])
        end = 0.55 * upper if ident.top == "tshirt" else length - 0.03
        sleeve = arm & (s < end)
        shirt |= sleeve
        folds = 1.0 + 0.35 * np.sin(s * 2 * np.pi / 0.045) ** 2  # bunched fabric along the sleeve
        off_amount = np.where(sleeve, 0.75 * loose * folds * np.clip(1.2 - s / length, 0.5, 1.0), off_amount)
        # Sleeve fabric blends shoulder and elbow over a wide band, so it folds softly at the elbow.
        band = sleeve & (np.abs(s - upper) < 0.09)
        a = np.clip((s[band] - (upper - 0.09)) / 0.18, 0, 1)
        w[band] = 0.0
        w[band, sh] = 1 - a
        w[band, el] = a
        if ident.top != "tshirt":
            # Bending the elbow bunches the sleeve around it (pose-dependent, see TruePerson.pose).
            bunch = np.where(sleeve, 0.8 * loose * np.exp(-(((s - upper) / 0.05) ** 2)), 0.0)
            fields.append(((el,), 1.5, n * bunch[:, None]))
    region[shirt] = SHIRT
    offset[shirt] = n[shirt] * off_amount[shirt, None]

    # ---- bottoms
    lower = (np.isin(dom, _LEGS) | ((dom == PELVIS) | np.isin(dom, _TORSO)) & (y <= y_waist - 0.03 + 1e-9)) & ~feet
    y_ankle = 0.5 * (J[L_ANKLE, 1] + J[R_ANKLE, 1])
    drop = np.clip(y_waist - y, 0, None)
    skirt = None
    if ident.bottoms == "skirt":
        # Under the skirt the hips wear the same fabric; the legs below it are bare.
        under = lower & (drop < ident.skirt_length)
        offset[under] = n[under] * 0.006
        region[under] = BOTTOMS
        skirt = _skirt(v, lower, y_waist, J, ident)
    else:
        flare = 0.13 if ident.bottoms == "wide_trousers" else 0.02
        legs = lower & (y > y_ankle + 0.02)
        t = np.clip(drop / max(y_waist - y_ankle, 1e-3), 0, 1)
        amount = 0.015 + flare * t**1.2
        # Wide legs widen around the leg's own axis, so both sides of the leg grow.
        side = np.where(x > 0, L_KNEE, R_KNEE)
        radial = v.copy()
        radial[:, 1] = 0.0
        radial -= np.stack([J[side, 0], np.zeros(nv), J[side, 2]], 1)
        radial /= np.maximum(np.linalg.norm(radial, axis=1, keepdims=True), 1e-6)
        is_leg = np.isin(dom, _LEGS)
        direction = np.where(is_leg[:, None], radial, n)
        offset[legs] = direction[legs] * amount[legs, None]
        region[legs] = BOTTOMS

    chest = np.array([J[SPINE3, 0], J[SPINE3, 1] - 0.02, 0.0])
    marks = Landmarks(face_centre=marks_face, face_size=(face_w, y_hairline - y_chin), chest_centre=chest,
                      logo_width=0.7 * abs(J[L_SHOULDER, 0] - J[R_SHOULDER, 0]), floor_y=float(y.min()))
    return offset, region, w, marks, skirt, fields


SKIRT_RINGS = 12
SKIRT_SEGMENTS = 72


def _skirt(v: np.ndarray, lower: np.ndarray, y_waist: float, J: np.ndarray, ident: Identity):
    """Returns a skirt mesh (vertices (S,3), faces (G,3), weights (S,24), flare field (S,3)) hanging from the waist.

    A flared, two-sided elliptic tube holding the body slice (``lower`` (V,) hip/leg vertices of ``v``)
    at every height, so it closes between the legs; its weights blend the pelvis with both hips.
    """
    rings, segs = SKIRT_RINGS, SKIRT_SEGMENTS
    cx = 0.5 * (J[L_HIP, 0] + J[R_HIP, 0])
    cz = float(np.median(v[lower & (np.abs(v[:, 1] - y_waist) < 0.05), 2])) if lower.any() else J[PELVIS, 2]
    t = np.linspace(0.0, 1.0, rings)
    y = y_waist - t * ident.skirt_length
    rx = np.empty(rings)
    rz = np.empty(rings)
    for r in range(rings):
        sl = lower & (np.abs(v[:, 1] - y[r]) < 0.03)
        if not sl.any():
            rx[r], rz[r] = 0.12, 0.1
            continue
        ex, ez = np.abs(v[sl, 0] - cx).max(), np.abs(v[sl, 2] - cz).max()
        rho = np.sqrt(((v[sl, 0] - cx) / ex) ** 2 + ((v[sl, 2] - cz) / ez) ** 2).max()
        rx[r], rz[r] = ex * rho + 0.015, ez * rho + 0.015
    flare = ident.skirt_flare * t * ident.skirt_length
    rx = np.maximum.accumulate(np.maximum(rx, rx[0] + flare))  # never narrower towards the hem
    rz = np.maximum.accumulate(np.maximum(rz, rz[0] + 0.8 * flare))
    theta = 2 * np.pi * np.arange(segs) / segs  # 0 = front (+z), pi/2 = the body's left (+x)
    sin, cos = np.sin(theta)[None], np.cos(theta)[None]
    outer = np.stack([cx + rx[:, None] * sin, np.repeat(y[:, None], segs, 1), cz + rz[:, None] * cos], -1)
    inner = outer.copy()
    inner[..., 0] = cx + 0.985 * (outer[..., 0] - cx)
    inner[..., 2] = cz + 0.985 * (outer[..., 2] - cz)
    verts = np.concatenate([outer.reshape(-1, 3), inner.reshape(-1, 3)])
    r, k = np.meshgrid(np.arange(rings - 1), np.arange(segs), indexing="ij")
    a, b = r * segs + k, r * segs + (k + 1) % segs
    c, d = a + segs, b + segs
    # The outer wall winds outward, the inner wall the other way.
    quads = np.stack([np.stack([a, c, b], -1), np.stack([b, c, d], -1)], 2).reshape(-1, 3)
    tri = outer.reshape(-1, 3)[quads[0]]
    outward = np.array([tri[:, 0].mean() - cx, 0.0, tri[:, 2].mean() - cz])
    if np.dot(np.cross(tri[1] - tri[0], tri[2] - tri[0]), outward) < 0:
        quads = quads[:, ::-1]
    faces = np.concatenate([quads, quads[:, ::-1] + rings * segs])
    tt = np.repeat(t, segs)
    side = np.tile(np.sin(theta), rings)
    w = np.zeros((rings * segs, 24))
    w[:, L_HIP] = 0.3 * tt * (1 + 0.6 * side)
    w[:, R_HIP] = 0.3 * tt * (1 - 0.6 * side)
    w[:, PELVIS] = 1.0 - w[:, L_HIP] - w[:, R_HIP]
    radial = verts - np.array([cx, 0.0, cz])
    radial[:, 1] = 0.0
    radial /= np.maximum(np.linalg.norm(radial, axis=1, keepdims=True), 1e-9)
    flare_field = radial * (0.1 * ident.skirt_length * np.concatenate([tt, tt]))[:, None]
    return verts, faces, np.concatenate([w, w]), flare_field
