"""The video import with the real models (MediaPipe from the ``video`` extra) on rendered hand-held clips.

Skipped when the extra is not installed. The clips are the synthetic person rendered at 360p by a
wobbling camera, so the truth (joints, masks) is known; bad videos are refused with one line and
leave nothing behind.
"""

import numpy as np
import pytest

from anr_studio.errors import AnrError

pytest.importorskip("mediapipe")
from anr_studio.capture.video_fit.models import shipped_models  # noqa: E402

try:
    shipped_models()
except AnrError as exc:  # a MediaPipe without its model files
    pytest.skip(str(exc), allow_module_level=True)

from anr_studio.capture.video_fit.bodyfit import FitConfig  # noqa: E402
from anr_studio.capture.video_fit.pipeline import video_to_capture  # noqa: E402
from tests.capture.video_synthetic import joint_error  # noqa: E402
from tests.capture.video_synthetic import render_video  # noqa: E402
from anr_studio.metrics.image import mask_iou  # noqa: E402

SIZE = (360, 640)
FOCAL = 550.0
FIT = FitConfig(global_iterations=60, iterations=200)


@pytest.fixture(scope="module")
def walker(tmp_path_factory):
    d = tmp_path_factory.mktemp("real")
    truth = render_video(d / "walker.mp4", 24, image_size=SIZE, focal=FOCAL, seed=0)
    return d, truth


def test_real_models_turn_a_hand_held_clip_into_a_capture_on_the_person(walker, capfd):
    d, truth = walker
    cap = video_to_capture(d / "walker.mp4", d / "walker.h5", fit_config=FIT, progress=False)
    # MediaPipe's start-up logs (TensorFlow Lite's delegate, absl's warnings) are not the user's business.
    assert capfd.readouterr().err == ""
    n = len(cap)
    assert n == 24 and cap.has_masks
    iou = [mask_iou(cap.mask(i), truth.masks[i]) for i in range(n)]
    assert np.mean(iou) > 0.93
    fit = (np.stack([cap.pose(i) for i in range(n)]), np.stack([cap.transl(i) for i in range(n)]),
           np.asarray(cap.betas, np.float32), truth.joints_camera)
    # Metres, 24 frames at 360p and a short fit (measured 0.080 and 0.055): with the roots aligned,
    # and with the scale aligned too (a video cannot tell this short person's size).
    assert np.median(joint_error(*fit)) < 0.10
    assert np.median(joint_error(*fit, align_scale=True)) < 0.07


@pytest.mark.parametrize("case, message", [
    ("nobody", "no person found"),
    ("crowd", "show several people"),
    ("leaves", "out of the frame in"),
    ("corrupt", "cannot open it as a video|holds no frames"),
])
def test_bad_videos_are_refused_by_the_real_models_and_nothing_is_written(walker, tmp_path, case, message):
    import cv2

    d, _ = walker
    video = tmp_path / f"{case}.mp4"
    if case == "nobody":
        from anr_studio.capture.synth.background import background_plate

        room = background_plate(4, SIZE[0], SIZE[1] + 40)  # an empty room, the camera panning
        writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 30, SIZE[::-1])
        for i in range(12):
            writer.write(np.ascontiguousarray(room[:, 3 * i:3 * i + SIZE[1], ::-1]))
        writer.release()
    elif case == "crowd":
        render_video(video, 12, image_size=SIZE, focal=FOCAL, seed=2, people=2)
    elif case == "leaves":
        render_video(video, 24, image_size=SIZE, focal=FOCAL, seed=3, walk_off=True)
    else:  # the first half of a real clip: the index at its end is missing
        data = (d / "walker.mp4").read_bytes()
        video.write_bytes(data[: len(data) // 2])
    out = tmp_path / f"{case}.h5"
    with pytest.raises(AnrError, match=message) as info:
        video_to_capture(video, out, fit_config=FIT, progress=False)
    assert f"{case}.mp4: " in str(info.value) and "\n" not in str(info.value)
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == [video.name]


def _real_clip():
    """Returns the real runner clip's folder (shared/data/real/glamr_running, in or beside the checkout)."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    clip = Path("data") / "real" / "glamr_running"
    for base in (root / "tests", root / "shared", root.parent / "shared", root.parent.parent / "shared"):
        if (base / clip / "keypoints_2d.npy").is_file():
            return base / clip
    pytest.skip(f"the real clip is not here: expected shared/{clip.as_posix()} in or beside {root}")


def test_a_real_runner_filmed_hand_held_lands_near_the_fitters_keypoints(tmp_path):
    """The real clip's frames (every 6th, 1280x720) as a video: our fit from MediaPipe alone against the
    keypoints of a published monocular fitter (HybrIK), on the pelvis, knees, ankles and shoulders."""
    import cv2

    from anr_studio.body import load_body
    from anr_studio.capture.check import _joints_2d

    folder = _real_clip()
    images = sorted((folder / "images").glob("*.jpg"))
    video = tmp_path / "running.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 5, (1280, 720))
    for path in images:
        writer.write(cv2.imread(str(path)))
    writer.release()
    cap = video_to_capture(video, tmp_path / "running.h5", fit_config=FIT, progress=False)
    joints = _joints_2d(cap, list(range(len(cap))), load_body())
    keypoints = np.load(folder / "keypoints_2d.npy")
    err = np.linalg.norm(joints[:, [0, 4, 5, 7, 8, 16, 17]] - keypoints[:, [0, 4, 5, 7, 8, 20, 21], :2], axis=-1)
    assert len(cap) == len(images) and np.median(err) < 20.0  # pixels at 1280x720 (measured 15.4)
