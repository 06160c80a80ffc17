"""Capture panel (frames, outline, mask views) and keyframes panel (background selection, curve, hand edits)."""

from __future__ import annotations

import numpy as np
from PySide6 import QtGui


def qimage_to_array(img: QtGui.QImage) -> np.ndarray:
    """Returns (H,W,4) uint8 RGBA pixels of ``img``."""
    img = img.convertToFormat(QtGui.QImage.Format.Format_RGBA8888)
    ptr = img.constBits()
    arr = np.frombuffer(ptr, np.uint8, count=img.sizeInBytes()).reshape(img.height(), img.bytesPerLine())
    return arr[:, : img.width() * 4].reshape(img.height(), img.width(), 4).copy()


def test_capture_panel_scrubs_frames_and_draws_outline_and_mask(window, qtbot, tiny_capture):
    window.open_path(tiny_capture)
    panel = window.capture_panel
    assert panel.capture is not None and panel.slider.maximum() == 5
    assert tiny_capture in [window.training_panel.captures.item(i).text() for i in range(window.training_panel.captures.count())]
    with_outline = qimage_to_array(panel.image.image())[..., :3]
    panel.outline_box.setChecked(False)
    plain = qimage_to_array(panel.image.image())[..., :3]
    np.testing.assert_array_equal(plain, panel.capture.frame(0))
    green = (with_outline[..., 1] > 200) & (with_outline[..., 0] < 120) & (with_outline[..., 2] < 160)
    assert green.sum() > 20, "no outline drawn"
    # The outline hugs the mask boundary: its pixels lie within 2 px of the mask's edge.
    import cv2

    m = panel.capture.mask(0)
    edge = cv2.morphologyEx((m > 127).astype(np.uint8), cv2.MORPH_GRADIENT, np.ones((5, 5), np.uint8)) > 0
    assert edge[green].mean() > 0.9
    panel.mask_box.setCurrentIndex(2)
    np.testing.assert_array_equal(qimage_to_array(panel.image.image())[..., 0], m)
    panel.slider.setValue(3)
    assert panel.frame_label.text() == "4/6"
    before = window.pose_state.pose.copy()
    panel.pose_btn.click()
    np.testing.assert_allclose(window.pose_state.pose, panel.capture.pose(3))
    window.act_undo.trigger()
    window.act_undo.trigger()
    np.testing.assert_allclose(window.pose_state.pose, before)


def test_keyframes_selection_runs_in_background_and_hand_edits(window, qtbot, tiny_capture):
    window.open_path(tiny_capture)
    kp = window.keyframes_panel
    assert kp.indices == [0, 3]  # stored in the capture
    kp.fraction.setValue(0.5)
    job = kp.start_selection()
    qtbot.waitUntil(lambda: not job.status.state.active and not kp.watcher.active, timeout=60000)
    assert job.status.snapshot().error is None
    xs, ys = kp.curve.getData()
    assert len(kp.indices) >= 1 and len(xs) == len(kp.indices)
    assert np.all(np.diff(ys) >= -1e-6) and 0 < ys[-1] <= 1.0  # cumulative coverage rises
    assert kp.thumbs.count() == len(kp.indices)
    from anr_studio.capture import Capture

    np.testing.assert_array_equal(np.sort(Capture(tiny_capture).keyframes), kp.indices)
    # The capture's summary counts the keyframes the job wrote, not those the file held when it was opened.
    assert window.capture_panel.info.text().endswith(f"keyframes {len(kp.indices)}")
    window.capture_panel.slider.setValue(4)
    kp.add_current()
    assert 4 in kp.indices
    kp.save()
    assert window.capture_panel.info.text().endswith(f"keyframes {len(kp.indices)}")
    assert window.capture_panel.slider.value() == 4, "saving moved the capture panel off its frame"
    kp.thumbs.item(0).setSelected(True)
    first = kp.indices[0]
    kp.remove_selected()
    assert first not in kp.indices
    kp.save()
    assert sorted(Capture(tiny_capture).keyframes.tolist()) == kp.indices


