"""Mask extraction from the background plate: IoU against known masks, the `masks` command."""

from __future__ import annotations

import re

import cv2
import numpy as np
import pytest

from anr_studio.capture import Capture, CaptureWriter
from anr_studio.capture.masks import MaskConfig, extract_mask
from anr_studio.metrics import mask_iou
from anr_studio.cli import main
from anr_studio.errors import AnrError

H, W = 96, 80


def textured_background(seed: int = 0) -> np.ndarray:
    """Returns a busy (H,W,3) uint8 plate: smooth colour blobs, stripes and fine noise."""
    rng = np.random.default_rng(seed)
    low = cv2.resize(rng.uniform(40, 215, (6, 5, 3)).astype(np.float32), (W, H), interpolation=cv2.INTER_CUBIC)
    yy, xx = np.mgrid[0:H, 0:W]
    stripes = 25 * np.sin(xx * 0.9 + yy * 0.3)[..., None] * np.array([1.0, 0.6, 0.2])
    img = low + stripes + rng.normal(0, 4, (H, W, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def draw_figure(i: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Returns a person-like figure at frame ``i``: colour (H,W,3) float and soft alpha (H,W) in [0,1],
    drawn at 4x and box-filtered down, so the edge is anti-aliased like a rendered frame."""
    s = 4
    canvas = np.zeros((H * s, W * s, 3), np.uint8)
    alpha = np.zeros((H * s, W * s), np.uint8)
    cx = int((22 + 3 * i) * s)
    swing = int(8 * np.sin(i * 0.8) * s)
    parts = [
        ("ellipse", ((cx, 16 * s), (7 * s, 8 * s)), (230, 190, 160)),  # head
        ("poly", [(cx - 10 * s, 26 * s), (cx + 10 * s, 26 * s), (cx + 12 * s, 58 * s), (cx - 12 * s, 58 * s)], (200, 40, 60)),
        ("line", [(cx - 6 * s, 58 * s), (cx - 8 * s + swing, 88 * s)], (30, 40, 120)),  # legs
        ("line", [(cx + 6 * s, 58 * s), (cx + 8 * s - swing, 88 * s)], (30, 40, 120)),
        ("line", [(cx - 10 * s, 28 * s), (cx - 18 * s - swing // 2, 52 * s)], (200, 40, 60)),  # arms
        ("line", [(cx + 10 * s, 28 * s), (cx + 18 * s + swing // 2, 52 * s)], (200, 40, 60)),
    ]
    for kind, geo, colour in parts:
        for img, value in ((canvas, colour), (alpha, 255)):
            if kind == "ellipse":
                cv2.ellipse(img, geo[0], geo[1], 0, 0, 360, value, -1)
            elif kind == "poly":
                cv2.fillPoly(img, [np.array(geo, np.int32)], value)
            else:
                cv2.line(img, geo[0], geo[1], value, 5 * s)
    # a printed pattern on the shirt: high-frequency detail, partly close to the plate's colours
    yy, xx = np.mgrid[0 : H * s, 0 : W * s]
    shirt = (canvas[..., 0] == 200) & (((yy // (3 * s)) % 2) == 0)
    canvas[shirt] = (240, 220, 90)
    colour = cv2.resize(canvas.astype(np.float32), (W, H), interpolation=cv2.INTER_AREA)
    soft = cv2.resize(alpha.astype(np.float32) / 255.0, (W, H), interpolation=cv2.INTER_AREA)
    return colour, soft


def make_frames(n: int, seed: int = 0):
    """Returns (frames (n,H,W,3) uint8, true masks (n,H,W) uint8, plate (H,W,3) uint8)."""
    bg = textured_background(seed)
    rng = np.random.default_rng(seed + 1)
    frames, masks = [], []
    for i in range(n):
        colour, alpha = draw_figure(i, seed)
        # the area filter premultiplied the colour by the coverage: composite as premultiplied alpha
        img = colour + (1 - alpha[..., None]) * bg + rng.normal(0, 2.0, (H, W, 3))
        frames.append(np.clip(img, 0, 255).astype(np.uint8))
        masks.append(np.clip(alpha * 255 + 0.5, 0, 255).astype(np.uint8))
    return np.stack(frames), np.stack(masks), bg


def test_extract_mask_matches_known_figure():
    frames, masks, bg = make_frames(6)
    ious = [mask_iou(extract_mask(f, bg), m) for f, m in zip(frames, masks)]
    coarse = [mask_iou(extract_mask(f, bg, MaskConfig(refine=False)), m) for f, m in zip(frames, masks)]
    print(f"IoU refined {np.mean(ious):.4f} (min {np.min(ious):.4f}), coarse {np.mean(coarse):.4f}")
    # Limbs here are 5 px wide, so one pixel of anti-aliased edge is ~5 % IoU: the bound is
    # lower than on synthetic captures at 256 px (0.976-0.988, docs/results.md).
    assert np.mean(ious) >= 0.93 and min(ious) >= 0.92
    assert np.mean(ious) >= np.mean(coarse) - 0.005
    for f in frames[:2]:  # GrabCut only grows the plate-difference mask, never shaves it
        config = MaskConfig(feather_sigma=0)
        grown = extract_mask(f, bg, config) >= 128
        plain = extract_mask(f, bg, MaskConfig(feather_sigma=0, refine=False)) >= 128
        assert np.all(grown[plain])
    soft = extract_mask(frames[0], bg)
    assert soft.dtype == np.uint8 and soft.shape == (H, W)
    assert ((soft > 0) & (soft < 255)).any()  # soft edge, not a hard cut-out
    assert extract_mask(bg, bg).max() == 0  # an empty scene has no foreground


def _capture(path, frames, masks, bg, with_masks: bool):
    h, w = bg.shape[:2]
    K = np.array([[80.0, 0, w / 2], [0, 80.0, h / 2], [0, 0, 1]], np.float32)
    with CaptureWriter(path, "drawn", h, w, 30, betas=np.zeros(10), camera=(K, np.eye(3), [0, 0, 3]),
                       background=bg) as w:
        for f, m in zip(frames, masks):
            w.append(f, mask=m if with_masks else None, pose=np.zeros((24, 3)))


def test_masks_command_adds_masks(tmp_path, capsys):
    frames, masks, bg = make_frames(4, seed=3)
    path = tmp_path / "cap.h5"
    _capture(path, frames, masks, bg, with_masks=False)
    assert main(["masks", str(path), "--quiet"]) == 0
    assert "wrote 4 masks" in capsys.readouterr().out
    cap = Capture(path)
    assert cap.has_masks
    assert np.mean([mask_iou(cap.mask(i), masks[i]) for i in range(4)]) >= 0.93
    np.testing.assert_array_equal(cap.frame(2), frames[2])
    assert main(["masks", str(path), "--quiet"]) == 2  # refuses to replace without --overwrite
    assert "expected --overwrite" in capsys.readouterr().err


def test_overwrite_reports_iou_against_replaced_masks(tmp_path, capsys):
    frames, masks, bg = make_frames(3, seed=5)
    path = tmp_path / "cap.h5"
    _capture(path, frames, masks, bg, with_masks=True)
    assert main(["masks", str(path), "--overwrite", "--quiet"]) == 0
    out = capsys.readouterr().out
    mean_iou = float(out.split("IoU against the replaced masks: mean ")[1].split(",")[0])
    assert mean_iou >= 0.93


def test_learned_masks_without_mediapipe_are_one_sentence(tmp_path, capsys, monkeypatch):
    frames, masks, bg = make_frames(2, seed=3)
    path = tmp_path / "cap.h5"
    _capture(path, frames, masks, bg, with_masks=False)
    monkeypatch.setitem(__import__("sys").modules, "mediapipe", None)  # as if not installed
    assert main(["masks", str(path), "--method", "learned", "--quiet"]) == 2
    assert capsys.readouterr().err == ("anr-studio: error: MediaPipe is not installed, expected pip install "
                                       "'anr-studio[video]' for fitting a video's poses and for learned masks\n")


def test_auto_masks_without_mediapipe_say_why_the_plate_method_ran(tmp_path, capsys, monkeypatch):
    frames, masks, bg = make_frames(2, seed=3)
    path = tmp_path / "cap.h5"
    _capture(path, frames, masks, bg, with_masks=False)
    monkeypatch.setitem(__import__("sys").modules, "mediapipe", None)  # as if not installed
    assert main(["masks", str(path), "--quiet"]) == 0
    assert capsys.readouterr().out.endswith(" [plate method: the only one without MediaPipe's person segmenter "
                                            "(pip install 'anr-studio[video]')]\n")
    # a segmenter file asked for by name is used or refused, never replaced by the plate
    assert main(["masks", str(path), "--overwrite", "--segmenter", str(tmp_path / "typo.safetensors"), "--quiet"]) == 2
    assert capsys.readouterr().err.startswith(f"anr-studio: error: {tmp_path / 'typo.safetensors'}: file not found")


def test_shape_mismatch_is_an_error():
    with pytest.raises(AnrError, match="expected the background's"):
        extract_mask(np.zeros((4, 4, 3), np.uint8), np.zeros((5, 4, 3), np.uint8))


def test_learned_masks_grow_as_far_with_one_grabcut_iteration_as_with_three():
    from anr_studio.capture.masks import learned_mask

    frames, masks, _ = make_frames(4, seed=3)
    for frame, truth in zip(frames, masks):
        # a segmenter's output: confident in the core, unsure (below 0.5) over a rim one pixel wide
        person = (truth >= 128).astype(np.float32)
        core = cv2.erode(person, np.ones((3, 3), np.uint8))
        prob = 0.9 * core + 0.4 * (person - core)
        bare = mask_iou(learned_mask(frame, prob, MaskConfig(refine=False)), truth)
        one, three = (mask_iou(learned_mask(frame, prob, c), truth) for c in (None, MaskConfig()))
        assert one > 0.85 and one > bare + 0.1 and abs(one - three) < 0.03



@pytest.fixture(scope="module")
def walker(tmp_path_factory):
    """Returns (frames, true masks, plate) of a rendered person walking before a still camera (96², 6 frames)."""
    from anr_studio.capture.synth.generate import SynthConfig, generate_capture

    path = tmp_path_factory.mktemp("walker") / "walker.h5"
    generate_capture(path, SynthConfig(seed=2, frames=6, size=96, tracking_noise=0.0, sensor_noise=0.0))
    cap = Capture(path)
    return np.stack([cap.frame(i) for i in range(6)]), np.stack([cap.mask(i) for i in range(6)]), cap.background


def test_the_plate_asked_for_by_name_runs_and_warns_of_a_moving_camera(walker, tmp_path, capsys, monkeypatch):
    frames, masks, plate = walker
    still, moving = tmp_path / "still.h5", tmp_path / "moving.h5"
    _capture(still, frames, masks, plate, with_masks=False)
    # A hand-held camera: the plate was shot first, then the scene slides 2 px a frame (2.08 % of the long side).
    _capture(moving, [np.roll(f, 2 * i, axis=1) for i, f in enumerate(frames)], masks, plate, with_masks=False)
    monkeypatch.setitem(__import__("sys").modules, "mediapipe", None)  # no segmenter: the camera's motion alone
    assert main(["masks", str(still), "--method", "plate", "--quiet"]) == 0
    assert "Warning" not in capsys.readouterr().out
    assert main(["masks", str(moving), "--method", "plate", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("moving.h5: wrote 6 masks") and Capture(moving).has_masks  # it ran
    seen = re.search(r"s\. Warning: the camera moves \((\d+\.\d\d)% of the frame between frames\), so these plate masks "
                     r"are likely wrong: use the learned or auto method \(--method learned or auto\)\.\n$", out)
    assert seen and abs(float(seen[1]) - 2.08) < 0.2, out


def test_the_plate_asked_for_by_name_warns_of_a_person_on_the_plate_the_segmenter_sees(walker, tmp_path):
    from anr_studio.capture.masks import masks_into

    frames, masks, plate = walker
    truth = {f.tobytes(): m / 255.0 for f, m in zip(frames, masks)}
    truth[plate.tobytes()] = np.zeros(plate.shape[:2])

    def segmenter(images):  # knows each frame's true mask
        return np.stack([truth[im.tobytes()] for im in images])

    clean, spoilt = tmp_path / "clean.h5", tmp_path / "spoilt.h5"
    _capture(clean, frames, masks, plate, with_masks=False)
    _capture(spoilt, frames, masks, frames[0], with_masks=False)  # the plate was taken with the person in it
    assert "Warning" not in masks_into(clean, "plate", segmenter=segmenter)
    report = masks_into(spoilt, "plate", segmenter=segmenter)
    share = 100 * (masks[0] >= 128).mean()
    assert report.startswith("spoilt.h5: wrote 6 masks") and Capture(spoilt).has_masks
    assert report.endswith(f"s. Warning: the background plate shows a person ({share:.1f}% of it), so these plate "
                           "masks are likely wrong: use the learned or auto method (--method learned or auto).")
