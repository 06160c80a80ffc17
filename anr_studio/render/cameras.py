"""Cameras: perspective (OpenCV: x right, y down, z forward), weak perspective, and orbits. ``x_cam = R @ x_world + t``;
``pixel = K @ x_cam / z``; pixel (i, j) has its centre at (j + 0.5, i + 0.5). World is metres, y up, the body faces
+z at rest. A camera holds B views; batch-1 cameras broadcast."""

from __future__ import annotations

import functools
import math
from typing import Sequence

import torch

from anr_studio.errors import AnrError, expect_finite, expect_shape

__all__ = ["PerspectiveCamera", "WeakPerspectiveCamera", "orbit_camera", "Camera"]


def _as_batched(value, inner: tuple[int, ...], field: str, source: str, check_finite: bool = True) -> torch.Tensor:
    """Returns ``value`` as a float tensor of shape (B, *inner); an unbatched (*inner) gains B = 1."""
    tensor = torch.as_tensor(value)
    if not (tensor.is_floating_point() or tensor.dtype in (torch.int32, torch.int64)):
        raise AnrError(f"{source}: {field} has dtype {tensor.dtype}, expected a floating point tensor")
    if not tensor.is_floating_point():
        tensor = tensor.float()
    if tensor.dim() == len(inner):
        tensor = tensor.unsqueeze(0)
    expect_shape(tensor, ("B", *inner), field, source)
    if check_finite:
        expect_finite(tensor, field, source)
    return tensor


def _broadcast(source: str, tensors: dict[str, torch.Tensor]) -> list[torch.Tensor]:
    """Returns ``tensors`` (batch B or 1 each) expanded to batch B, contiguous, in one dtype on the first one's device."""
    batches = [t.shape[0] for t in tensors.values()]
    sizes = set(batches) - {1}
    if len(sizes) > 1:
        raise AnrError(f"{source}: {', '.join(tensors)} have batches {', '.join(map(str, batches))}, expected equal batches or 1")
    batch = sizes.pop() if sizes else 1
    dtype = functools.reduce(torch.promote_types, (t.dtype for t in tensors.values()))
    device = next(iter(tensors.values())).device
    return [t.to(device=device, dtype=dtype).expand(batch, *t.shape[1:]).contiguous() for t in tensors.values()]


