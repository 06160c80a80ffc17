"""Playback on the clock (real time under load, loop, frame number) and a neural view that refines as soon as input is idle."""

from __future__ import annotations

import time


def test_playback_follows_the_wall_clock_under_load(window, qtbot):
    panel = window.pose_panel
    panel.load_motion(panel.motion_box.itemText(0))
    n, fps = len(panel.playback.clip), panel.playback.clip.fps
    assert panel.frame_label.text() == f"frame 1 / {n}"
    panel.play_btn.setChecked(True)
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < 1.5:
        qtbot.wait(5)
        time.sleep(0.07)  # a busy event loop: ticks come late and are skipped over, not slowed down
    panel.play_btn.setChecked(False)
    elapsed = time.perf_counter() - t0
    expected = (elapsed * fps) % n
    got = panel.playback.phase
    off = min(abs(got - expected), n - abs(got - expected))  # it loops
    assert off <= 0.1 * elapsed * fps + 3, (got, expected)
    frame = panel.timeline.value()
    assert panel.frame_label.text() == f"frame {frame + 1} / {n}"
    # Scrubbing shows that frame's pose.
    panel.timeline.setValue(n // 2)
    assert (window.pose_state.pose == panel.playback.pose(n // 2)).all()


def test_neural_view_refines_as_soon_as_input_is_idle_and_counts_latency_from_the_edit(window, qtbot, tiny_avatar):
    neural = window.neural
    neural.size_px = 64
    window.set_avatar(tiny_avatar, "tiny.anr")
    qtbot.waitUntil(lambda: neural.last_result is not None and not neural.refining(), timeout=30000)
    sizes: list[int] = []
    neural.rendered.connect(lambda r: sizes.append(r.request.size[0]))
    shown = neural.images_shown
    t_edit = time.perf_counter()
    window.pose_state.set_joint_axis(16, 2, -0.5)
    qtbot.waitUntil(lambda: 64 in sizes, timeout=30000)
    assert sizes[0] == 32 and sizes[-1] == 64, sizes  # the quick frame, then the full one with no wait between
    wall = time.perf_counter() - t_edit
    # The full frame's latency counts from the edit (it holds the quick frame's render too).
    assert neural.latencies[-1] >= neural.last_result.render_s
    assert neural.latencies[-1] <= wall + 0.01
    assert neural.images_shown == shown + len(sizes)  # every image painted counts (the soak reports it)
    assert not neural.refining()
