"""One frame of `Avatar.render` on the device: `render_frame` (pose -> body -> body maps -> neural texture ->
renderer -> composite -> uint8) run eagerly, or `FrameGraphs` replaying it whole as one CUDA graph per input layout
(one host-to-device copy, one launch, one copy back)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch

from anr_studio.avatar.forward import render_views
from anr_studio.errors import inputs_checked_on_host
from anr_studio.model.graphed import GraphCache
from anr_studio.model.images import composite, from_pixels, to_pixels
from anr_studio.render.cameras import PerspectiveCamera
from anr_studio.render.rasterizer import capturable

Background = tuple[str, np.ndarray] | None  # ("colour", (1,3,1,1) float32 in [-1,1]) | ("image", (N,H,W,3) 0..255) | None


def render_frame(body: torch.nn.Module, network: torch.nn.Module, texture: torch.nn.Module, pose: torch.Tensor,
                 betas: torch.Tensor | None, transl: torch.Tensor | None, camera: Any, size: tuple[int, int],
                 background: torch.Tensor | None, autocast: bool, capture: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Returns (image (B,H,W,C) uint8, mask (B,H,W) float32 in [0,1]) on the texture's device; ``background`` (1 or
    B,3,H,W) in [-1,1] gives C = 3, None C = 4 (alpha = mask); ``capture``: inside a graph capture (no cast cache)."""
    device = texture.texture.device
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast, cache_enabled=not capture):
        views = render_views(body, network, texture, pose, betas, transl, camera, size)
    mask = views["mask"].float().clamp(0, 1)
    if background is None:
        image = to_pixels(torch.cat([views["rgb"].float(), mask * 2 - 1], dim=1))
    else:
        image = to_pixels(composite(views["rgb"].float(), mask, background.float()))
    return image, mask[:, 0]


