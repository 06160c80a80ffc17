"""Fits the built-in body to per-frame keypoints: an SMPLify-style optimisation batched over frames.

Unknowns: per-frame pose (N,24,3) and translation (N,3), one shape (K,), the focal length. The camera
sits at the origin looking along -z (OpenCV ``R = diag(1, -1, -1)``, ``t = 0``); a hand-held camera's
motion goes into each frame's root. The person's height, when given, fixes the size, else the body is
drawn towards an adult's average; 3D keypoints give the limbs' directions only. Terms: robust 2D
reprojection, limb directions, pose, hinge, shape, focal and height priors, temporal smoothness.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from anr_studio.body.lbs import axis_angle_to_matrix, kinematic_chain
from anr_studio.body.skeleton import NUM_JOINTS, joint_index
from anr_studio.capture.video_fit.landmarks import LAYOUTS, LandmarkMap, landmark_map, torso_keypoints
from anr_studio.errors import AnrError

CAMERA_R = np.diag([1.0, -1.0, -1.0]).astype(np.float32)
"""World-to-camera rotation of the fitted camera (world y up, facing the camera along +z)."""
DEFAULT_FOCAL = 0.9  # focal length guess in units of the image's long side (a phone's main camera filming video)
_TORSO_METRES = 0.5  # shoulder centre to hip centre of an adult, for the first depth guess
MIN_HEIGHT, MAX_HEIGHT = 0.5, 2.6  # range of a person's standing height in metres that the fit accepts
AVERAGE_HEIGHT = 1.70
"""Standing height (m) the body is drawn towards when the person's is not given: an adult's average."""
# The limbs whose directions the 3D keypoints give: (start, end) keypoint names without the side.
_LIMBS = (("shoulder", "elbow"), ("elbow", "wrist"), ("hip", "knee"), ("knee", "ankle"))

# Joint-specific pose-prior weights: the spine, collars, hands and feet move little.
_STIFF = {"spine1": 3.0, "spine2": 3.0, "spine3": 3.0, "left_collar": 4.0, "right_collar": 4.0,
          "left_hand": 4.0, "right_hand": 4.0, "left_foot": 4.0, "right_foot": 4.0, "neck": 2.0}
# Natural bending: (joint, axis, sign) — knees flex about +x, the left elbow about -y, the right about +y.
_HINGES = (("left_knee", 0, 1.0), ("right_knee", 0, 1.0), ("left_elbow", 1, -1.0), ("right_elbow", 1, 1.0))


@dataclass
class FitConfig:
    """Weights and schedule of the fit (losses in per-mille of the image's long side, metres, radians)."""

    global_iterations: int = 80
    """Iterations fitting only the root rotation and translation to the torso and head."""
    iterations: int = 300
    """Iterations fitting everything."""
    lr: float = 0.03
    robust_scale: float = 40.0
    """Geman-McClure scale of the 2D residual (per mille of the long side): larger errors count less."""
    pose_prior: tuple[float, float] = (60.0, 6.0)
    """Small-angle prior weight at the start and the end of the full fit (annealed geometrically)."""
    bend: float = 2000.0
    """Weight of knees and elbows bending the wrong way."""
    hinge_axis: float = 200.0
    """Weight of knee and elbow rotation off their hinge axis."""
    shape_prior: float = 20.0
    focal_prior: float = 200.0
    """Weight of log(focal / guess)^2."""
    smooth: float = 3.0e4
    """Weight of the root's acceleration (metres per frame^2)."""
    smooth_rotation: float = 100.0
    """Weight of joint-rotation acceleration (rotation-matrix entries per frame^2)."""
    smooth_root: float = 300.0
    """Weight of root-rotation velocity (rotation-matrix entries per frame)."""
    keypoints3d: float = 100.0
    """Weight of the squared difference of the limbs' directions (unit vectors of upper arms, forearms,
    thighs and shins) from those of the 3D keypoints."""
    height: float = 1.0e5
    """Weight of (standing height - the given height)^2 (metres^2) when the person's height is given."""
    height_prior: float = 1.0e3
    """Weight of (standing height - AVERAGE_HEIGHT)^2 (metres^2) when it is not."""


@dataclass
class BodyFit:
    """The fitted body and camera: pose (N,24,3), transl (N,3), betas (K,), camera K (3,3), R (3,3), t (3,),
    and ``reprojection_px`` (N,): the median 2D error of each frame's confident keypoints in pixels."""

    pose: np.ndarray
    transl: np.ndarray
    betas: np.ndarray
    K: np.ndarray
    R: np.ndarray
    t: np.ndarray
    reprojection_px: np.ndarray


def standing_height(body, num_betas: int):
    """Returns a function betas (K,) -> the rest body's standing height in metres (sole to crown, a 0-d tensor)."""
    v = body.v_template.detach()
    top, sole = int(v[:, 1].argmax()), int(v[:, 1].argmin())
    rest = v[top, 1] - v[sole, 1]
    per_beta = (body.shapedirs[top, 1, :num_betas] - body.shapedirs[sole, 1, :num_betas]).detach()
    return lambda betas: rest + per_beta @ betas


def body_keypoints(body, lm: LandmarkMap, pose: torch.Tensor, betas: torch.Tensor,
                   transl: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Returns (keypoints (N,M,3), joints (N,24,3)) in world metres of the body posed by ``pose`` (N,24,3),
    ``betas`` (K,) and ``transl`` (N,3) (keypoints near a joint move with the bone ending at it, surface
    keypoints are skinned without pose correctives)."""
    n = pose.shape[0]
    k = betas.shape[0]
    v_shaped = body.v_template + torch.einsum("k,vck->vc", betas, body.shapedirs[..., :k])
    rest = (body.J_regressor @ v_shaped)[None].expand(n, -1, -1)
    joints, rot, trans = kinematic_chain(axis_angle_to_matrix(pose), rest, body._parents_list)
    joints = joints + transl[:, None]
    is_joint = lm.joints >= 0
    out = torch.empty(n, len(lm.joints), 3, dtype=pose.dtype)
    at = lm.joints[is_joint]
    bone = rot[:, [body._parents_list[j] for j in at.tolist()]]  # (N,M',3,3) the bones ending at the joints
    out[:, is_joint] = joints[:, at] + (bone @ lm.offsets[is_joint, :, None])[..., 0]
    if (~is_joint).any():
        vid = lm.vertices[~is_joint]
        w = body.lbs_weights[vid]  # (S, 24)
        blended_rot = torch.einsum("sj,njab->nsab", w, rot)
        blended_t = torch.einsum("sj,nja->nsa", w, trans)
        out[:, ~is_joint] = (blended_rot @ v_shaped[vid][None, :, :, None])[..., 0] + blended_t + transl[:, None]
    return out, joints


def project(points: torch.Tensor, focal: torch.Tensor, centre: torch.Tensor) -> torch.Tensor:
    """Returns pixel coordinates (...,2) of world points (...,3) seen by the fitted camera."""
    x, y, z = points[..., 0], -points[..., 1], (-points[..., 2]).clamp(min=0.05)
    return torch.stack([focal * x / z + centre[0], focal * y / z + centre[1]], dim=-1)


def _initial_root(kp: torch.Tensor, conf: torch.Tensor, layout: str, focal: float, centre: torch.Tensor,
                  pelvis_rest: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Returns (translation (N,3), facing-away flags (N,)) guessed from shoulders and hips in 2D."""
    idx = torso_keypoints(layout)
    p, c = kp[:, idx], conf[:, idx]
    seen = (c > 0.1).all(dim=1)
    shoulders, hips = p[:, :2].mean(1), p[:, 2:].mean(1)
    torso_px = (shoulders - hips).norm(dim=1)
    torso_px = torch.where(seen & (torso_px > 4), torso_px, torch.nan)
    fill = torso_px.nanmedian() if (~torch.isnan(torso_px)).any() else torch.tensor(100.0)
    torso_px = torch.where(torch.isnan(torso_px), fill, torso_px)
    depth = focal * _TORSO_METRES / torso_px
    pelvis_px = torch.where(seen[:, None], hips, centre.expand_as(hips))
    xc = (pelvis_px[:, 0] - centre[0]) * depth / focal
    yc = (pelvis_px[:, 1] - centre[1]) * depth / focal
    transl = torch.stack([xc, -yc, -depth], dim=1) - pelvis_rest
    away = p[:, 0, 0] < p[:, 1, 0]  # the person's left shoulder on the image's left: back to the camera
    return transl, away


def fit_body(keypoints: np.ndarray, confidence: np.ndarray, image_size: tuple[int, int], layout: str, *,
             body=None, keypoints3d: np.ndarray | None = None, focal: float | None = None, height: float | None = None,
             config: FitConfig | None = None, progress=None) -> BodyFit:
    """Returns the BodyFit of the built-in body (or ``body``) to a clip's keypoints.

    ``keypoints`` (N,L,2) pixels in ``layout``'s order, ``confidence`` (N,L) in [0,1]; ``keypoints3d``
    (N,L,3) root-relative metres in the camera's axes; ``focal`` (px) fixes the focal length; ``height``
    (m) the person's standing height (else the body is drawn towards AVERAGE_HEIGHT);
    ``progress(done, total)`` after each iteration.
    """
    from anr_studio.body import load_body

    cfg = config or FitConfig()
    body = body if body is not None else load_body()
    kp = torch.as_tensor(np.asarray(keypoints, np.float32))
    conf = torch.as_tensor(np.asarray(confidence, np.float32))
    if kp.ndim != 3 or kp.shape[-1] != 2 or conf.shape != kp.shape[:2]:
        raise AnrError(f"keypoints: shapes {tuple(kp.shape)} and {tuple(conf.shape)}, expected (N,L,2) and (N,L)")
    if not (torch.isfinite(kp).all() and torch.isfinite(conf).all()):
        raise AnrError("keypoints: contain NaN or Inf values, expected finite pixel coordinates")
    lm = landmark_map(layout, body)
    n = kp.shape[0]
    h, w = int(image_size[0]), int(image_size[1])
    unit = max(h, w) / 1000.0  # residuals in per mille of the long side
    centre = torch.tensor([w / 2.0, h / 2.0])
    target = kp[:, lm.keypoints]
    weight = conf[:, lm.keypoints] * lm.weights
    focal0 = float(focal) if focal else DEFAULT_FOCAL * max(h, w)
    log_focal = torch.zeros((), requires_grad=focal is None)

    num_betas = min(10, body.num_betas)
    betas = torch.zeros(num_betas, requires_grad=True)
    if height is not None and not (math.isfinite(height) and MIN_HEIGHT <= height <= MAX_HEIGHT):
        raise AnrError(f"height: {height} m, expected the person's standing height in metres "
                       f"({MIN_HEIGHT} to {MAX_HEIGHT})")
    stature_of = standing_height(body, num_betas)
    pelvis_rest = body.rest_joints()[0, 0].detach()
    transl0, away = _initial_root(kp, conf, layout, focal0, centre, pelvis_rest)
    pose0 = torch.zeros(n, NUM_JOINTS, 3)
    pose0[:, 0, 1] = torch.where(away, math.pi, 0.0)
    pose0[:, joint_index("left_shoulder"), 2] = -1.1  # arms down (an A-pose) rather than a T-pose
    pose0[:, joint_index("right_shoulder"), 2] = 1.1
    root = pose0[:, :1].clone().requires_grad_(True)
    rest_pose = pose0[:, 1:].clone().requires_grad_(True)
    transl = transl0.clone().requires_grad_(True)

    stiff = torch.ones(NUM_JOINTS - 1)
    for name, s in _STIFF.items():
        stiff[joint_index(name) - 1] = s
    hinges = [(joint_index(j) - 1, a, s) for j, a, s in _HINGES]
    if keypoints3d is not None:
        k3 = torch.as_tensor(np.asarray(keypoints3d, np.float32))[:, lm.keypoints] @ torch.as_tensor(CAMERA_R)
        c3 = conf[:, lm.keypoints]
        if k3.shape[:2] != target.shape[:2]:
            raise AnrError(f"keypoints3d: shape {tuple(keypoints3d.shape)}, expected (N,L,3) like the 2D keypoints")
        names = [LAYOUTS[layout][i] for i in lm.keypoints.tolist()]
        start, end = ([names.index(f"{side}_{limb[k]}") for side in ("left", "right") for limb in _LIMBS]
                      for k in (0, 1))
        limb3 = torch.nn.functional.normalize(k3[:, end] - k3[:, start], dim=-1)
        limb_conf = torch.minimum(c3[:, start], c3[:, end])
    def loss_fn(stage_full: bool, frac: float) -> torch.Tensor:
        pose = torch.cat([root, rest_pose], dim=1)
        pts, _ = body_keypoints(body, lm, pose, betas, transl)
        f = focal0 * log_focal.exp()
        sq = (((project(pts, f, centre) - target) / unit) ** 2).sum(-1)
        loss = (weight * cfg.robust_scale ** 2 * sq / (cfg.robust_scale ** 2 + sq)).sum(1).mean()  # Geman-McClure
        if not stage_full:
            return loss
        w_pose = cfg.pose_prior[0] * (cfg.pose_prior[1] / cfg.pose_prior[0]) ** frac
        loss = loss + w_pose * (stiff[:, None] * rest_pose ** 2).sum((1, 2)).mean()
        for j, a, s in hinges:
            loss = loss + cfg.bend * torch.relu(-s * rest_pose[:, j, a]).pow(2).mean()
            off = [x for x in range(3) if x != a]
            loss = loss + cfg.hinge_axis * rest_pose[:, j, off].pow(2).sum(-1).mean()
        loss = loss + cfg.shape_prior * (betas ** 2).sum() + cfg.focal_prior * log_focal ** 2
        stature = height if height is not None else AVERAGE_HEIGHT
        loss = loss + (cfg.height if height is not None else cfg.height_prior) * (stature_of(betas) - stature) ** 2
        if n >= 3:
            # On rotations and the root's path, not on joint positions: joint accelerations scale
            # with the limbs' length and would shrink the shape.
            rm = axis_angle_to_matrix(pose)
            loss = loss + cfg.smooth_rotation * (rm[2:] - 2 * rm[1:-1] + rm[:-2]).pow(2).sum((1, 2, 3)).mean()
            loss = loss + cfg.smooth_root * (rm[1:, 0] - rm[:-1, 0]).pow(2).sum((1, 2)).mean()
            loss = loss + cfg.smooth * (transl[2:] - 2 * transl[1:-1] + transl[:-2]).pow(2).sum(1).mean()
        if keypoints3d is not None:
            # Directions only: the network's keypoints have an average person's size whoever is
            # filmed, and its depths are too shallow (forearms and shins most), while the sign of
            # a limb's depth is what the 2D keypoints cannot tell.
            limb = torch.nn.functional.normalize(pts[:, end] - pts[:, start], dim=-1)
            loss = loss + cfg.keypoints3d * (limb_conf[..., None] * (limb - limb3) ** 2).sum((1, 2)).mean()
        return loss

    # The tensors are small (frames x 24 joints): thread hand-offs cost more than they save.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    # Two stages: the root rotation and translation on the keypoints, then everything with the priors.
    stages = ((False, cfg.global_iterations, [root, transl]),
              (True, cfg.iterations, [root, rest_pose, transl, betas] + ([log_focal] if focal is None else [])))
    step = 0
    try:
        for stage_full, iters, params in stages:
            opt = torch.optim.Adam(params, lr=cfg.lr)
            for i in range(iters):
                opt.zero_grad(set_to_none=True)
                loss_fn(stage_full, i / max(iters - 1, 1)).backward()
                opt.step()
                step += 1
                if progress is not None:
                    progress(step, cfg.global_iterations + cfg.iterations)
    finally:
        torch.set_num_threads(threads)
    with torch.no_grad():
        pose = torch.cat([root, rest_pose], dim=1)
        pts, _ = body_keypoints(body, lm, pose, betas, transl)
        f = focal0 * float(log_focal.exp())
        err = (project(pts, torch.tensor(f), centre) - target).norm(dim=-1)
        seen = weight > 0.3
        per_frame = np.array([float(e[s].median()) if s.any() else float("nan") for e, s in zip(err, seen)])
    K = np.array([[f, 0, w / 2.0], [0, f, h / 2.0], [0, 0, 1]], np.float32)
    pose, transl, betas = (x.detach().numpy().astype(np.float32) for x in (pose, transl, betas))
    return BodyFit(pose, transl, betas, K, CAMERA_R.copy(), np.zeros(3, np.float32), per_frame.astype(np.float32))