def test_make_synthetic_capture_runs_in_background_and_opens_it(window, qtbot, tmp_path):
    out = tmp_path / "synth.h5"
    job = window.capture_panel.make_synthetic(str(out), frames=2, size=32)
    window.job_list.refresh()
    assert [w.name.text() for w in window.job_list.rows.values()] == ["synthetic capture"]
    qtbot.waitUntil(lambda: window.capture_panel.capture is not None, timeout=60000)
    assert job.status.snapshot().error is None and out.exists()
    assert window.capture_panel.path == str(out) and window.capture_panel.frame_label.text() == "1/2"
    assert str(out) in [window.training_panel.captures.item(i).text() for i in range(window.training_panel.captures.count())]


def test_unsaved_keyframe_edits_survive_a_masks_rewrite(window, qtbot, tiny_capture, tmp_path, standin_body):
    """Reopening the capture after its masks were rewritten keeps hand edits; another capture loads its own."""
    window.open_path(tiny_capture)
    kp = window.keyframes_panel
    assert kp.indices == [0, 3] and not kp.unsaved
    window.capture_panel.slider.setValue(4)
    kp.add_current()
    kp.thumbs.item(0).setSelected(True)
    kp.remove_selected()
    assert kp.indices == [3, 4] and kp.unsaved and "not saved" in kp.info.text()
    job = window.capture_panel.start_masks(method="plate")
    qtbot.waitUntil(lambda: "wrote 6 masks" in window.capture_panel.info.text(), timeout=60000)
    assert job.status.snapshot().error is None
    assert kp.indices == [3, 4] and kp.unsaved and kp.thumbs.count() == 2
    kp.save()
    from anr_studio.capture import Capture

    assert sorted(Capture(tiny_capture).keyframes.tolist()) == [3, 4] and not kp.unsaved
    window.capture_panel.slider.setValue(1)
    kp.add_current()
    assert kp.unsaved
    from tests.standin import write_standin_capture

    other = str(write_standin_capture(tmp_path / "other.h5", standin_body))
    window.open_path(other)
    assert kp.indices == [0, 3] and not kp.unsaved


def test_plate_masks_of_a_moving_camera_show_the_report_s_warning(window, qtbot, tmp_path):
    """The masks report in the capture panel says what spoils plate masks asked for by name."""
    from anr_studio.capture.synth.generate import SynthConfig, generate_capture
    from anr_studio.capture import Capture
    from tests.capture.test_masks import _capture
    from tests.gui.test_job_list import _save

    generate_capture(tmp_path / "walker.h5", SynthConfig(seed=2, frames=6, size=96, tracking_noise=0.0, sensor_noise=0.0))
    cap = Capture(tmp_path / "walker.h5")
    moving = tmp_path / "moving.h5"  # the scene slides 2 px a frame: a hand-held camera
    _capture(moving, [np.roll(cap.frame(i), 2 * i, axis=1) for i in range(6)], [None] * 6, cap.background,
             with_masks=False)
    window.open_path(str(moving))
    job = window.capture_panel.start_masks(method="plate")
    qtbot.waitUntil(lambda: "wrote 6 masks" in window.capture_panel.info.text(), timeout=60000)
    assert job.status.snapshot().error is None and window.capture_panel.capture.has_masks
    text = window.capture_panel.info.text()
    assert "Warning: the camera moves (" in text and text.endswith("use the learned or auto method (--method learned "
                                                                    "or auto).")
    info = window.capture_panel.info  # the whole report shows, wrapped, once the panel has laid it out
    qtbot.waitUntil(lambda: info.height() >= info.heightForWidth(info.width()) > 2 * info.fontMetrics().height() - 4)
    _save(window.capture_panel, "capture_panel_plate_masks_warning.png")
