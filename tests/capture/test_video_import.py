"""A plain video becomes a capture: keypoints -> body fit -> learned masks -> capture file; bad videos are refused."""

import sys

import cv2
import numpy as np
import pytest
import torch

from anr_studio.body import load_body
from anr_studio.capture import Capture
from anr_studio.capture.synth.generate import SynthConfig, generate_capture
from anr_studio.capture.video_fit.bodyfit import FitConfig, body_keypoints
from anr_studio.capture.video_fit.landmarks import LAYOUTS, landmark_map
from anr_studio.capture.video_fit.models import ConvSegmenter, Keypoints, default_estimator
from anr_studio.capture.video_fit.pipeline import video_to_capture
from anr_studio.errors import AnrError
from anr_studio.metrics.image import mask_iou

FIT = FitConfig(global_iterations=40, iterations=150)


class ProjectedKeypoints:
    """A keypoint estimator that sees the synthetic capture's true body (2 px noise): people per frame are set."""

    layout = "coco17"

    def __init__(self, cap: Capture, people: np.ndarray | None = None, shift: np.ndarray | None = None):
        body = load_body()
        lm = landmark_map("coco17", body)
        with torch.no_grad():
            pts, _ = body_keypoints(body, lm, torch.as_tensor(cap.truth("pose")), torch.as_tensor(cap.truth("betas")),
                                    torch.as_tensor(cap.truth("transl")))
        K, R, t = cap.cameras()
        cam = np.einsum("nij,nkj->nki", np.broadcast_to(R, (len(cap), 3, 3)), pts.numpy()) + np.broadcast_to(t, (len(cap), 3))[:, None]
        uv = np.einsum("nij,nkj->nki", np.broadcast_to(K, (len(cap), 3, 3)), cam)
        self.points = np.zeros((len(cap), 17, 2), np.float32)
        self.points[:, lm.keypoints] = uv[..., :2] / uv[..., 2:]
        self.points += np.random.default_rng(0).normal(scale=0.5, size=self.points.shape).astype(np.float32)
        if shift is not None:
            self.points += shift[:, None, :]
        self.conf = np.zeros((len(cap), 17), np.float32)
        self.conf[:, lm.keypoints] = 0.9
        self.people = np.ones(len(cap), np.int64) if people is None else people
        self.conf[self.people == 0] = 0.0
        self.i = 0

    def __call__(self, frames):
        s = slice(self.i, self.i + len(frames))
        self.i += len(frames)
        return Keypoints(self.points[s], self.conf[s], None, self.people[s], self.layout)


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    d = tmp_path_factory.mktemp("video")
    generate_capture(d / "synth.h5", SynthConfig(seed=2, frames=12, size=96, tracking_noise=0.0, sensor_noise=0.0))
    cap = Capture(d / "synth.h5")
    video = d / "walker.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 30, (96, 96))
    for i in range(len(cap)):
        writer.write(np.ascontiguousarray(cap.frame(i)[..., ::-1]))
    writer.release()
    # A small segmenter learned here from the capture's own masks, saved and loaded as users' files are.
    torch.manual_seed(0)
    seg = ConvSegmenter((12, 12), size=96)
    x = torch.as_tensor(np.stack([cap.frame(i) for i in range(len(cap))])).permute(0, 3, 1, 2).float() / 255
    y = torch.as_tensor(np.stack([cap.mask(i) for i in range(len(cap))]))[:, None].float() / 255
    opt = torch.optim.Adam(seg.parameters(), lr=0.02)
    for _ in range(150):
        opt.zero_grad()
        torch.nn.functional.binary_cross_entropy_with_logits(seg(x), y).backward()
        opt.step()
    seg.save(d / "segmenter.safetensors")
    return cap, video, ConvSegmenter.load(d / "segmenter.safetensors"), d


def test_video_becomes_a_capture_whose_body_lands_on_the_person(synth):
    cap, video, seg, d = synth
    est = ProjectedKeypoints(cap)
    out = video_to_capture(video, d / "out.h5", estimator=est, segmenter=seg, fit_config=FIT, progress=False)
    assert len(out) == len(cap) and out.identity == "walker" and out.has_masks
    ious = [mask_iou(out.mask(i), cap.mask(i)) for i in range(len(cap))]
    assert np.mean(ious) > 0.7  # a segmenter of two small layers, learned in a second
    body = load_body()
    lm = landmark_map("coco17", body)
    with torch.no_grad():
        pose = torch.as_tensor(np.stack([out.pose(i) for i in range(len(out))]))
        transl = torch.as_tensor(np.stack([out.transl(i) for i in range(len(out))]))
        pts, _ = body_keypoints(body, lm, pose, torch.as_tensor(out.betas), transl)
    K, R, t = out.camera(0)
    uv = (pts.numpy() @ R.T + t) @ K.T
    err = np.linalg.norm(uv[..., :2] / uv[..., 2:] - est.points[:, lm.keypoints], axis=-1)
    assert np.median(err) < 3.0  # pixels at 96x96


