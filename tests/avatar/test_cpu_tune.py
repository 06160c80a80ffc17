"""The CPU fast path: `Avatar.tune()` on the CPU and the group-norm form of instance norm match eager/native."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from anr_studio.avatar.avatar import Avatar
from anr_studio.model.unet import InstanceNorm2d


def _native(self, x):
    """torch's own instance norm (NCHW), then the norm's activation: the reference the CPU form is compared with."""
    y = F.instance_norm(x, weight=self.weight, bias=self.bias, eps=self.eps)
    return y if self.negative_slope is None else F.leaky_relu(y, self.negative_slope)


def test_cpu_instance_norm_matches_native(monkeypatch):
    torch.manual_seed(0)
    norm = InstanceNorm2d(6, affine=True)
    with torch.no_grad():
        norm.weight.uniform_(0.5, 1.5)
        norm.bias.uniform_(-0.5, 0.5)
    x = torch.randn(2, 6, 9, 7) * 3 + 1
    grads = []
    for native in (False, True):  # the module takes group norm on the CPU
        if native:
            monkeypatch.setattr(InstanceNorm2d, "forward", _native)
        xi = x.clone().requires_grad_(True)
        norm.zero_grad()
        out = norm(xi)
        (out * torch.linspace(-1, 1, out.numel()).reshape(out.shape)).sum().backward()
        grads.append((out.detach(), xi.grad, norm.weight.grad.clone(), norm.bias.grad.clone()))
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)
    monkeypatch.undo()
    cl = norm(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(cl, grads[1][0], atol=1e-5, rtol=1e-4)


def test_tuned_cpu_render_matches_eager(avatar_path, body, monkeypatch):
    monkeypatch.setattr(InstanceNorm2d, "forward", _native)  # the eager reference: torch's own instance norm, NCHW
    eager = Avatar.load(avatar_path, body=body)
    pose = np.zeros((2, 24, 3), np.float32)
    pose[:, 0, 1] = [0.3, -0.5]
    ref, mref = eager.render("bob", pose, None, size=48, background=None)
    monkeypatch.undo()
    fast = Avatar.load(avatar_path, body=body).tune(bf16=True, graphs=True)  # CPU: arguments ignored
    assert not fast.autocast and fast._network is fast.renderer
    weight = next(p for p in fast.renderer.parameters() if p.dim() == 4)
    assert weight.is_contiguous(memory_format=torch.channels_last) and not weight.is_contiguous()
    img, m = fast.render("bob", pose, None, size=48, background=None)
    assert img.shape == (2, 48, 48, 4) and m.dtype == np.float32
    assert np.abs(img.astype(int) - ref.astype(int)).max() <= 1
    np.testing.assert_allclose(m, mref, atol=1e-4)
    assert np.abs(ref[..., 3].astype(int) - 128).max() > 20  # the mask is not constant: the comparison means something