def pack(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Returns one flat uint8 tensor: ``mask`` (B,H,W) float32 bytes, then ``image`` (B,H,W,C): one device-to-host copy."""
    return torch.cat([mask.float().contiguous().view(torch.uint8).reshape(-1), image.contiguous().reshape(-1)])


def unpack(packed: np.ndarray, image_shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Returns (image ``image_shape`` uint8, mask (B,H,W) float32), views into ``packed`` (the bytes of `pack`)."""
    mask_bytes = int(np.prod(image_shape[:3])) * 4
    image = packed[mask_bytes:].reshape(image_shape)
    return image, packed[:mask_bytes].view(np.float32).reshape(image_shape[:3])


def to_host(image: torch.Tensor, mask: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Returns (image, mask) as numpy arrays, moved in one device-to-host copy (no copy on the CPU)."""
    if image.device.type == "cpu":
        return image.numpy(), mask.numpy().astype(np.float32, copy=False)
    return unpack(pack(image, mask).cpu().numpy(), tuple(image.shape))


@dataclass
class _Buffers:
    """One input layout's static buffers: the inputs on the device, their pinned staging, the output's pinned copy."""

    inputs: torch.Tensor  # float32 device vector holding every float input at ``layout``'s offsets
    layout: dict[str, tuple[int, tuple[int, ...]]]  # name -> (offset, shape)
    pixels: torch.Tensor | None  # (N,H,W,3) uint8 device image background
    image_shape: tuple[int, ...]
    host_inputs: torch.Tensor  # pinned staging of ``inputs``
    host_pixels: torch.Tensor | None  # pinned staging of ``pixels``
    host_out: torch.Tensor  # pinned copy of the frame's `pack`
    step: Callable[[], torch.Tensor]  # the frame from these buffers to its `pack`; holds the texture, body and
    # renderer it reads, so their ids in the key stay theirs


def _layout(values: dict[str, Any]) -> tuple[dict[str, tuple[int, tuple[int, ...]]], int]:
    """Returns ({name: (offset, shape)}, total length) packing ``values`` one after another in a float32 vector."""
    layout, offset = {}, 0
    for name, value in values.items():
        shape = tuple(int(s) for s in value.shape)
        layout[name] = (offset, shape)
        offset += int(np.prod(shape))
    return layout, offset


def _view(vector: torch.Tensor, layout: dict[str, tuple[int, tuple[int, ...]]], name: str) -> torch.Tensor:
    offset, shape = layout[name]
    return vector[offset : offset + int(np.prod(shape))].view(shape)


def _pinned(shape: tuple[int, ...], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """Returns an empty host tensor, page-locked for a CUDA ``device`` (asynchronous copies, no staging)."""
    return torch.empty(shape, dtype=dtype, pin_memory=torch.device(device).type == "cuda")


class FrameGraphs:
    """Returns `Avatar.render` frames replayed from CUDA graphs, one per input layout, or None where one can't be used.

    Keyed by image size, batch, input shapes, background kind, texture, body, renderer and autocast; at most
    ``max_graphs``, each captured after ``warmup`` eager frames; weights are read in place. None (the caller
    renders eagerly) for device or non-finite inputs, batch mismatches, weak perspective, no Triton, or a
    non-uint8 background. Thread-safe (renders take turns)."""

    def __init__(self, max_graphs: int = 4, warmup: int = 3) -> None:
        self.graphs = GraphCache(warmup, max_graphs)
        self._lock = threading.Lock()

    def render(self, avatar: Any, texture: torch.nn.Module, pose: torch.Tensor, betas: torch.Tensor | None,
               transl: torch.Tensor | None, camera: Any, size: tuple[int, int], background: Background
               ) -> tuple[np.ndarray, np.ndarray] | None:
        """Returns (image (B,H,W,C) uint8, mask (B,H,W) float32) of one batch, or None when it is not replayable;
        ``pose`` (B,24,3), ``betas`` (1 or B,K'), ``transl`` (1 or B,3): CPU float32; ``camera`` on the device."""
        values = self._values(avatar, pose, betas, transl, camera, background)
        if values is None:
            return None
        with self._lock:
            return self._replay(avatar, texture, values, size, background)

    def _replay(self, avatar: Any, texture: torch.nn.Module, values: dict[str, Any], size: tuple[int, int],
                background: Background) -> tuple[np.ndarray, np.ndarray]:
        """Returns (image, mask) of the frame ``values``, eager or replayed from its layout's graph."""
        pixels = background[1] if background is not None and background[0] == "image" else None
        key = (tuple(size), tuple((k, tuple(v.shape)) for k, v in values.items()),
               None if background is None else background[0], None if pixels is None else pixels.shape,
               id(texture), id(avatar.body), id(avatar.renderer), avatar.autocast)
        buffers = self.graphs.buffers(key, lambda: self._buffers(avatar, texture, values, pixels, size))
        self._stage(buffers, values, pixels)
        packed = self.graphs.run(key, buffers.step, avatar.device)
        buffers.host_out.copy_(packed, non_blocking=True)
        if packed.is_cuda:
            torch.cuda.current_stream(packed.device).synchronize()
        image, mask = unpack(buffers.host_out.numpy(), buffers.image_shape)
        return image.copy(), mask.copy()  # the pinned buffer is reused by the next frame

    @staticmethod
    def _values(avatar: Any, pose: torch.Tensor, betas: torch.Tensor | None, transl: torch.Tensor | None,
                camera: Any, background: Background) -> dict[str, Any] | None:
        """Returns the frame's float inputs by name (CPU tensors, device camera tensors), or None if not replayable."""
        batch = pose.shape[0]
        if not capturable(avatar.device) or type(camera) is not PerspectiveCamera or camera.batch_size not in (1, batch):
            return None
        for value in (betas, transl):
            if value is not None and (value.dim() != 2 or value.shape[0] not in (1, batch)):
                return None
        # None or finite CPU tensors (checked on the host: no device involved)
        if not all(v is None or (v.device.type == "cpu" and bool(np.isfinite(v.detach().numpy()).all()))
                   for v in (pose, betas, transl)):
            return None
        if background is not None and background[0] == "image" and background[1].dtype != np.uint8:
            return None
        values: dict[str, Any] = {"pose": pose, "K": camera.K, "R": camera.R, "t": camera.t}
        if betas is not None:
            values["betas"] = betas
        if transl is not None:
            values["transl"] = transl
        if background is not None and background[0] == "colour":
            values["colour"] = torch.from_numpy(background[1])
        return values

    @staticmethod
    def _stage(buffers: _Buffers, values: dict[str, Any], pixels: np.ndarray | None) -> None:
        """Copies the frame's inputs into the static buffers: host values in one pinned copy, device ones on the device."""
        host = buffers.host_inputs.numpy()
        on_device = []
        for name, value in values.items():
            if value.device.type == "cpu":
                offset, shape = buffers.layout[name]
                host[offset : offset + int(np.prod(shape))] = value.detach().reshape(-1).numpy()
            else:
                on_device.append((name, value))
        buffers.inputs.copy_(buffers.host_inputs, non_blocking=True)
        for name, value in on_device:
            _view(buffers.inputs, buffers.layout, name).copy_(value)
        if pixels is not None:
            buffers.host_pixels.numpy()[...] = pixels
            buffers.pixels.copy_(buffers.host_pixels, non_blocking=True)

    @staticmethod
    def _buffers(avatar: Any, texture: torch.nn.Module, values: dict[str, Any], pixels: np.ndarray | None,
                 size: tuple[int, int]) -> _Buffers:
        """Returns the static buffers of these inputs' layout and the frame step that reads them."""
        device = avatar.device
        layout, length = _layout(values)
        body, renderer, autocast = avatar.body, avatar.renderer, avatar.autocast
        opaque = "colour" in layout or pixels is not None
        image_shape = (int(values["pose"].shape[0]), *size, 3 if opaque else 4)
        pixel_count = int(np.prod(image_shape[:3]))
        inputs = torch.empty(length, device=device)
        device_pixels = None if pixels is None else torch.empty(pixels.shape, dtype=torch.uint8, device=device)

        def step() -> torch.Tensor:
            static = {name: _view(inputs, layout, name) for name in layout}
            cam = PerspectiveCamera._checked(static["K"], static["R"], static["t"])  # values of a checked camera
            bg = from_pixels(device_pixels) if device_pixels is not None else static.get("colour")
            with inputs_checked_on_host():
                image, mask = render_frame(body, renderer, texture, static["pose"], static.get("betas"),
                                           static.get("transl"), cam, size, bg, autocast, capture=True)
            return pack(image, mask)

        return _Buffers(inputs=inputs, layout=layout, pixels=device_pixels, image_shape=image_shape,
                        host_inputs=_pinned((length,), torch.float32, device),
                        host_pixels=None if pixels is None else _pinned(pixels.shape, torch.uint8, device),
                        host_out=_pinned((pixel_count * (4 + image_shape[3]),), torch.uint8, device), step=step)
