"""Try-on paint tools without Qt: brush sizing steps, unsaved-work tracking on synthetic events, UV part labels."""

import numpy as np

from anr_studio.components.paint import BRUSH_RADIUS_RANGE, PaintEvent, PaintState, clear, handle_event, resize_brush, uv_part_labels


def test_bracket_steps_resize_the_brush_within_range():
    s = PaintState(size=64)
    s.brush.radius = 12.0
    assert resize_brush(s, 1) == 15.0  # x1.25
    assert resize_brush(s, -1) == 12.0
    s.brush.radius = 1.0
    assert resize_brush(s, 1) == 2.0  # small brushes still grow by a pixel
    assert resize_brush(s, -5) == BRUSH_RADIUS_RANGE[0]
    s.brush.radius = 60.0
    assert resize_brush(s, 3) == BRUSH_RADIUS_RANGE[1]


def test_every_radius_change_is_announced_rounded_and_within_range():
    s = PaintState(size=64)
    heard: list[float] = []
    s.brush_resized.connect(heard.append)
    resize_brush(s, -1)
    assert s.set_brush_radius(20.4) == 20.0 and s.set_brush_radius(500) == BRUSH_RADIUS_RANGE[1]
    assert heard == [10.0, 20.0, BRUSH_RADIUS_RANGE[1]]


def test_painting_marks_unsaved_until_saved_and_clear_empties():
    s = PaintState(size=32)
    assert not s.unsaved
    for kind, x in (("press", 8.0), ("move", 16.0), ("release", 16.0)):
        handle_event(s, PaintEvent(kind, x, 16.0))
    assert s.unsaved and s.mask[16, 12] > 0.9
    s.mark_saved()
    assert not s.unsaved
    handle_event(s, PaintEvent("press", 4.0, 4.0))
    handle_event(s, PaintEvent("release", 4.0, 4.0))
    assert s.unsaved
    clear(s)
    assert not s.unsaved  # an empty mask holds nothing to lose


def test_uv_part_labels_name_each_island_at_its_centre():
    # Two parts: "torso" on one square island at the left, "left_hand" split over two islands at the right.
    def quad(u0, v0, u1, v1):
        return [[(u0, v0), (u1, v0), (u1, v1)], [(u0, v0), (u1, v1), (u0, v1)]]

    face_uvs = np.array(quad(0.05, 0.05, 0.45, 0.95) + quad(0.6, 0.6, 0.9, 0.9) + quad(0.6, 0.1, 0.9, 0.4), np.float64)
    parts = np.array([0, 0, 1, 1, 1, 1])
    labels = uv_part_labels(face_uvs, parts, ["torso", "left_hand", "unused"], size=64)
    names = sorted(n for n, _, _ in labels)
    assert names == ["left hand", "left hand", "torso"]
    torso = next((x, y) for n, x, y in labels if n == "torso")
    assert abs(torso[0] - 0.25) < 0.03 and abs(torso[1] - 0.5) < 0.03
    hands_y = sorted(y for n, _, y in labels if n == "left hand")
    assert abs(hands_y[0] - 0.25) < 0.03 and abs(hands_y[1] - 0.75) < 0.03  # row 0 is v = 1
