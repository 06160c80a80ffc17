"""Sharpness, flicker, periodic-artefact and try-on figures on images whose answer is known."""

import cv2
import numpy as np
import pytest

from anr_studio.errors import AnrError
from benchmarks.scores import ARTEFACT_RATIO, flicker, high_frequency_ratio, lattice_peak_ratio, tryon_scores


def _scene(seed: int = 0, n: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """Returns (HWC uint8 image with curved stripes and noise, (H, W) float mask of an ellipse)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:n, :n]
    base = cv2.GaussianBlur(rng.normal(0, 1, (n, n)), (0, 0), 3) * 40 + 128
    stripes = 20 * np.sin((x + 0.3 * y + 10 * np.sin(y / 30)) / (2.5 + seed / 7))
    gray = np.clip(base + stripes + rng.normal(0, 1.5, (n, n)), 0, 255)
    mask = ((x - n / 2) ** 2 / (0.4 * n) ** 2 + (y - n / 2) ** 2 / (0.45 * n) ** 2 < 1).astype(np.float32)
    return np.repeat(gray[..., None], 3, -1).astype(np.uint8), mask


def test_sharpness_is_one_for_the_truth_and_drops_with_blur():
    image, mask = _scene()
    assert high_frequency_ratio(image, image, mask) == pytest.approx(1.0)
    soft = cv2.GaussianBlur(image, (0, 0), 1.5)
    softer = cv2.GaussianBlur(image, (0, 0), 3.0)
    r1, r2 = high_frequency_ratio(soft, image, mask), high_frequency_ratio(softer, image, mask)
    assert r2 < r1 < 0.5
    assert high_frequency_ratio(image, image, np.zeros_like(mask)) is None


def test_flicker_is_zero_for_a_linear_fade_and_large_for_popping():
    image, mask = _scene()
    smooth = [np.clip(image.astype(float) + 2 * t, 0, 255).astype(np.uint8) for t in range(6)]
    assert flicker(smooth, [mask] * 6) < 0.2
    popping = [np.clip(image.astype(float) + (8 if t % 2 else 0), 0, 255).astype(np.uint8) for t in range(6)]
    assert flicker(popping, [mask] * 6) > 10
    with pytest.raises(AnrError):
        flicker(smooth[:2], [mask] * 2)


@pytest.mark.parametrize("seed", range(6))
def test_natural_content_passes_the_artefact_check(seed):
    image, mask = _scene(seed)
    assert lattice_peak_ratio(image, mask) < ARTEFACT_RATIO


@pytest.mark.parametrize("period", [2, 4, 8])
def test_a_faint_grid_locked_pattern_is_flagged(period):
    image, mask = _scene(1)
    y, x = np.mgrid[:image.shape[0], :image.shape[1]]
    dots = 3.0 * ((x % period == 0) & (y % period == 0))  # a lattice of dots 3 levels bright
    dotted = np.clip(image + dots[..., None], 0, 255).astype(np.uint8)
    assert lattice_peak_ratio(dotted, mask) > ARTEFACT_RATIO
    diagonal = 1.5 * np.cos(2 * np.pi * (x + y) / period)  # diagonal stripes of ±1.5 levels
    assert lattice_peak_ratio(np.clip(image + diagonal[..., None], 0, 255).astype(np.uint8), mask) > ARTEFACT_RATIO


def test_tryon_scores_of_a_perfect_and_of_a_failed_swap():
    n = 32
    a = np.zeros((n, n, 3), np.uint8); a[..., 0] = 200  # A: red
    b = np.zeros((n, n, 3), np.uint8); b[..., 2] = 200  # B: blue
    region = np.zeros((n, n), bool); region[8:20, 8:24] = True
    perfect = np.where(region[..., None], a, b)
    scores = tryon_scores(perfect, a, b, region)
    assert scores["fidelity"] == pytest.approx(1.0) and scores["leakage"] == pytest.approx(0.0)
    assert scores["pixels"] == region.sum()
    failed = tryon_scores(b, a, b, region)  # nothing changed
    assert failed["fidelity"] == pytest.approx(0.0) and failed["leakage"] == pytest.approx(0.0)
    leaky = tryon_scores(a, a, b, region)  # everything changed
    assert leaky["fidelity"] == pytest.approx(1.0) and leaky["leakage"] == pytest.approx(1.0)
    half = tryon_scores(((a.astype(int) + b) // 2).astype(np.uint8), a, b, region)
    assert half["fidelity"] == pytest.approx(0.5, abs=0.01)
    assert tryon_scores(a, a, a, region)["fidelity"] is None  # A and B alike: undefined
