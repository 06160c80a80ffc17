"""Capture jobs report progress and stop cleanly: a cancelled import, masks or video fit writes nothing."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from anr_studio.capture import Capture
from anr_studio.components.status import JobState
from anr_studio.jobs import capture_jobs
from anr_studio.jobs.runner import BackgroundJob


@pytest.fixture(scope="module")
def standin_body():
    from tests.standin import standin_body

    return standin_body()


@pytest.fixture
def standin_capture(tmp_path, standin_body):
    from tests.standin import write_standin_capture

    return write_standin_capture(tmp_path / "tiny.h5", standin_body)


def _job(fn, stop_when=None):
    """Returns a (not started) job; ``stop_when(done, total, stage)`` True asks it to stop from its own progress report."""
    job = BackgroundJob("test", fn)
    seen = []
    report = job.status.set_progress

    def set_progress(done, total=None, message=None):
        report(done, total, message)
        seen.append((done, total, message))
        if stop_when is not None and stop_when(done, total, message):
            job.stop()

    job.status.set_progress = set_progress
    job.seen = seen
    return job


def _leftovers(folder, keep):
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


def _image_folder(tmp_path, n=5, h=40, w=32):
    src = tmp_path / "subject"
    (src / "images").mkdir(parents=True)
    yy, xx = np.mgrid[0:h, 0:w]
    for i in range(n):
        frame = np.stack([40 + 4 * xx + 10 * i, 30 + 3 * yy, np.full_like(xx, 200 - 20 * i)], -1).clip(0, 255).astype(np.uint8)
        cv2.imwrite(str(src / "images" / f"{i:04d}.png"), frame[..., ::-1])
    K = np.array([[50.0, 0, w / 2], [0, 50.0, h / 2], [0, 0, 1]])
    E = np.eye(4)
    E[:3, 3] = [0.0, 0.0, 3.0]
    np.savez(src / "fits.npz", poses=np.zeros((n, 72)), trans=np.zeros((n, 3)), betas=np.zeros(10), K=K, E=E)
    return src


def test_import_reports_each_frame_and_a_cancelled_import_writes_nothing(tmp_path):
    src = _image_folder(tmp_path)
    out = tmp_path / "out.h5"
    job = _job(lambda c: capture_jobs.import_capture(c, str(src), str(out)), stop_when=lambda d, t, s: d == 2)
    assert job.start().join(60)
    assert job.status.state == JobState.STOPPED and job.seen[-1][:2] == (2, 5)
    assert not out.exists() and _leftovers(tmp_path, {"subject"}) == []

    job = _job(lambda c: capture_jobs.import_capture(c, str(src), str(out)))
    assert job.start().join(60) and job.status.state == JobState.FINISHED, job.status.snapshot().error
    assert [d for d, _, _ in job.seen] == [1, 2, 3, 4, 5] and len(Capture(out)) == 5


def test_masks_job_replaces_masks_and_a_cancelled_one_leaves_the_capture_as_it_was(tmp_path, standin_capture):
    before = np.stack([Capture(standin_capture).mask(i) for i in range(6)])
    stat = (tmp_path / "tiny.h5").stat()
    job = _job(lambda c: capture_jobs.extract_masks(c, standin_capture, "plate"), stop_when=lambda d, t, s: d == 3)
    assert job.start().join(60) and job.status.state == JobState.STOPPED
    after = (tmp_path / "tiny.h5").stat()
    assert (after.st_mtime_ns, after.st_ino) == (stat.st_mtime_ns, stat.st_ino)
    np.testing.assert_array_equal(np.stack([Capture(standin_capture).mask(i) for i in range(6)]), before)
    assert _leftovers(tmp_path, {"tiny.h5"}) == []

    job = _job(lambda c: capture_jobs.extract_masks(c, standin_capture, "plate"))
    assert job.start().join(60) and job.status.state == JobState.FINISHED, job.status.snapshot().error
    assert "wrote 6 masks" in job.result and job.seen[-1][:2] == (6, 6)
    cap = Capture(standin_capture)
    # The plate method finds the person the stand-in capture rasterized (grey plate, checker clothes).
    iou = [((cap.mask(i) > 127) & (before[i] > 127)).sum() / ((cap.mask(i) > 127) | (before[i] > 127)).sum() for i in range(6)]
    assert min(iou) > 0.8


def test_alignment_check_job_reports_chunks_and_a_good_verdict(standin_capture, standin_body):
    job = _job(lambda c: capture_jobs.check_alignment(c, standin_capture, standin_body))
    assert job.start().join(60) and job.status.state == JobState.FINISHED, job.status.snapshot().error
    report = job.result
    assert report.verdict == "good" and len(report.iou) == 6 and float(np.median(report.iou)) > 0.9
    assert job.seen[-1][:2] == (6, 6)


class StillKeypoints:
    """A keypoint estimator that sees one person standing in the middle of every frame."""

    layout = "coco17"

    def __call__(self, frames):
        from anr_studio.capture.video_fit.models import Keypoints

        n, h, w = frames.shape[:3]
        pts = np.tile(np.linspace([w * 0.4, h * 0.2], [w * 0.6, h * 0.8], 17, dtype=np.float32), (n, 1, 1))
        return Keypoints(pts, np.full((n, 17), 0.9, np.float32), None, np.ones(n, np.int64), self.layout)


def _segmenter(frames):
    prob = np.zeros(frames.shape[:3], np.float32)
    prob[:, 8:-8, 10:-10] = 1.0
    return prob


@pytest.mark.parametrize("stage", ["keypoints + masks", "body fit"])
def test_video_import_without_poses_reports_its_stages_and_a_cancel_writes_nothing(tmp_path, stage):
    video = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 10, (32, 48))
    for i in range(12):
        writer.write(np.full((48, 32, 3), 40 + 10 * i, np.uint8))
    writer.release()
    out = tmp_path / "clip.h5"
    job = _job(lambda c: capture_jobs.import_capture(c, str(video), str(out), estimator=StillKeypoints(), segmenter=_segmenter),
               stop_when=lambda d, t, s: s == stage)
    assert job.start().join(120) and job.status.state == JobState.STOPPED, job.status.snapshot().error
    assert job.seen[0] == (8, 12, "keypoints + masks") and job.seen[-1][2] == stage
    assert not out.exists() and _leftovers(tmp_path, {"clip.mp4"}) == []


def test_video_fit_names_the_extra_when_mediapipe_is_missing(monkeypatch):
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    msg = capture_jobs.video_fit_missing("clip.mp4")
    assert msg.startswith("clip.mp4: ") and "pip install 'anr-studio[video]'" in msg


def test_a_rewrite_waits_for_the_one_in_progress_so_neither_change_is_lost(standin_capture):
    import threading
    import time

    before = Capture(standin_capture).mask(0).copy()
    job = BackgroundJob("masks", lambda c: capture_jobs.extract_masks(c, standin_capture, "plate"))
    report = job.status.set_progress

    def pause_at_two(done, total=None, message=None):
        report(done, total, message)
        if done == 2:
            job.pause()  # holds mid-way, while its copy of the file is being written

    job.status.set_progress = pause_at_two
    job.start()
    t0 = time.monotonic()
    while job.status.state != JobState.PAUSED and time.monotonic() - t0 < 60:
        time.sleep(0.01)
    writer = threading.Thread(target=lambda: Capture(standin_capture).write_keyframes(np.array([1, 4])))
    writer.start()
    writer.join(0.5)
    assert writer.is_alive(), "the keyframes rewrite went ahead while the masks rewrite was in progress"
    job.resume()
    assert job.join(60) and job.status.state == JobState.FINISHED, job.status.snapshot().error
    writer.join(60)
    cap = Capture(standin_capture)
    assert cap.keyframes.tolist() == [1, 4]
    assert not np.array_equal(cap.mask(0), before)  # the extracted masks, not the ones they replaced


def test_video_fit_names_the_version_when_mediapipe_ships_no_model_files(monkeypatch, tmp_path):
    import importlib.machinery
    import importlib.util

    (tmp_path / "mediapipe").mkdir()
    (tmp_path / "mediapipe" / "__init__.py").write_text("")
    spec = importlib.machinery.ModuleSpec("mediapipe", None, origin=str(tmp_path / "mediapipe" / "__init__.py"))
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: spec)
    msg = capture_jobs.video_fit_missing("clip.mp4")
    assert msg.startswith("clip.mp4: the installed MediaPipe does not ship its model files, expected mediapipe==0.10.14")


def test_video_import_job_passes_the_persons_height_to_the_fit(monkeypatch, tmp_path):
    from anr_studio.capture.video_fit import pipeline

    seen = {}

    class Written:
        def close(self):
            seen["closed"] = True

    def fit(src, out, **kwargs):
        seen.update(kwargs)
        return Written()

    monkeypatch.setattr(pipeline, "video_to_capture", fit)
    out = capture_jobs.import_capture(None, str(tmp_path / "clip.mp4"), str(tmp_path / "clip.h5"), height=1.82)
    assert out == str(tmp_path / "clip.h5") and seen["height"] == 1.82 and seen["closed"]
