"""A pix2pix-style U-Net: stride-2 convolutions down, upsampling convolutions up, skip connections."""

from __future__ import annotations

import contextlib
import threading

import torch
import torch.nn.functional as F
from torch import nn

from anr_studio.lazy import optional_module
from anr_studio.model.config import UNetConfig


_GRAPHED = threading.local()


@contextlib.contextmanager
def graphed_norms():
    """Within this block (on this thread), channels_last instance norms on CUDA use the Triton kernels: they
    cost more host time per launch than torch ops, which a CUDA graph replay hides (the training step's graphs)."""
    before = getattr(_GRAPHED, "active", False)
    _GRAPHED.active = True
    try:
        yield
    finally:
        _GRAPHED.active = before


def _triton_norm(u: torch.Tensor) -> bool:
    """Returns True where the norm of ``u`` runs as Triton kernels: on CUDA inside `graphed_norms`."""
    return u.is_cuda and getattr(_GRAPHED, "active", False)


def _norm_kernels():
    """Returns the `norm_triton` module, or None where Triton is missing (CPU-only torch builds)."""
    return optional_module("anr_studio.model.norm_triton")


class _InstanceNormNHWC(torch.autograd.Function):
    """Instance norm of a channels_last tensor without leaving channels_last.

    torch's instance norm needs NCHW (two layout copies each way). Here statistics are fp32 sums over H, W, the output one ``x * scale + shift`` and the backward the closed
    form dx = A*g + B*x + C, in torch ops, or with ``triton`` in the `norm_triton` kernels (inside
    `graphed_norms` only: eager they cost more host time than they save). With the kernels, ``slope`` fuses a
    leaky ReLU (0: ReLU) into them, its backward recomputed from ``x`` (no output is saved)."""

    @staticmethod
    def _sums(kernels, u, v=None, act_grad=None):
        if kernels is not None:
            return kernels.nhwc_stats(u, v, act_grad)
        acc = torch.promote_types(u.dtype, torch.float32)
        s1 = torch.sum(u, dim=(2, 3), keepdim=True, dtype=acc)
        if v is None:
            return s1, torch.linalg.vector_norm(u, 2, dim=(2, 3), keepdim=True, dtype=acc).square()
        return s1, torch.sum(u.to(acc) * v.to(acc), dim=(2, 3), keepdim=True)

    @staticmethod
    def _affine(kernels, u, a, c, v=None, b=None, slope=None, act_grad=None):
        if kernels is not None:
            return kernels.nhwc_affine(u, a, c, v, b, slope, act_grad)
        out = torch.empty_like(u)
        torch.addcmul(c, u, a, out=out)  # computed in fp32, stored in u's dtype and layout
        if v is not None:
            torch.addcmul(out, v, b, out=out)
        return out

    @staticmethod
    def forward(ctx, x, weight, bias, eps, triton=False, slope=None):
        kernels = _norm_kernels() if triton else None
        if slope is not None and kernels is None:
            raise ValueError("_InstanceNormNHWC: a fused activation (slope) needs the Triton kernels")
        n = x.shape[2] * x.shape[3]
        # Chosen by the caller, on its thread: autograd runs the backward on its own device thread.
        ctx.triton, ctx.slope = triton, slope
        s1, s2 = _InstanceNormNHWC._sums(kernels, x)
        mean, sq = s1 / n, s2 / n
        rstd = torch.rsqrt((sq - mean.square()).clamp_min_(0) + eps)  # (B,C,1,1) fp32
        w = weight.to(mean.dtype).view(1, -1, 1, 1)
        scale = rstd * w
        shift = bias.to(mean.dtype).view(1, -1, 1, 1) - mean * scale
        ctx.save_for_backward(x, mean, rstd, w, scale, shift)
        return _InstanceNormNHWC._affine(kernels, x, scale, shift, slope=slope)

    @staticmethod
    def backward(ctx, grad):
        x, mean, rstd, w, scale, shift = ctx.saved_tensors
        n = x.shape[2] * x.shape[3]
        kernels = _norm_kernels() if ctx.triton else None
        if kernels is None or not kernels.pixel_stride(grad):
            # The kernels read a channel slice as it is (the decoder's half of the skip concatenation's gradient).
            grad = grad.contiguous(memory_format=torch.channels_last)
        act_grad = (scale, shift, ctx.slope) if ctx.slope is not None else None
        s_g, s_gx = _InstanceNormNHWC._sums(kernels, grad, x, act_grad)
        s_gxhat = (s_gx - mean * s_g) * rstd  # sum of grad * xhat
        a = rstd * w
        b = -a * rstd * s_gxhat / n
        c = -a * s_g / n - b * mean
        dx = _InstanceNormNHWC._affine(kernels, grad, a, c, x, b, act_grad=act_grad)
        dweight = s_gxhat.sum(dim=0).flatten().to(w.dtype)
        dbias = s_g.sum(dim=0).flatten().to(w.dtype)
        return dx, dweight, dbias, None, None, None


