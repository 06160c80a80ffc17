"""Returns rendered images of a trained avatar: `Avatar.load(path).render(identity, pose, camera)`; one renderer
shared by several identities (a neural texture and betas each) on the body it was trained on."""

from __future__ import annotations

import contextlib
import math
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from anr_studio.avatar.file import load_renderer, read_avatar, renderer_meta, write_avatar
from anr_studio.avatar.frame import Background, FrameGraphs, render_frame, to_host
from anr_studio.avatar.refine import PoseRefinement, refine_poses
from anr_studio.body import load_body
from anr_studio.errors import AnrError, expect_finite, expect_shape, inputs_checked_on_host
from anr_studio.model import NeuralTexture
from anr_studio.model.graphed import GraphedRenderer
from anr_studio.model.images import from_pixels
from anr_studio.render import PerspectiveCamera, orbit_camera

WHITE = (255, 255, 255)


def _size2(size: int | Sequence[int]) -> tuple[int, int]:
    h, w = (size, size) if isinstance(size, (int, np.integer)) else tuple(int(s) for s in size)
    if h < 1 or w < 1:
        raise AnrError(f"render: size is {(h, w)}, expected positive (H, W)")
    return int(h), int(w)


class Avatar:
    """A renderer, one neural texture per identity, the body model and each identity's betas.

    ``renderer`` and ``body`` are used in place (a trainer's modules stay trainable); ``textures``: {name:
    (C,S,S)}, copied; ``betas``: {name: (K,)}; ``cameras``: {name: {K, R, t}}; ``meta``: the avatar file's JSON."""

    def __init__(self, renderer: torch.nn.Module, textures: dict[str, torch.Tensor], body: torch.nn.Module,
                 meta: dict[str, Any] | None = None, betas: dict[str, np.ndarray | None] | None = None,
                 cameras: dict[str, dict[str, Any] | None] | None = None, source: str = "avatar") -> None:
        self.renderer = renderer
        self.body = body
        self.meta = dict(meta or {})
        self.source = source
        self.device = next(renderer.parameters()).device
        self._textures: dict[str, NeuralTexture] = {}
        self._betas: dict[str, np.ndarray | None] = {}
        self._cameras: dict[str, dict[str, Any] | None] = {}
        self._cache: dict[Any, Any] = {}  # reused every frame: background colours on the device, default cameras
        self._frames: FrameGraphs | None = None  # whole-frame CUDA graphs (see `tune`)
        for name, tex in textures.items():
            self.add_identity(name, tex, (betas or {}).get(name), (cameras or {}).get(name))
        self.autocast = False  # bf16 autocast on CUDA (see `tune`)
        self._network: torch.nn.Module = self.renderer  # what render calls: the renderer or its graphed form

    # -- files ------------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | os.PathLike, device: str | torch.device = "cpu", body: torch.nn.Module | None = None,
             body_path: str | None = None) -> "Avatar":
        """Returns the avatar stored in ``path`` (.anr) on ``device`` (see `from_weights` for ``body``)."""
        data = read_avatar(path)
        return cls.from_weights(data.meta, data.renderer_state, data.textures, device, body, body_path, str(path))

    @classmethod
    def from_weights(cls, meta: dict[str, Any], renderer_state: dict[str, torch.Tensor], textures: Sequence[torch.Tensor],
                     device: str | torch.device = "cpu", body: torch.nn.Module | None = None,
                     body_path: str | None = None, source: str = "avatar") -> "Avatar":
        """Returns the avatar of stored weights on ``device``, its renderer in eval mode and frozen: ``meta`` an avatar
        file's (or checkpoint's) JSON, ``textures`` (C,S,S) in ``meta["identities"]`` order, ``body`` default the one
        the avatar names (``body_path`` for an SMPL file; AnrError when it differs)."""
        dev = torch.device(device)
        wanted = str(meta.get("body_model", "default"))
        if body is None:
            body = load_body(body_path, model_id=wanted, device=dev, source=source)
        elif str(body.model_id) != wanted:
            raise AnrError(f"{source}: body_model is {wanted[:16]!r} but the body in use is {str(body.model_id)[:16]!r}, "
                           "expected the body model the avatar was trained on")
        renderer = load_renderer(meta, renderer_state, source)
        names = list(meta["identities"])
        betas = {n: np.asarray(b, np.float32) for n, b in zip(names, meta.get("betas", []))}
        cameras = dict(zip(names, meta.get("cameras", [])))
        return cls(renderer.to(dev), dict(zip(names, textures)), body.to(dev), meta, betas, cameras, source=source)

    def save(self, path: str | os.PathLike, identities: Sequence[str] | None = None) -> Path:
        """Writes the avatar (renderer; texture, betas and camera of each of ``identities``, default all) to ``path``;
        returns it."""
        names = self.identities if identities is None else list(identities)
        k = self.body.num_betas
        meta = dict(self.meta, **renderer_meta(self.renderer))
        meta["identities"] = names
        meta["betas"] = [(self._betas[n] if self._betas[n] is not None else np.zeros(k, np.float32)).astype(float).tolist()
                         for n in names]
        meta["cameras"] = [self._cameras.get(n) for n in names]
        meta["body_model"] = str(self.meta.get("body_model", self.body.model_id))
        return write_avatar(path, self.renderer.state_dict(), [self._textures[n].texture for n in names], meta)

    def check_body_model(self, model_id: str, source: str) -> None:
        """Raises AnrError, naming ``source``, when its body model ``model_id`` is not the one the avatar was trained on."""
        want = str(self.meta.get("body_model", "default"))
        if model_id != want:
            raise AnrError(f"{source}: body model {model_id[:16]!r} differs from the avatar's {want[:16]!r}, "
                           "expected a capture tracked with the avatar's body model")

    # -- identities ---------------------------------------------------------------------------
    @property
    def identities(self) -> list[str]:
        """Returns the identity names, in file order."""
        return list(self._textures)

    def _check(self, identity: str) -> None:
        if identity not in self._textures:
            raise AnrError(f"{self.source}: unknown identity {identity!r}, expected one of {', '.join(self._textures)}")

    def texture(self, identity: str) -> torch.Tensor:
        """Returns the neural texture of ``identity``, (C,S,S) (the stored tensor: do not modify it)."""
        self._check(identity)
        return self._textures[identity].texture.detach()[0]

    def identity_betas(self, identity: str) -> np.ndarray | None:
        """Returns the shape (K,) stored for ``identity`` (None when it has none)."""
        self._check(identity)
        return self._betas[identity]

    def identity_camera(self, identity: str) -> dict[str, Any] | None:
        """Returns {K, R, t} of a training frame of ``identity`` (None for identities made by swap)."""
        self._check(identity)
        return self._cameras.get(identity)

    def add_identity(self, name: str, texture: torch.Tensor, betas: np.ndarray | None = None,
                     camera: dict[str, Any] | None = None) -> None:
        """Adds (or replaces) identity ``name`` with ``texture`` (C,S,S) or (1,C,S,S) and shape ``betas`` (K,)."""
        if not name or not isinstance(name, str):
            raise AnrError(f"{self.source}: identity name {name!r} is empty, expected a non-empty string")
        tex = torch.as_tensor(texture).detach().float()
        if tex.dim() == 4 and tex.shape[0] == 1:
            tex = tex[0]
        if tex.dim() != 3 or tex.shape[-1] != tex.shape[-2]:
            raise AnrError(f"{self.source}: texture of {name!r} has shape {tuple(tex.shape)}, expected (C, S, S)")
        if self._textures:
            ref = next(iter(self._textures.values())).texture.shape[1:]
            if tuple(tex.shape) != tuple(ref):
                raise AnrError(f"{self.source}: texture of {name!r} has shape {tuple(tex.shape)}, expected {tuple(ref)} like the others")
        expect_finite(tex, f"texture of {name!r}", self.source)
        self._betas[name] = None if betas is None else np.asarray(betas, np.float32).reshape(-1)
        self._cameras[name] = camera
        self._cache.clear()
        if name in self._textures:
            # Replaced in place (the studio's live try-on does this per brush stroke): captured
            # frame graphs read the texture where it is, so they stay valid.
            with torch.no_grad():
                self._textures[name].texture.copy_(tex[None])
            return
        module = NeuralTexture(int(tex.shape[0]), int(tex.shape[-1]))
        with torch.no_grad():
            module.texture.copy_(tex[None])
        self._textures[name] = module.to(self.device).requires_grad_(False)

    # -- rendering ----------------------------------------------------------------------------
    def tune(self, bf16: bool = True, channels_last: bool = True, graphs: bool = True, whole_frame: bool = True) -> "Avatar":
        """Returns self, set up for speed on its device (saved weights are unchanged). CPU: fp32 channels_last weights,
        the arguments ignored. CUDA: ``bf16`` autocast, ``channels_last`` weights, ``graphs``: whole frames replayed
        as one graph per input layout (`FrameGraphs`) or, without ``whole_frame``, the renderer alone (`GraphedRenderer`)."""
        cuda = self.device.type == "cuda"
        self._cache.clear()
        self.autocast = cuda and bool(bf16)
        if self.device.type == "cpu" or cuda and channels_last:
            self.renderer.to(memory_format=torch.channels_last)
        self._network = GraphedRenderer(self.renderer) if cuda and graphs else self.renderer
        self._frames = FrameGraphs() if cuda and graphs and whole_frame else None
        return self

    def posed_vertices(self, pose: Any = None, identity: str | None = None) -> np.ndarray:
        """Returns the body's (V,3) float32 vertices in ``pose`` (24,3) (rest pose by default) with ``identity``'s shape."""
        p = np.zeros((24, 3), np.float32) if pose is None else np.asarray(pose, np.float32)
        if p.shape != (24, 3):
            raise AnrError(f"--pose: pose has shape {p.shape}, expected (24, 3) axis-angle")
        betas = None if identity is None else self._betas_tensor(identity, None)
        with torch.no_grad():
            return self.body(pose=torch.as_tensor(p)[None].to(self.device), betas=betas).vertices[0].cpu().numpy()

    def default_camera(self, size: int | Sequence[int] = 512, identity: str | None = None, azimuth_deg: Any = 0.0,
                       elevation_deg: Any = 5.0, fov_deg: float = 30.0, margin: float = 1.12) -> PerspectiveCamera:
        """Returns a camera (batch 1, or B for (B,) azimuths) framing the whole rest-pose body in ``size`` with ``margin``."""
        h, w = _size2(size)
        verts = self.posed_vertices(identity=identity)
        lo, hi = verts.min(0), verts.max(0)
        center = (lo + hi) / 2
        half_h = (hi[1] - lo[1]) / 2 * margin
        radius = float(np.linalg.norm([hi[0] - lo[0], hi[2] - lo[2]])) / 2 * margin
        tan_v = math.tan(math.radians(fov_deg) / 2)
        tan_h = tan_v * w / h
        distance = max(half_h / tan_v, radius / tan_h) + radius
        return orbit_camera(azimuth_deg, elevation_deg, distance, target=center.tolist(), image_size=(h, w),
                            fov_deg=fov_deg, device=self.device)

    def _background(self, background: Any, batch: int, h: int, w: int) -> Background:
        """Returns the background on the host: ("colour", (1,3,1,1) float32 in [-1,1]), ("image", (1 or B,H,W,3)), or None (transparent)."""
        if background is None:
            return None
        arr = np.asarray(background)
        if arr.ndim == 1 and arr.size == 3:
            return "colour", from_pixels(torch.from_numpy(arr.astype(np.float32)).reshape(1, 1, 1, 3)).numpy()
        if arr.ndim in (3, 4) and arr.shape[-1] == 3 and arr.shape[-3:-1] == (h, w):
            img = arr.reshape(-1, h, w, 3)
            if img.shape[0] not in (1, batch):
                raise AnrError(f"render: background has {img.shape[0]} images, expected 1 or {batch}")
            return "image", img
        raise AnrError(f"render: background has shape {arr.shape}, expected an RGB colour (3,), an image ({h}, {w}, 3) "
                       "uint8 or None for a transparent (RGBA) image")

    def _background_tensor(self, background: Background) -> torch.Tensor | None:
        """Returns ``background`` (1 or B,3,H,W) in [-1,1] on the device (colours cached there), or None."""
        if background is None:
            return None
        kind, arr = background
        if kind == "image":
            return from_pixels(torch.as_tensor(arr, device=self.device))
        key = ("colour", tuple(arr.reshape(-1).tolist()), self.device)
        if key not in self._cache:  # a colour is one tiny host-to-device copy: keep it on the device
            self._cache[key] = torch.as_tensor(arr, device=self.device)
        return self._cache[key]

    def _betas_tensor(self, identity: str, betas: Any) -> torch.Tensor | None:
        """Returns betas (1 or B, K) on the host: ``betas`` (K,) or (B,K), else the identity's own (None if it has none)."""
        self._check(identity)
        if betas is None:
            stored = self._betas[identity]
            return None if stored is None else torch.as_tensor(stored[None, : self.body.num_betas])
        b_arr = np.asarray(betas, np.float32)
        return torch.as_tensor(b_arr.reshape(1, -1) if b_arr.ndim == 1 else b_arr)[:, : self.body.num_betas]

    @torch.no_grad()
    def render(self, identity: str, pose: Any, camera: Any = None, betas: Any = None, transl: Any = None,
               size: int | Sequence[int] = (512, 512), background: Any = WHITE, batch_size: int = 8
               ) -> tuple[np.ndarray, np.ndarray]:
        """Returns (image, mask) of ``identity`` in ``pose`` seen by ``camera``.

        ``pose`` (24,3) gives image (H,W,3) uint8 and mask (H,W) float32 in [0,1]; (B,24,3) gives (B,H,W,3), (B,H,W).
        ``camera``: batch 1 or B (default `default_camera`); ``betas`` (K,) or (B,K) (default the identity's);
        ``transl`` (3,) or (B,3); ``background``: RGB 0..255, an (H,W,3) or (B,H,W,3) uint8 image, or None for
        RGBA (alpha = mask). Rendered ``batch_size`` frames at a time."""
        self._check(identity)
        h, w = _size2(size)
        pose_t = (pose if isinstance(pose, torch.Tensor) else torch.as_tensor(np.asarray(pose, np.float32))).float()
        single = pose_t.dim() == 2
        if pose_t.dim() not in (2, 3) or tuple(pose_t.shape[-2:]) != (24, 3):
            raise AnrError(f"render: pose has shape {tuple(pose_t.shape)}, expected (24, 3) or (B, 24, 3) axis-angle")
        pose_t = pose_t.reshape(-1, 24, 3)
        n = pose_t.shape[0]
        b_t = self._betas_tensor(identity, betas)
        t_t = None if transl is None else torch.as_tensor(np.asarray(transl, np.float32)).reshape(-1, 3)
        if camera is None:  # posing the body and reading it back once per size and identity
            key = ("camera", (h, w), identity, self.device)
            camera = self._cache[key] = self._cache.get(key) or self.default_camera((h, w), identity)
        camera = camera.to(self.device)
        bg = self._background(background, n, h, w)
        texture = self._textures[identity]
        step = max(1, int(batch_size))
        frames = []
        for start in range(0, n, step):
            sel = slice(start, min(n, start + step))
            cam = camera if camera.batch_size == 1 else camera[sel]
            bb = None if b_t is None else (b_t if b_t.shape[0] == 1 else b_t[sel])
            tt = None if t_t is None else (t_t if t_t.shape[0] == 1 else t_t[sel])
            bgs = bg if bg is None or bg[0] == "colour" or bg[1].shape[0] == 1 else (bg[0], bg[1][sel])
            frame = None if self._frames is None else self._frames.render(self, texture, pose_t[sel], bb, tt, cam, (h, w), bgs)
            if frame is None:  # op by op; host inputs are checked on the host (one copy back on CUDA)
                with inputs_checked_on_host() if pose_t.device.type == "cpu" else contextlib.nullcontext():
                    frame = to_host(*render_frame(self.body, self._network, texture, pose_t[sel], bb, tt, cam, (h, w),
                                                  self._background_tensor(bgs), self.autocast))
            frames.append(frame)
        image, mask = (np.concatenate(parts) if len(parts) > 1 else parts[0] for parts in zip(*frames))
        return (image[0], mask[0]) if single else (image, mask)

    def refine_poses(self, identity: str, masks: Any, pose: Any, transl: Any, camera: Any, betas: Any = None,
                     config: PoseRefinement | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Returns (pose (B,24,3), transl (B,3)) float32 after test-time pose refinement (`anr_studio.avatar.refine`)
        against ``masks`` (B,H,W) uint8: the foreground of frames showing ``identity`` in roughly ``pose`` and
        ``transl``, seen by ``camera`` (batch B or 1); ``betas`` as for `render`."""
        self._check(identity)
        mask_t = torch.as_tensor(np.asarray(masks))
        n = expect_shape(mask_t, ("B", None, None), "masks", "refine_poses")["B"]
        pose_t, transl_t = (torch.as_tensor(np.asarray(v, np.float32)) for v in (pose, transl))
        expect_shape(pose_t, (n, 24, 3), "pose", "refine_poses")
        expect_shape(transl_t, (n, 3), "transl", "refine_poses")
        betas_t = self._betas_tensor(identity, betas)
        pose_t, transl_t = refine_poses(self.body, pose_t.to(self.device), None if betas_t is None else betas_t.to(self.device),
                                        transl_t.to(self.device), camera.to(self.device),
                                        mask_t.to(self.device).float().div(255).unsqueeze(1), config or PoseRefinement())
        return pose_t.cpu().numpy(), transl_t.cpu().numpy()
