"""The true person of a synthetic capture: a fine body dressed in clothes and hair.

It is what the camera sees, and deliberately NOT the coarse body that the capture stores:
the fine body (same skeleton and betas space as the coarse one) gets a surface offset where
clothing is (a loose shirt, a skirt or wide trousers leaving the leg silhouette, hair volume
beyond the scalp) and clothing-specific skinning (a skirt whose vertices blend both hips, so
it spans between the legs and swings with them; sleeves whose weights blend shoulder and
elbow so they fold softly instead of bending with the arm).
"""

from __future__ import annotations

import numpy as np
import torch

from anr_studio.body.lbs import axis_angle_to_matrix, kinematic_chain, linear_blend_skinning
from anr_studio.body.skeleton import SMPL_PARENTS
from anr_studio.capture.synth.appearance import BOTTOMS, FACE, HAIR, SHIRT, SHOES, SKIN, Identity, Landmarks

# SMPL joint indices (docs/interfaces.md, body.skeleton).
PELVIS, L_HIP, R_HIP, SPINE1, L_KNEE, R_KNEE, SPINE2, L_ANKLE, R_ANKLE, SPINE3 = range(10)
L_FOOT, R_FOOT, NECK, L_COLLAR, R_COLLAR, HEAD, L_SHOULDER, R_SHOULDER, L_ELBOW, R_ELBOW = range(10, 20)
L_WRIST, R_WRIST, L_HAND, R_HAND = range(20, 24)
_TORSO = (SPINE1, SPINE2, SPINE3, L_COLLAR, R_COLLAR)
_LEGS = (L_HIP, R_HIP, L_KNEE, R_KNEE)
_FEET = (L_ANKLE, R_ANKLE, L_FOOT, R_FOOT)
_ARMS = {+1: (L_SHOULDER, L_ELBOW, L_WRIST, L_HAND), -1: (R_SHOULDER, R_ELBOW, R_WRIST, R_HAND)}