class InstanceNorm2d(nn.InstanceNorm2d):
    """nn.InstanceNorm2d (same parameters and state dict) that keeps channels_last inputs channels_last on CUDA
    (`_InstanceNormNHWC`; CPU inputs take group norm with C groups). ``negative_slope`` (None: none) adds a leaky
    ReLU (0: ReLU), fused where the Triton kernels run."""

    def __init__(self, num_features: int, *args, negative_slope: float | None = None, **kwargs) -> None:
        super().__init__(num_features, *args, **kwargs)
        self.negative_slope = negative_slope

    def extra_repr(self) -> str:
        """Returns nn.InstanceNorm2d's description plus the fused activation's slope."""
        fused = f", negative_slope={self.negative_slope}" if self.negative_slope is not None else ""
        return super().extra_repr() + fused

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Returns the normalised (and activated, see ``negative_slope``) ``x`` in its own dtype and memory format."""
        if x.is_cuda and self.affine and not self.track_running_stats and _channels_last(x):
            triton = _triton_norm(x) and _norm_kernels() is not None
            if triton and self.negative_slope is not None:
                return _InstanceNormNHWC.apply(x, self.weight, self.bias, self.eps, True, self.negative_slope)
            return _activate(_InstanceNormNHWC.apply(x, self.weight, self.bias, self.eps, triton), self.negative_slope)
        if x.device.type == "cpu" and x.dim() == 4 and not self.track_running_stats:
            # Instance norm is group norm with one channel per group; torch's CPU instance norm runs
            # batch norm on a (1, B*C, H, W) copy, 5x slower than the fused group-norm kernel.
            return _activate(F.group_norm(x, self.num_features, self.weight, self.bias, self.eps), self.negative_slope)
        return _activate(super().forward(x), self.negative_slope)


class _BiasActNHWC(torch.autograd.Function):
    """leaky_relu(y + bias) of a channels_last convolution output as one Triton pass each way (torch takes a slow
    non-vectorised broadcast plus two more passes); saves only the output."""

    @staticmethod
    def forward(ctx, y, bias, slope):
        out = _norm_kernels().bias_act(y, bias, slope)
        ctx.slope, ctx.bias_dtype = slope, bias.dtype
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        kernels = _norm_kernels()
        if not kernels.pixel_stride(grad):
            grad = grad.contiguous(memory_format=torch.channels_last)
        dy, dbias = kernels.bias_act_grad(grad, out, ctx.slope)
        return dy, dbias.to(ctx.bias_dtype), None


def _activate(y: torch.Tensor, negative_slope: float | None) -> torch.Tensor:
    """Returns ``y`` after the leaky ReLU of ``negative_slope`` (0: ReLU) in place; ``y`` itself for None."""
    if negative_slope is None:
        return y
    if negative_slope == 0:
        return F.relu(y, inplace=True)
    return F.leaky_relu(y, negative_slope, inplace=True)


def _channels_last(x: torch.Tensor) -> bool:
    """Returns True for a 4-d channels_last tensor that is not also NCHW-contiguous."""
    return x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()


class Conv2dAct(nn.Conv2d):
    """nn.Conv2d (same parameters and state dict) followed by a leaky ReLU of ``negative_slope`` (0: ReLU), for layers
    without a norm; bias and activation are fused (`_BiasActNHWC`) where the Triton norms run."""

    def __init__(self, *args, negative_slope: float, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.negative_slope = negative_slope

    def extra_repr(self) -> str:
        """Returns nn.Conv2d's description plus the activation's slope."""
        return super().extra_repr() + f", negative_slope={self.negative_slope}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Returns the activated convolution of ``x`` (B, in_channels, H, W)."""
        if self.bias is not None and _triton_norm(x) and _norm_kernels() is not None:
            y = self._conv_forward(x, self.weight, None)
            if _channels_last(y):
                return _BiasActNHWC.apply(y, self.bias, self.negative_slope)
            return _activate(y + self.bias.to(y.dtype).view(1, -1, 1, 1), self.negative_slope)
        return _activate(super().forward(x), self.negative_slope)