def test_the_persons_height_sets_the_fitted_bodys_size(synth, tmp_path, capsys):
    from anr_studio import cli
    from anr_studio.capture.video_fit.bodyfit import standing_height

    cap, video, seg, d = synth
    out = video_to_capture(video, tmp_path / "tall.h5", estimator=ProjectedKeypoints(cap), segmenter=seg,
                           fit_config=FIT, height=1.9, progress=False)
    betas = torch.as_tensor(out.betas[:10])
    assert float(standing_height(load_body(), 10)(betas)) == pytest.approx(1.9, abs=0.02)
    # fits bring their own shape: --height with them is refused, and so is a height no person has
    assert cli.main(["import", str(d / "synth.h5"), "--out", str(tmp_path / "f.h5"), "--height", "1.8"]) != 0
    assert "--height" in capsys.readouterr().err and not (tmp_path / "f.h5").exists()
    with pytest.raises(SystemExit):
        cli.main(["import", str(video), "--out", str(tmp_path / "g.h5"), "--height", "18"])
    assert "expected a finite number at least 0.5 and at most 2.6" in capsys.readouterr().err


@pytest.mark.parametrize("case, message", [
    ("nobody", "no person found"),
    ("crowd", "several people"),
    ("leaves", "out of the frame"),
])
def test_bad_videos_are_refused_and_nothing_is_written(synth, case, message):
    cap, video, seg, d = synth
    n = len(cap)
    people = {"nobody": np.zeros(n, np.int64), "crowd": np.full(n, 2), "leaves": np.ones(n, np.int64)}[case]
    shift = np.zeros((n, 2), np.float32)
    if case == "leaves":
        shift[-3:, 0] = 200.0  # the person walks off the right edge
    out = d / f"{case}.h5"
    with pytest.raises(AnrError, match=message):
        video_to_capture(video, out, estimator=ProjectedKeypoints(cap, people, shift), segmenter=seg,
                         fit_config=FIT, progress=False)
    assert not out.exists() and not list(d.glob(f"*{case}*"))


def test_a_frame_where_the_detector_misses_the_person_is_bridged_by_the_fit(synth):
    cap, video, seg, d = synth
    people = np.ones(len(cap), np.int64)
    people[5] = 0  # one missed frame in the middle of the walk
    out = video_to_capture(video, d / "missed.h5", estimator=ProjectedKeypoints(cap, people), segmenter=seg,
                           fit_config=FIT, progress=False)
    transl = np.stack([out.transl(i) for i in range(len(out))])
    # The bridged frame's root lies between its neighbours', as the walk's path does.
    assert np.linalg.norm(transl[5] - (transl[4] + transl[6]) / 2) < 0.1 * np.linalg.norm(transl[6] - transl[4]) + 0.01
    out.close()


@pytest.mark.parametrize("fault, message", [
    ("rows", r"walker.mp4: has 12 frames, expected 13 \(one per row of poses\)"),
    ("nan", r"poses.npz: trans contains NaN or Inf values, expected finite numbers"),
])
def test_fits_that_do_not_match_the_video_are_refused_and_nothing_is_written(synth, tmp_path, fault, message):
    from anr_studio import cli

    cap, video, _, _ = synth
    n = len(cap) + (1 if fault == "rows" else 0)
    E = np.eye(4)
    E[2, 3] = 3.0
    poses = np.zeros((n, 72))
    trans = np.zeros((n, 3))
    if fault == "nan":
        trans[4, 1] = np.nan
    np.savez(tmp_path / "poses.npz", poses=poses, trans=trans, betas=np.zeros(10), K=cap.camera(0)[0], E=E)
    out = tmp_path / "fits.h5"
    with pytest.raises(AnrError, match=message):
        from anr_studio.capture.importers import import_capture

        import_capture(video, out, poses=tmp_path / "poses.npz")
    assert cli.main(["import", str(video), "--poses", str(tmp_path / "poses.npz"), "--out", str(out)]) != 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["poses.npz"]