def vertex_normals(vertices: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """Returns unit area-weighted vertex normals (B, V, 3) of ``vertices`` (B, V, 3), ``faces`` (F, 3)."""
    tri = vertices[:, faces]  # (B, F, 3, 3)
    fn = torch.cross(tri[:, :, 1] - tri[:, :, 0], tri[:, :, 2] - tri[:, :, 0], dim=-1)
    vn = torch.zeros_like(vertices)
    for k in range(3):
        vn.index_add_(1, faces[:, k], fn)
    return torch.nn.functional.normalize(vn, dim=-1, eps=1e-12)


def _face_mode(labels: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Returns per-face labels (F,): the label two of the three corners agree on, else the first."""
    a, b, c = labels[faces[:, 0]], labels[faces[:, 1]], labels[faces[:, 2]]
    return np.where((b == c) & (a != b), b, a)


class TruePerson:
    """The dressed fine body of one identity; ``person.pose(pose, transl)`` gives its vertices.

    Attributes: ``faces`` (F,3) long, ``rest`` (V,3) clothed rest positions (shape applied),
    ``rest_normals`` (V,3), ``region`` (V,) and ``face_region`` (F,) int labels
    (appearance.SKIN..SHOES), ``weights`` (V,24) clothing skinning weights, ``landmarks``.
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
        # Faces wound inward would push clothes into the body: orient normals away from the centre line.
        centre = v.mean(0)
        if np.mean(np.sum(normals * (v - centre), 1)) < 0:
            normals = -normals
        weights = fine_body.lbs_weights.detach().cpu().numpy().astype(np.float64)
        offset, region, weights, self.landmarks = _dress(v, normals, weights, self.rest_joints[0].numpy().astype(np.float64), identity)
        self.region = region
        self.face_region = _face_mode(region, self.faces.numpy())
        self.weights = torch.as_tensor(weights / weights.sum(1, keepdims=True), dtype=torch.float32)
        self.rest = torch.as_tensor(v + offset, dtype=torch.float32)
        self.rest_normals = vertex_normals(self.rest[None], self.faces)[0]
        if np.mean(np.sum(self.rest_normals.numpy() * (self.rest.numpy() - centre), 1)) < 0:
            self.rest_normals = -self.rest_normals
            self.faces = self.faces[:, [0, 2, 1]]  # outward winding, so posed normals point out too

    @property
    def num_vertices(self) -> int:
        """Returns V."""
        return int(self.rest.shape[0])

    def pose(self, pose: torch.Tensor, transl: torch.Tensor | None = None) -> torch.Tensor:
        """Returns the posed clothed vertices (B, V, 3) for ``pose`` (B,24,3) and ``transl`` (B,3)."""
        pose = torch.as_tensor(pose, dtype=torch.float32)
        batch = pose.shape[0]
        rot_mats = axis_angle_to_matrix(pose)
        points = self.rest.expand(batch, -1, -1)
        if self.posedirs is not None:
            feat = (rot_mats[:, 1:] - torch.eye(3)).reshape(batch, -1)
            points = points + (feat @ self.posedirs).reshape(batch, -1, 3)
        _, rot, trans = kinematic_chain(rot_mats, self.rest_joints.expand(batch, -1, -1), list(SMPL_PARENTS))
        verts = linear_blend_skinning(points, self.weights, rot, trans)
        if transl is not None:
            verts = verts + torch.as_tensor(transl, dtype=torch.float32).reshape(batch, 1, 3)
        return verts


def _dress(v: np.ndarray, n: np.ndarray, w: np.ndarray, J: np.ndarray, ident: Identity):
    """Returns (offset (V,3), region (V,), weights (V,24), Landmarks) for the rest body ``v`` (V,3).

    ``n`` (V,3) outward rest normals, ``w`` (V,24) body skinning weights, ``J`` (24,3) rest joints.
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
    region[shirt] = SHIRT
    offset[shirt] = n[shirt] * off_amount[shirt, None]

    # ---- bottoms
    lower = (np.isin(dom, _LEGS) | ((dom == PELVIS) | np.isin(dom, _TORSO)) & (y <= y_waist - 0.03 + 1e-9)) & ~feet
    y_ankle = 0.5 * (J[L_ANKLE, 1] + J[R_ANKLE, 1])
    drop = np.clip(y_waist - y, 0, None)
    if ident.bottoms == "skirt":
        skirt = lower & (drop < ident.skirt_length)
        _skirt(v, offset, w, skirt, drop, y_waist, J, ident)
        region[skirt] = BOTTOMS
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
    marks = Landmarks(
        face_centre=marks_face,
        face_size=(0.8 * width, y_hairline - y_chin),
        chest_centre=chest,
        logo_width=0.7 * abs(J[L_SHOULDER, 0] - J[R_SHOULDER, 0]),
        floor_y=float(y.min()),
    )
    return offset, region, w, marks


def _skirt(v, offset, w, skirt, drop, y_waist, J, ident) -> None:
    """Moves ``skirt`` vertices onto a flared elliptic cone around the hips and reskins them (in place).

    Each leg's ring of vertices is unrolled onto its half of the cone (front, outside, back),
    so the skirt closes between the legs; the inner half of each ring sits just inside the
    cone, hidden. Weights blend the pelvis with both hips, more so towards the hem: the skirt
    spans the legs and swings with their average.
    """
    x, y, z = v[:, 0], v[:, 1], v[:, 2]
    near_waist = skirt & (np.abs(y - y_waist) < 0.04)
    cx = 0.5 * (J[L_HIP, 0] + J[R_HIP, 0])
    cz = np.median(z[near_waist]) if near_waist.any() else J[PELVIS, 2]
    ax = np.max(np.abs(x[near_waist] - cx)) + 0.015 if near_waist.any() else 0.17
    az = np.max(np.abs(z[near_waist] - cz)) + 0.015 if near_waist.any() else 0.12
    idx = np.nonzero(skirt)[0]
    d = drop[idx]
    rx = ax + ident.skirt_flare * d
    rz = az + 0.8 * ident.skirt_flare * d
    px, pz = x[idx], z[idx]
    # The leg each vertex belongs to, and its axis at this height (the hip-knee line).
    side = np.where(px > cx, 1.0, -1.0)
    hip = np.where(side[:, None] > 0, J[L_HIP], J[R_HIP])
    knee = np.where(side[:, None] > 0, J[L_KNEE], J[R_KNEE])
    f = np.clip((hip[:, 1] - y[idx]) / np.maximum(hip[:, 1] - knee[:, 1], 1e-3), 0, 1)
    lx = hip[:, 0] + f * (knee[:, 0] - hip[:, 0])
    lz = hip[:, 2] + f * (knee[:, 2] - hip[:, 2])
    psi = np.arctan2(side * (px - lx), pz - lz)  # 0 front, +pi/2 outside, +-pi back, -pi/2 inside
    on_leg = y[idx] < hip[:, 1]
    # Above the crotch the ring is the torso's: use its own angle around the hips' centre.
    theta = np.where(on_leg, side * np.abs(psi), np.arctan2(px - cx, pz - cz))
    shrink = np.where(on_leg & (psi < 0), 0.96, 1.0)
    new_x = cx + rx * np.sin(theta) * shrink
    new_z = cz + rz * np.cos(theta) * shrink
    # Never pull a vertex inwards (the waistband hugs the body).
    grow = np.hypot((new_x - cx) / rx, (new_z - cz) / rz) >= np.hypot((px - cx) / rx, (pz - cz) / rz)
    keep = ~on_leg & ~grow
    offset[idx, 0] = np.where(keep, offset[idx, 0], new_x - px)
    offset[idx, 2] = np.where(keep, offset[idx, 2], new_z - pz)
    t = np.clip(d / ident.skirt_length, 0, 1)[:, None]
    blend = np.zeros((len(idx), w.shape[1]))
    blend[:, PELVIS] = 0.4
    blend[:, L_HIP] = 0.3
    blend[:, R_HIP] = 0.3
    pelvis = np.zeros_like(blend)
    pelvis[:, PELVIS] = 1.0
    w[idx] = (1 - t) * pelvis + t * blend
