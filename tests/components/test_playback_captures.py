"""Motion playback (the playhead advances at the clip's rate and wraps) and opening a capture for the studio."""

import numpy as np
import pytest

from anr_studio.components.captures import open_capture
from anr_studio.components.pose_state import BUILTIN_MOTIONS, Playback
from anr_studio.errors import AnrError


def test_playback_advances_at_the_clip_rate_and_wraps():
    pb = Playback()
    with pytest.raises(AnrError, match="no motion is loaded"):
        pb.pose(0)
    assert "walk" in BUILTIN_MOTIONS
    n = pb.load("walk")
    assert n == len(pb.clip) > 10 and pb.pose(3).shape == (24, 3)
    np.testing.assert_array_equal(pb.pose(3), np.asarray(pb.clip.poses[3], np.float32))
    assert pb.advance(0.5) == int(0.5 * pb.clip.fps)  # half a second at the clip's frame rate
    assert pb.advance(0.5, speed=2.0) == int(1.5 * pb.clip.fps)
    pb.phase = n - 0.5
    assert pb.advance(1.0 / pb.clip.fps) == 0  # past the last frame it starts over


def test_open_capture_summarises_it_and_notes_another_body(tmp_path):
    from tests.standin import standin_body, write_standin_capture

    body = standin_body()
    path = write_standin_capture(tmp_path / "c.h5", body, frames=3, size=32, identity="ann")
    cap, summary = open_capture(path, body)
    assert len(cap) == 3 and summary == "c.h5: ann, 3 frames, 32×32, 10 fps, masks yes, keyframes 2"
    body.model_id = "other"
    _, summary = open_capture(path, body)
    assert "tracked with body model standin" in summary