def test_corrupt_video_and_bad_model_files_are_refused(synth, tmp_path, monkeypatch):
    cap, _, seg, _ = synth
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(AnrError, match="broken.mp4"):
        video_to_capture(bad, tmp_path / "x.h5", estimator=ProjectedKeypoints(cap), segmenter=seg, progress=False)
    assert not (tmp_path / "x.h5").exists()
    (tmp_path / "seg.safetensors").write_bytes(b"not a model")
    with pytest.raises(AnrError, match="seg.safetensors: not a person segmenter"):
        ConvSegmenter.load(tmp_path / "seg.safetensors")
    monkeypatch.setitem(sys.modules, "mediapipe", None)
    with pytest.raises(AnrError, match=r"anr-studio\[video\]"):
        default_estimator()
    # A file that is not a video is named before the models are looked for (or loaded, which takes seconds).
    with pytest.raises(AnrError, match="broken.mp4: OpenCV cannot open it as a video"):
        video_to_capture(bad, tmp_path / "x.h5", progress=False)
    assert not (tmp_path / "x.h5").exists()
    assert len(LAYOUTS["mediapipe33"]) == 33


def test_cli_masks_learned_and_import_without_the_extra(synth, tmp_path, monkeypatch, capsys):
    import shutil

    from anr_studio import cli

    cap, video, seg, d = synth
    copy = tmp_path / "cap.h5"
    shutil.copy(d / "synth.h5", copy)
    assert cli.main(["masks", str(copy), "--method", "learned", "--segmenter", str(d / "segmenter.safetensors"),
                     "--overwrite", "--quiet"]) == 0
    assert "person segmenter" in capsys.readouterr().out
    got = Capture(copy)
    assert np.mean([mask_iou(got.mask(i), cap.mask(i)) for i in range(len(cap))]) > 0.7
    monkeypatch.setitem(sys.modules, "mediapipe", None)
    assert cli.main(["import", str(video), "--out", str(tmp_path / "v.h5")]) != 0
    assert "anr-studio[video]" in capsys.readouterr().err
    assert not (tmp_path / "v.h5").exists()


def _oracle(masks_by_id):
    """A segmenter that knows each frame's true mask (frames are found by identity of their pixels)."""
    def segment(frames):
        return np.stack([masks_by_id[f.tobytes()] for f in frames]).astype(np.float32)
    return segment


def test_auto_picks_the_plate_for_a_still_camera_and_the_segmenter_for_a_moving_one(synth):
    from anr_studio.capture.masks import choose_method

    cap = synth[0]
    frames = [cap.frame(i) for i in range(0, len(cap), 2)]
    masks = [cap.mask(i) / 255.0 for i in range(0, len(cap), 2)]
    plate = cap.background
    table = {f.tobytes(): m for f, m in zip(frames, masks)}
    table[plate.tobytes()] = np.zeros(plate.shape[:2])
    assert choose_method(frames, plate, _oracle(table))[0] == "plate"
    # A hand-held camera: the whole picture slides a few pixels a frame.
    moved = [np.roll(f, 3 * k, axis=1) for k, f in enumerate(frames)]
    moved_masks = [np.roll(m, 3 * k, axis=1) for k, m in enumerate(masks)]
    table.update({f.tobytes(): m for f, m in zip(moved, moved_masks)})
    method, why = choose_method(moved, plate, _oracle(table))
    assert method == "learned" and "camera moves" in why
    # A plate that holds the person.
    table[frames[0].tobytes()] = masks[0]
    method, why = choose_method(frames, frames[0], _oracle(table))
    assert method == "learned" and "plate shows a person" in why
    # A segmenter that finds nobody (the frames show no person it knows) leaves the plate method.
    method, why = choose_method(moved, plate, lambda f: np.zeros(f.shape[:3], np.float32))
    assert method == "plate" and "finds nobody" in why


def test_a_mediapipe_without_its_model_files_is_refused(tmp_path, monkeypatch):
    import types

    from anr_studio.capture.video_fit.models import MEDIAPIPE_VERSION, shipped_models

    fake = types.ModuleType("mediapipe")
    (tmp_path / "mediapipe").mkdir()
    fake.__file__ = str(tmp_path / "mediapipe" / "__init__.py")
    fake.__version__ = "0.10.35"
    monkeypatch.setitem(sys.modules, "mediapipe", fake)
    with pytest.raises(AnrError, match=rf"pose_detection.tflite: MediaPipe 0.10.35 does not ship its model files, "
                                       rf"expected mediapipe=={MEDIAPIPE_VERSION}"):
        shipped_models()
    with pytest.raises(AnrError, match="does not ship"):
        default_estimator()


@pytest.mark.parametrize("option", [["--masks", "masks"], ["--background", "plate.png"], ["--person", "1"]])
def test_options_for_fits_are_refused_with_a_video_alone(synth, tmp_path, capsys, option):
    from anr_studio import cli

    video, out = synth[1], tmp_path / "v.h5"
    assert cli.main(["import", str(video), "--out", str(out), *option]) == 2
    err = capsys.readouterr().err
    assert f"walker.mp4: {option[0]} applies to an import with fits" in err and err.count("\n") == 1
    assert not out.exists()
    assert "anr-studio import clip.mp4" in cli.build_parser()._subparsers._group_actions[0].choices["import"].format_help()
