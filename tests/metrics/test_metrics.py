"""Metrics against their formulas and values known by construction; LPIPS only with local backbone weights."""

import math

import numpy as np
import pytest
import torch

from anr_studio.errors import AnrError
from anr_studio.metrics import compute_metrics, flip, lpips_distance, lpips_status, mask_iou, psnr, ssim
from anr_studio.metrics.perceptual import ALEXNET_FILE, load_lpips


def noisy_pair(shape=(40, 52, 3), noise=25, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 256, shape, dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-noise, noise + 1, shape), 0, 255).astype(np.uint8)
    return a, b


def test_psnr_known_values():
    a = np.zeros((8, 8, 3), np.float32)
    b = np.full((8, 8, 3), 0.1, np.float32)
    assert psnr(a, b) == pytest.approx(20.0)  # MSE 0.01 -> 10 log10(1/0.01)
    assert psnr(a, a) == math.inf
    x, y = noisy_pair()
    mse = np.mean((x.astype(np.float64) - y) ** 2)
    assert psnr(x, y) == pytest.approx(10 * math.log10(255.0**2 / mse), abs=1e-9)
    assert psnr(x, y) == pytest.approx(psnr(x / 255.0, y / 255.0))


def wang_ssim(a: np.ndarray, b: np.ndarray, sigma: float = 1.5) -> float:
    """Mean SSIM by Wang et al.'s formula: separable Gaussian window (3.5 sigma), population statistics."""
    from scipy.ndimage import correlate1d

    a, b = (np.atleast_3d(x).astype(np.float64) / 255.0 for x in (a, b))
    r = int(3.5 * sigma + 0.5)
    x = np.arange(-r, r + 1, dtype=np.float64)
    k = np.exp(-0.5 * (x / sigma) ** 2)
    k /= k.sum()

    def blur(t):
        return correlate1d(correlate1d(t, k, axis=0), k, axis=1)[r:-r, r:-r]

    mx, my = blur(a), blur(b)
    vx, vy, cxy = blur(a * a) - mx * mx, blur(b * b) - my * my, blur(a * b) - mx * my
    c1, c2 = 0.01**2, 0.03**2
    return float((((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))).mean())


@pytest.mark.parametrize("shape,noise", [((40, 52, 3), 25), ((33, 31, 3), 80), ((24, 24), 5)])
def test_ssim_is_wang_et_al_with_a_gaussian_window(shape, noise):
    a, b = noisy_pair(shape, noise)
    assert ssim(a, b) == pytest.approx(wang_ssim(a, b), abs=1e-6)
    assert ssim(a, a) == pytest.approx(1.0)
    with pytest.raises(AnrError, match="too small"):
        ssim(a[:8, :8], b[:8, :8])


def test_flip_zero_for_identical_large_for_opposite_and_grows_with_noise():
    a, b = noisy_pair(noise=10)
    _, c = noisy_pair(noise=60)
    assert flip(a, a) == 0.0
    assert 0 < flip(b, a) < flip(c, a) < 1
    assert flip(np.zeros((32, 32, 3)), np.ones((32, 32, 3))) > 0.9


def test_mask_iou_hand_values():
    p = np.zeros((4, 4), np.uint8)
    t = np.zeros((4, 4), np.float32)
    p[:2] = 255  # 8 pixels
    t[1:3] = 0.9  # 8 pixels, 4 shared
    assert mask_iou(p, t) == pytest.approx(4 / 12)
    assert mask_iou(t, t) == 1.0
    assert mask_iou(np.zeros((4, 4)), np.zeros((4, 4))) == 1.0
    half = np.full((2, 2), 128, np.uint8)  # 8-bit masks are foreground from 128 of 255
    assert mask_iou(half, half + 127) == 1.0 and mask_iou(half, half - 1) == 0.0
    with pytest.raises(AnrError, match="predicted mask has shape"):
        mask_iou(np.zeros((4, 5)), t)


def test_bad_inputs_are_anr_errors():
    a, _ = noisy_pair()
    with pytest.raises(AnrError, match="prediction has shape"):
        psnr(a[:10], a)
    with pytest.raises(AnrError, match="dtype"):
        psnr(a.astype(np.int32), a)
    with pytest.raises(AnrError, match="NaN"):
        psnr(np.full((4, 4, 3), np.nan), np.zeros((4, 4, 3)))


def test_lpips_is_none_without_backbone_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    a, b = noisy_pair()
    status = lpips_status()
    assert status.startswith("unavailable") and ALEXNET_FILE in status
    assert lpips_distance(a, b) is None
    metrics = compute_metrics(a, b, np.ones((40, 52)), np.ones((40, 52)))
    assert metrics["lpips"] is None and metrics["mask_iou"] == 1.0
    assert metrics["psnr"] == pytest.approx(psnr(a, b)) and metrics["ssim"] == pytest.approx(ssim(a, b))
    with pytest.raises(AnrError, match=ALEXNET_FILE):
        load_lpips()


def test_lpips_uses_a_local_backbone_file(tmp_path, monkeypatch):
    """A stand-in AlexNet file (random values of the right shapes) is loaded, never downloaded."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    from torchvision.models import alexnet

    with torch.device("meta"):
        shapes = {f"features.{k}": v.shape for k, v in alexnet().features.state_dict().items()}
    gen = torch.Generator().manual_seed(0)
    state = {k: torch.randn(s, generator=gen) * 0.05 for k, s in shapes.items()}
    path = tmp_path / "hub" / "checkpoints" / ALEXNET_FILE
    path.parent.mkdir(parents=True)
    torch.save(state, path)
    assert lpips_status() == "available"
    model = load_lpips()
    torch.testing.assert_close(model.net.slice1[0].weight, state["features.0.weight"])
    a, b = noisy_pair(noise=10)
    _, c = noisy_pair(noise=60)
    assert lpips_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    assert 0 < lpips_distance(b, a) < lpips_distance(c, a)
