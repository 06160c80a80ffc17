"""From a plain video to a capture: frames stream through the keypoint estimator and the segmenter into the
writer; the body is fitted to the whole clip at the end. Any refusal (no person, several people, a person
leaving the frame, an unreadable video) leaves nothing behind."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from anr_studio.capture.formats.sources import existing, open_frames
from anr_studio.capture.images import video_info
from anr_studio.capture.video_fit.bodyfit import FitConfig, fit_body
from anr_studio.capture.video_fit.landmarks import torso_keypoints
from anr_studio.errors import AnrError

BATCH = 8
MIN_TORSO_CONFIDENCE = 0.3  # mean confidence of the shoulders and hips below which a frame counts as showing nobody
MAX_SEVERAL_SHARE = 0.1  # share of frames with two or more people beyond which the video is refused
# Longest run of frames where the torso is not seen (a detector's miss, a passer-by) that the fit bridges.
MAX_MISSED_RUN = 3
MAX_MISSED_SHARE = 0.05  # largest share of such frames in the clip


def _longest_run(flags: np.ndarray) -> int:
    """Returns the length of the longest run of True in ``flags`` (N,)."""
    edges = np.diff(np.concatenate([[0], np.asarray(flags, np.int8), [0]]))
    return int((np.flatnonzero(edges < 0) - np.flatnonzero(edges > 0)).max(initial=0))


def check_person(points: np.ndarray, conf: np.ndarray, people: np.ndarray, layout: str, image_size: tuple[int, int],
                 source: str) -> np.ndarray:
    """Returns the frames (N,) bool where the torso is not seen (``points`` (N,L,2), ``conf`` (N,L), ``people``
    (N,)); AnrError unless one person stays in view but for short misses (MAX_MISSED_RUN, MAX_MISSED_SHARE)."""
    h, w = image_size
    torso = torso_keypoints(layout)
    seen = (conf[:, torso].mean(1) >= MIN_TORSO_CONFIDENCE) & (people > 0)
    if not seen.any():
        raise AnrError(f"{source}: no person found in any of its {len(people)} frames, expected one person in view")
    several = people >= 2
    if several.mean() > MAX_SEVERAL_SHARE:
        raise AnrError(f"{source}: {int(several.sum())} of {len(people)} frames show several people, expected one "
                       "person (crop or trim the video to one)")
    p = points[:, torso]
    inside = ((p[..., 0] >= 0) & (p[..., 0] < w) & (p[..., 1] >= 0) & (p[..., 1] < h)).all(1)
    missed = ~(seen & inside)
    if missed.sum() > max(1.0, MAX_MISSED_SHARE * len(missed)) or _longest_run(missed) > MAX_MISSED_RUN:
        out = np.nonzero(missed)[0]
        raise AnrError(f"{source}: the person is out of the frame in {len(out)} frames (first at frame {out[0]}), "
                       "expected the person's torso in view throughout (trim the video)")
    return missed


def frame_batches(frames: Iterator[np.ndarray], size: tuple[int, int], src: Path) -> Iterator[list[np.ndarray]]:
    """Yields ``frames`` (H,W,3) in lists of BATCH; AnrError at the first frame whose size is not ``size`` (H, W)."""
    batch = []
    for i, frame in enumerate(frames):
        if frame.shape[:2] != size:
            raise AnrError(f"{src}: frame {i} is {frame.shape[1]}x{frame.shape[0]}, "
                           f"expected every frame {size[1]}x{size[0]}")
        batch.append(frame)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def video_to_capture(src: str | os.PathLike, out: str | os.PathLike, *, estimator=None, segmenter=None,
                     identity: str | None = None, fps: float | None = None, height: float | None = None,
                     fit_config: FitConfig | None = None, progress: bool | Callable[[int, int, str], None] = True):
    """Returns the Capture written to ``out`` from the video ``src`` with no other input.

    ``estimator`` / ``segmenter``: default MediaPipe's pose landmarker and its own person masks.
    ``height``: the person's standing height in metres, which sets the body's size (one video cannot tell
    a tall person far away from a short one nearby). ``progress``: True draws bars; a callable gets
    (done, total, stage) for "keypoints + masks" and "body fit" (an exception from it writes nothing).
    """
    from tqdm import tqdm

    from anr_studio.capture import Capture
    from anr_studio.capture.masks import learned_mask
    from anr_studio.capture.store import CaptureWriter

    src, out = Path(src), Path(out)
    video = open_frames(existing(src, "a video file"))  # a file that is not a video is refused before the models load
    if estimator is None:
        from anr_studio.capture.video_fit.models import default_estimator

        estimator = default_estimator()
    (h, w), count = video.size, max(video_info(src)[0], 1)
    pts, conf, pts3, people = [], [], [], []
    report = progress if callable(progress) else None
    bars = {"disable": progress is not True, "leave": False}
    with CaptureWriter(out, identity or src.stem, h, w, fps or video.fps or 30.0, attrs={"source": src.name}) as writer:
        with tqdm(total=count, desc="keypoints + masks", unit="frame", **bars) as bar:
            for batch in frame_batches(video.frames, (h, w), src):
                stack = np.stack(batch)
                kp = estimator(stack)
                if segmenter is None and kp.masks is None:
                    raise AnrError(f"{src}: the keypoint estimator gives no person masks, expected a person segmenter too")
                prob = segmenter(stack) if segmenter is not None else kp.masks
                pts.append(kp.points), conf.append(kp.confidence), people.append(kp.people), pts3.append(kp.points3d)
                for frame, p in zip(batch, prob):
                    writer.append(frame, learned_mask(frame, p))
                bar.update(len(batch))
                if report is not None:
                    report(writer.num_frames, max(count, writer.num_frames), "keypoints + masks")
        points, confidence, count_people = np.concatenate(pts), np.concatenate(conf), np.concatenate(people)
        missed = check_person(points, confidence, count_people, estimator.layout, (h, w), src.name)
        confidence[missed] = 0.0  # the fit's smoothness bridges the frames where the person was missed
        points3d = None if any(p is None for p in pts3) else np.concatenate(pts3)
        with tqdm(total=1, desc="body fit", unit="step", **bars) as fit_bar:

            def fit_progress(done: int, total: int) -> None:
                fit_bar.total = total
                fit_bar.update(done - fit_bar.n)  # redraws at tqdm's pace, not every step
                if report is not None:
                    report(done, total, "body fit")

            fit = fit_body(points, confidence, (h, w), estimator.layout, keypoints3d=points3d, height=height,
                           config=fit_config, progress=fit_progress)
        writer.set_body(fit.pose, fit.transl, fit.betas)
        writer.set_cameras(fit.K, fit.R, fit.t)
        writer.set_attrs(fit_reprojection_px=float(np.nanmedian(fit.reprojection_px)))
    return Capture(out)