def _rotate(M: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Returns ``M @ p`` (B,N,3) for M (B,3,3) and points (B,N,3), as a multiply-and-sum: a TF32 matmul (on while
    training) would move vertices by a pixel at 1024^2."""
    return (points.unsqueeze(-2) * M.unsqueeze(1)).sum(-1)


def _batch_of(points: torch.Tensor, camera_batch: int, source: str) -> None:
    """Raises AnrError unless ``points (B, N, 3)`` can be viewed by a camera of ``camera_batch`` views."""
    expect_shape(points, (None, None, 3), "points", source)
    if camera_batch not in (1, points.shape[0]):
        raise AnrError(
            f"{source}: points have batch {points.shape[0]}, expected {camera_batch} (the camera's batch) or a camera of batch 1"
        )


class _Views:
    """What both camera kinds share: a batch of views held as tensors named in ``_fields`` (batch first)."""

    _fields: tuple[str, ...] = ()

    @property
    def batch_size(self) -> int:
        """Returns the number of views B."""
        return getattr(self, self._fields[0]).shape[0]

    @property
    def device(self) -> torch.device:
        """Returns the device the camera tensors live on."""
        return getattr(self, self._fields[0]).device

    @classmethod
    def _checked(cls, *tensors: torch.Tensor):
        # Tensors derived from an already validated camera: skip the checks (each costs a GPU sync).
        camera = cls.__new__(cls)
        for name, tensor in zip(cls._fields, tensors):
            setattr(camera, name, tensor)
        return camera

    def to(self, device=None, dtype=None):
        """Returns a camera with its tensors on ``device`` (and ``dtype`` when given)."""
        return self._checked(*(getattr(self, f).to(device=device, dtype=dtype) for f in self._fields))

    def __getitem__(self, idx):
        """Returns the views selected by ``idx`` (an int keeps a batch of 1)."""
        if isinstance(idx, int):
            idx = slice(idx, idx + 1 if idx != -1 else None)
        return self._checked(*(getattr(self, f)[idx] for f in self._fields))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(batch_size={self.batch_size}, device={self.device})"


class PerspectiveCamera(_Views):
    """Pinhole cameras: intrinsics ``K (B,3,3)``, world-to-camera ``R (B,3,3)``, ``t (B,3)`` (unbatched or batch 1
    broadcast against the others); all share one dtype and device."""

    is_perspective = True
    _fields = ("K", "R", "t")

    def __init__(self, K, R, t):
        source = "PerspectiveCamera"
        K = _as_batched(K, (3, 3), "K", source, check_finite=False)
        R = _as_batched(R, (3, 3), "R", source, check_finite=False)
        t = _as_batched(t, (3,), "t", source, check_finite=False)
        # Built per training step: one sync when all are finite, not three; else the first bad one is named.
        if not bool(torch.stack([torch.isfinite(x.to(K.device)).all() for x in (K, R, t)]).all()):
            for name, x in (("K", K), ("R", R), ("t", t)):
                expect_finite(x, name, source)
        self.K, self.R, self.t = _broadcast(source, {"K": K, "R": R, "t": t})

    @property
    def centers(self) -> torch.Tensor:
        """Returns the camera centres in world space, (B, 3): ``-R^T t``."""
        return -_rotate(self.R.transpose(1, 2), self.t.unsqueeze(1)).squeeze(1)

    def world_to_camera(self, points: torch.Tensor) -> torch.Tensor:
        """Returns ``points (B,N,3)`` in camera space, (B,N,3)."""
        _batch_of(points, self.batch_size, "PerspectiveCamera.world_to_camera")
        R = self.R.to(device=points.device, dtype=points.dtype)
        t = self.t.to(device=points.device, dtype=points.dtype)
        return _rotate(R, points) + t.unsqueeze(1)

    def rotate_to_camera(self, vectors: torch.Tensor) -> torch.Tensor:
        """Returns directions ``vectors (B,N,3)`` rotated into camera space, (B,N,3)."""
        _batch_of(vectors, self.batch_size, "PerspectiveCamera.rotate_to_camera")
        return _rotate(self.R.to(device=vectors.device, dtype=vectors.dtype), vectors)

    def project(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns ``(pixels (B,N,2), depth (B,N))`` for world ``points (B,N,3)``; depth is camera z (meaningless if <= 0)."""
        cam = self.world_to_camera(points)
        K = self.K.to(device=points.device, dtype=points.dtype)
        z = cam[..., 2]
        homogeneous = _rotate(K, cam)
        pixels = homogeneous[..., :2] / z.unsqueeze(-1)
        return pixels, z

    def cropped(self, origin: torch.Tensor, factor: int) -> PerspectiveCamera:
        """Returns the views of the images cropped at ``origin (B,2)`` (x, y pixels) and shrunk ``factor`` times."""
        K = self.K.expand(origin.shape[0], 3, 3).clone()
        K[:, :2, 2] -= origin.to(K)
        K[:, :2] /= factor
        return self._checked(K, self.R.expand_as(K), self.t.expand(K.shape[0], 3))


class WeakPerspectiveCamera(_Views):
    """Weak-perspective cameras: ``scale (B,)``, ``offset (B,2)``; pixel = ``scale * [x, -y] + offset``, depth = ``-z``
    (camera space is the world rotated by diag(1, -1, -1): x right, y down, z forward)."""

    is_perspective = False
    _fields = ("scale", "offset")

    def __init__(self, scale, offset):
        source = "WeakPerspectiveCamera"
        scale = _as_batched(scale, (), "scale", source)
        offset = _as_batched(offset, (2,), "offset", source)
        if bool((scale <= 0).any()):
            raise AnrError(f"{source}: scale has values <= 0, expected positive pixels per metre")
        self.offset, self.scale = _broadcast(source, {"offset": offset, "scale": scale})

    def world_to_camera(self, points: torch.Tensor) -> torch.Tensor:
        """Returns ``points (B,N,3)`` in the camera's axes (x, -y, -z), (B,N,3)."""
        _batch_of(points, self.batch_size, "WeakPerspectiveCamera.world_to_camera")
        return points * points.new_tensor([1.0, -1.0, -1.0])

    def rotate_to_camera(self, vectors: torch.Tensor) -> torch.Tensor:
        """Returns directions ``vectors (B,N,3)`` in camera space, (B,N,3)."""
        return self.world_to_camera(vectors)

    def project(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns ``(pixels (B,N,2), depth (B,N))`` for world ``points (B,N,3)``; depth = -z."""
        cam = self.world_to_camera(points)
        scale = self.scale.to(device=points.device, dtype=points.dtype)
        offset = self.offset.to(device=points.device, dtype=points.dtype)
        pixels = cam[..., :2] * scale[:, None, None] + offset[:, None, :]
        return pixels, cam[..., 2]

    def cropped(self, origin: torch.Tensor, factor: int) -> WeakPerspectiveCamera:
        """Returns the views of the images cropped at ``origin (B,2)`` (x, y pixels) and shrunk ``factor`` times."""
        offset = (self.offset - origin.to(self.offset)) / factor
        return self._checked(self.scale.expand(offset.shape[0]) / factor, offset)


Camera = PerspectiveCamera | WeakPerspectiveCamera


def orbit_camera(azimuth_deg, elevation_deg, distance, target=(0.0, 0.9, 0.0), image_size: Sequence[int] = (512, 512),
                 fov_deg: float = 30.0, device=None) -> PerspectiveCamera:
    """Returns a PerspectiveCamera (batch B) on a sphere around ``target``, looking at it, world up +y.

    ``azimuth_deg``, ``elevation_deg``, ``distance``: floats or (B,) tensors; ``target``: (3,) or (B,3).
    Azimuth 0 / elevation 0 faces a body facing +z; positive azimuth moves towards +x, positive elevation up.
    ``fov_deg`` is vertical; square pixels, principal point at (W/2, H/2); elevation +-90 keeps image right
    ``(cos az, 0, -sin az)``."""
    source = "orbit_camera"
    if len(image_size) != 2 or min(int(s) for s in image_size) <= 0:
        raise AnrError(f"{source}: image_size is {tuple(image_size)}, expected (H, W) with positive sizes")
    if not 0.0 < float(fov_deg) < 180.0:
        raise AnrError(f"{source}: fov_deg is {fov_deg}, expected a vertical field of view in (0, 180) degrees")
    height, width = int(image_size[0]), int(image_size[1])
    values = [torch.as_tensor(v, dtype=torch.float32, device=device).reshape(-1) for v in (azimuth_deg, elevation_deg, distance)]
    target = torch.as_tensor(target, dtype=torch.float32, device=device).reshape(-1, 3)
    batch = max(max(v.shape[0] for v in values), target.shape[0])
    for name, v in zip(("azimuth_deg", "elevation_deg", "distance", "target"), (*values, target)):
        if v.shape[0] not in (1, batch):
            raise AnrError(f"{source}: {name} has batch {v.shape[0]}, expected 1 or {batch}")
        expect_finite(v, name, source)
    if bool((values[2] <= 0).any()):
        raise AnrError(f"{source}: distance has values <= 0, expected a positive distance in metres")
    azimuth, elevation, distance = (v.expand(batch) for v in (torch.deg2rad(values[0]), torch.deg2rad(values[1]), values[2]))
    target = target.expand(batch, 3)

    direction = torch.stack([torch.cos(elevation) * torch.sin(azimuth), torch.sin(elevation), torch.cos(elevation) * torch.cos(azimuth)], dim=-1)
    center = target + distance[:, None] * direction
    forward = -direction
    right = torch.stack([torch.cos(azimuth), torch.zeros_like(azimuth), -torch.sin(azimuth)], dim=-1)
    down = torch.linalg.cross(forward, right)
    R = torch.stack([right, down, forward], dim=1)
    t = -_rotate(R, center.unsqueeze(1)).squeeze(1)

    focal = 0.5 * height / math.tan(math.radians(float(fov_deg)) / 2.0)
    K = torch.tensor([[focal, 0.0, width / 2.0], [0.0, focal, height / 2.0], [0.0, 0.0, 1.0]], device=device)
    return PerspectiveCamera(K.expand(batch, 3, 3), R, t)
