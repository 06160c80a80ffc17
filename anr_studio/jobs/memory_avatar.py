"""MemoryAvatar: the Avatar render contract over a renderer and textures held in memory.

The GUI tests and the latency benchmark use it to drive the studio with a real ANR forward
pass (body -> rasterize -> neural texture -> R1/R2) without an avatar file; the studio itself
opens files with ``anr_studio.avatar.Avatar.load``. It offers what the studio calls:
``identities``, ``render``, ``texture``, ``add_identity``.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from anr_studio.errors import AnrError


class MemoryAvatar:
    """Renders identities (one (C,S,S) texture each) with ``renderer`` on ``body``; white background."""

    def __init__(self, body, renderer: torch.nn.Module, textures: dict[str, torch.Tensor], unet_multiple: int = 16,
                 device: str | torch.device = "cpu") -> None:
        import copy

        self.device = torch.device(device)
        # A copy on the GPU: the caller's body (the viewport's) stays where it is.
        self.body = body if self.device.type == "cpu" else copy.deepcopy(body).to(self.device)
        self.renderer = renderer.eval().to(self.device)
        self._textures = {k: v.to(self.device) for k, v in textures.items()}
        self._betas: dict[str, np.ndarray | None] = {}
        self.multiple = unet_multiple

    @classmethod
    def random(cls, body, preset: str = "tiny", identities: Sequence[str] = ("A", "B"), seed: int = 0,
               device: str | torch.device = "cpu") -> "MemoryAvatar":
        """Returns an untrained avatar of ``preset``'s renderer with clearly different textures per identity."""
        from anr_studio.model import build_renderer
        from anr_studio.train.presets import preset as get_preset

        cfg = get_preset(preset)
        torch.manual_seed(seed)
        renderer = build_renderer(cfg.model, cfg.renderer)
        tc = cfg.model.texture
        g = torch.Generator().manual_seed(seed)
        tex = {name: torch.rand(tc.channels, tc.size, tc.size, generator=g) * 2 - 1 for name in identities}
        depth = max(cfg.model.r1.depth, cfg.model.r2.depth)
        return cls(body, renderer, tex, unet_multiple=2 ** depth, device=device)

    @classmethod
    def from_file(cls, path, body, device: str | torch.device | None = None) -> "MemoryAvatar":
        """Returns the avatar in an ``.anr`` file (anr_studio.avatar.file) rendered on ``body``.

        The studio uses this while ``anr_studio.avatar.Avatar`` is not available; it reads only
        safetensors + JSON (nothing is unpickled).
        """
        from anr_studio.model import build_renderer
        from anr_studio.avatar.file import read_avatar
        from anr_studio.train.config import TrainConfig

        data = read_avatar(path)
        config = TrainConfig.from_dict(data.meta["config"])
        renderer = build_renderer(config.model, data.meta.get("renderer", config.renderer))
        try:
            renderer.load_state_dict(data.renderer_state)
        except RuntimeError as exc:
            raise AnrError(f"{path}: renderer weights do not match its config ({str(exc).splitlines()[0]}), expected a consistent avatar file") from None
        textures = dict(zip(data.meta["identities"], data.textures))
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        avatar = cls(body, renderer, textures, unet_multiple=2 ** max(config.model.r1.depth, config.model.r2.depth), device=device)
        for name, betas in zip(data.meta["identities"], data.meta.get("betas", [])):
            avatar._betas[name] = np.asarray(betas, np.float32)
        return avatar

    def identity_betas(self, identity: str) -> np.ndarray | None:
        """Returns the shape (K,) stored for ``identity`` (None when unknown)."""
        return self._betas.get(identity)

    @property
    def identities(self) -> list[str]:
        return list(self._textures)

    def texture(self, identity: str) -> torch.Tensor:
        """Returns the neural texture of ``identity``, (C,S,S)."""
        if identity not in self._textures:
            raise AnrError(f"avatar: unknown identity {identity!r}, expected one of {', '.join(self._textures)}")
        return self._textures[identity]

    def add_identity(self, name: str, texture: torch.Tensor, betas: np.ndarray | None = None) -> None:
        """Adds (or replaces) identity ``name`` with ``texture`` (C,S,S)."""
        self._textures[name] = texture.detach().reshape(texture.shape[-3:]).to(self.device).clone()
        self._betas[name] = betas

    @torch.no_grad()
    def render(self, identity: str, pose, camera, betas=None, transl=None, size=(256, 256)) -> tuple[np.ndarray, np.ndarray]:
        """Returns (rgb (H,W,3) uint8 over white, mask (H,W) float32) of ``identity`` in pose (24,3) seen by ``camera``."""
        from anr_studio.model import NeuralTexture
        from anr_studio.avatar.forward import render_views

        h, w = (size, size) if isinstance(size, int) else tuple(size)
        tex = self.texture(identity)
        module = NeuralTexture(tex.shape[0], tex.shape[-1]).to(self.device)
        module.texture.data.copy_(tex.reshape(module.texture.shape))
        dev = self.device
        pose_t = torch.as_tensor(np.asarray(pose, np.float32), device=dev).reshape(1, 24, 3)
        b = None if betas is None else torch.as_tensor(np.asarray(betas, np.float32), device=dev).reshape(1, -1)
        t = None if transl is None else torch.as_tensor(np.asarray(transl, np.float32), device=dev).reshape(1, 3)
        bg = torch.ones(1, 3, h, w, device=dev)
        out = render_views(self.body, self.renderer, module, pose_t, b, t, camera.to(dev), (h, w), multiple=self.multiple, background=bg)
        rgb = ((out["composite"][0].clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).cpu().numpy()
        return rgb, out["mask"][0, 0].float().cpu().numpy()
