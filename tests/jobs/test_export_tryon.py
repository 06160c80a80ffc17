"""Video export job and the try-on texture swap (Qt-free)."""

import numpy as np
import pytest
import torch

from anr_studio.components.scene import OrbitView
from anr_studio.components.avatars import region_mask, swap_texture
from anr_studio.errors import AnrError
from anr_studio.jobs.runner import BackgroundJob


@pytest.fixture(scope="module")
def avatar():
    from tests.standin import standin_body, untrained_avatar

    torch.set_num_threads(1)
    return untrained_avatar(standin_body(), "tiny", identities=("a", "b"))


def test_export_video_writes_the_frames(avatar, tmp_path):
    import imageio_ffmpeg

    from anr_studio.jobs.preview import export_video

    out = tmp_path / "walk.mp4"
    job = BackgroundJob("export", lambda c: export_video(avatar, "a", "walk", str(out), OrbitView(), c, size=64, max_frames=5)).start()
    assert job.join(120), "export did not finish"
    assert job.status.snapshot().error is None and job.result == str(out)
    frames, _secs = imageio_ffmpeg.count_frames_and_secs(str(out))
    assert frames == 5 and job.status.snapshot().done == 5


def test_export_rejects_other_formats(avatar, tmp_path):
    from anr_studio.jobs.preview import export_video

    job = BackgroundJob("export", lambda c: export_video(avatar, "a", "walk", str(tmp_path / "x.gif"), OrbitView(), c, size=64)).start()
    job.join(60)
    assert "expected a .mp4 file" in job.status.snapshot().error


def test_swap_texture_blends_only_inside_the_mask():
    a, b = torch.zeros(8, 16, 16), torch.ones(8, 16, 16)
    m = np.zeros((32, 32), np.float32)
    m[:16, :] = 1.0
    s = swap_texture(a, b, m)
    assert torch.all(s[:, :8] == 0) and torch.all(s[:, 8:] == 1)
    with pytest.raises(AnrError, match="equal shapes"):
        swap_texture(a, torch.ones(8, 8, 8), m)


def test_region_presets_select_body_parts(avatar):
    body = avatar.body
    feet = region_mask(body, "shoes", 128)
    upper = region_mask(body, "upper", 128)
    assert 0 < feet.mean() < upper.mean() and np.all((feet > 0.99) <= (upper < 0.01))
    with pytest.raises(AnrError, match="unknown region"):
        region_mask(body, "hat", 64)


def test_stopped_export_leaves_no_file(avatar, tmp_path):
    from anr_studio.jobs.preview import export_video

    out = tmp_path / "dance.mp4"
    job = BackgroundJob("export", lambda c: export_video(avatar, "a", "dance", str(out), OrbitView(), c, size=32))
    job.pause()  # paused before the first frame
    job.start()
    job.stop()
    assert job.join(60) and job.status.state.value == "stopped"
    assert not out.exists() and not list(tmp_path.iterdir())


def test_cancelling_every_job_as_the_studio_closes_waits_for_an_export_to_remove_its_partial_file(avatar, tmp_path):
    import time

    from anr_studio.components.job_list import JobList
    from anr_studio.components.status import JobState
    from anr_studio.jobs.preview import export_video

    job = BackgroundJob("export", lambda c: export_video(avatar, "a", "walk", str(tmp_path / "walk.mp4"), OrbitView(), c,
                                                         size=64)).start()
    jobs = JobList()
    jobs.add(job, "export video")
    t0 = time.monotonic()
    while job.status.snapshot().done < 2 and time.monotonic() - t0 < 60:
        time.sleep(0.01)
    jobs.cancel_all()  # the studio's exit would end the worker thread wherever it is
    assert not job.running and job.status.state == JobState.STOPPED
    assert list(tmp_path.iterdir()) == []
