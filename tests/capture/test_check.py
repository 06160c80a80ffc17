"""`capture check`: per-frame IoU of the coarse body against the masks, a verdict, an overlay; import warns."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from anr_studio.capture import Capture
from anr_studio.capture.check import check_alignment, draw_label, overlay_frames
from anr_studio.capture.store import CaptureWriter
from anr_studio.capture.synth.generate import SynthConfig, generate_capture
from anr_studio.cli import main


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    path = tmp_path_factory.mktemp("check") / "synth.h5"
    generate_capture(path, SynthConfig(seed=3, frames=8, size=64, motion="dance", tracking_noise=0.0))
    return Capture(path)


def _shifted(cap, path, offset):
    """Writes a copy of ``cap`` with every translation moved by ``offset`` (3,) metres; returns it."""
    h, w = cap.image_size
    with CaptureWriter(path, cap.identity, h, w, cap.fps, betas=cap.betas, background=cap.background) as wr:
        wr.set_cameras(*(np.stack(a) for a in zip(*(cap.camera(i) for i in range(len(cap))))))
        wr.set_body(np.stack([cap.pose(i) for i in range(len(cap))]),
                    np.stack([cap.transl(i) for i in range(len(cap))]) + np.asarray(offset, np.float32))
        for i in range(len(cap)):
            wr.append(cap.frame(i), mask=cap.mask(i))
    return Capture(path)


def test_a_fitting_body_is_good_and_a_misplaced_one_poor(synth, tmp_path):
    good = check_alignment(synth)
    assert good.verdict == "good" and np.median(good.iou) > 0.6 and len(good.iou) == len(synth)
    assert good.summary().startswith("median IoU 0.") and "alignment good" in good.summary()
    bad = check_alignment(_shifted(synth, tmp_path / "off.h5", [0, -1.0, 0]))  # a metre low, as raw SMPL fits land
    assert bad.poor and np.median(bad.iou) < 0.2 and "alignment poor" in bad.summary()


def test_overlay_draws_outline_and_skeleton(synth):
    report = check_alignment(synth, indices=[0, 5])
    frames = list(overlay_frames(synth, indices=[0, 5], report=report))
    assert len(frames) == 2 and frames[0].shape == (*synth.image_size, 3)
    changed = np.abs(frames[0].astype(int) - synth.frame(0)).sum(-1) > 0
    yellow = np.abs(frames[0].astype(int) - (255, 230, 0)).sum(-1) < 60
    red = (np.abs(frames[0].astype(int) - (255, 60, 60)).sum(-1) < 60)
    assert changed.mean() > 0.02 and yellow.sum() > 10 and red.sum() > 5


@pytest.mark.parametrize("scale", [0.4, 0.45, 1.0])
def test_labels_black_rim_hugs_the_white_letters(scale):
    """The overlay's and contact sheet's labels stay legible at small sizes (a 128² capture's overlay): the black
    rim lies within two pixels of the white letters, its letters never drifting off them along the line."""
    img = np.full((40, 260, 3), 128, np.uint8)
    draw_label(img, "#149 IoU 0.61 test key", 25, scale)
    white, dark = (img > 150).all(-1), (img < 40).all(-1)
    near_white = cv2.dilate(white.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0  # within 2 pixels
    assert white.sum() > 150 and dark.sum() > white.sum() / 2
    assert (dark & ~near_white).sum() < 0.02 * dark.sum()  # a thicker rim's drifting letters: 13-28 %


def test_cli_check_writes_png_and_mp4(synth, tmp_path, capsys):
    png, mp4 = tmp_path / "o.png", tmp_path / "o.mp4"
    assert main(["capture", "check", str(synth.path), "--out", str(png)]) == 0
    assert main(["capture", "check", str(synth.path), "--out", str(mp4)]) == 0
    out = capsys.readouterr().out
    assert "alignment good" in out and f"\nwrote {png}\n" in out and out.endswith(f"\nwrote {mp4}\n")
    img = cv2.imread(str(png))
    assert img is not None and img.shape[0] == 2 * 360  # 8 frames in rows of 4
    video = cv2.VideoCapture(str(mp4))
    assert int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == len(synth)
    video.release()