LEAKY_SLOPE = 0.2
"""Negative slope of the encoders' leaky ReLUs (pix2pix); the decoder's ReLUs have slope 0."""


def _up_conv(in_channels: int, out_channels: int, mode: str, bias: bool) -> nn.Module:
    if mode == "transpose":
        return nn.ConvTranspose2d(in_channels, out_channels, 4, stride=2, padding=1, bias=bias)
    return nn.Sequential(
        nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=bias),
    )


class UNet(nn.Module):
    """Returns (B, out_channels, H, W) from (B, in_channels, H, W); any H, W (padded internally).

    pix2pix: encoder level i halves the resolution (4x4 stride 2) to ``min(base * 2**i, max)`` channels, the
    decoder mirrors it with skip concatenations; leaky ReLU (0.2) down, ReLU up; the first and innermost levels
    have no norm; the last layer is linear (callers apply tanh / keep logits)."""

    def __init__(self, in_channels: int, out_channels: int, config: UNetConfig) -> None:
        super().__init__()
        config.validate("UNet config")
        self.config = config
        self.in_channels, self.out_channels = in_channels, out_channels
        widths = [min(config.base_channels * 2**i, config.max_channels) for i in range(config.depth)]
        self.widths = widths
        # A convolution followed by a norm needs no bias: the norm subtracts the channel mean. The norms are affine:
        # with several identities per run the renderer needs its own scale and shift.
        normed_bias = config.conv_bias_before_norm

        self.down = nn.ModuleList()
        prev = in_channels
        for i, width in enumerate(widths):
            if 0 < i < config.depth - 1:
                layers = (nn.Conv2d(prev, width, 4, stride=2, padding=1, bias=normed_bias),
                          InstanceNorm2d(width, affine=True, negative_slope=LEAKY_SLOPE))
            else:  # the first and innermost levels have no norm
                layers = (Conv2dAct(prev, width, 4, stride=2, padding=1, negative_slope=LEAKY_SLOPE),)
            self.down.append(nn.Sequential(*layers))
            prev = width

        # Decoder level i brings level i+1's resolution up to level i's and concatenates skip i.
        self.up = nn.ModuleList()
        for i in reversed(range(config.depth - 1)):
            in_ch = widths[i + 1] if i == config.depth - 2 else 2 * widths[i + 1]
            self.up.append(nn.Sequential(
                _up_conv(in_ch, widths[i], config.upsample, normed_bias),
                InstanceNorm2d(widths[i], affine=True, negative_slope=0.0),
            ))
        final_in = widths[0] if config.depth == 1 else 2 * widths[0]
        self.final = _up_conv(final_in, out_channels, config.upsample, bias=True)

    @property
    def multiple(self) -> int:
        """Returns 2**depth: inputs whose sides are multiples of it need no padding."""
        return 2 ** self.config.depth

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Returns (B, out_channels, H, W) for ``x`` (B, in_channels, H, W)."""
        height, width = x.shape[-2:]
        m = self.multiple
        pad_h, pad_w = (-height) % m, (-width) % m
        if pad_h or pad_w:
            # Zero padding matches what the neural image holds on the background.
            x = F.pad(x, (0, pad_w, 0, pad_h))
        skips = []
        for layer in self.down:
            x = layer(x)
            skips.append(x)
        skips.pop()  # the bottleneck itself feeds the decoder directly
        for layer in self.up:
            x = layer(x)
            x = torch.cat([x, skips.pop()], dim=1)
        x = self.final(x)
        if pad_h or pad_w:
            x = x[..., :height, :width]
        return x
