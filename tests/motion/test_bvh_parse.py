"""The BVH parser: the layouts exporters write are read, and each kind of broken file is one AnrError
sentence naming the file, the line and what was expected."""

from __future__ import annotations

import time

import numpy as np
import pytest

from anr_studio.errors import AnrError
from anr_studio.motion import load_motion
from anr_studio.motion.bvh_parse import MAX_DEPTH, parse_bvh

TWO_JOINTS = """HIERARCHY
ROOT Hips
{
  OFFSET 0 90 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
  JOINT Spine
  {
    OFFSET 0 10 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    End Site
    {
      OFFSET 0 5 0
    }
  }
}
MOTION
Frames: 2
Frame Time: 0.04
0 90 0 0 0 0 0 0 0
1 91 2 10 20 30 -5 0 5
"""


def _write(tmp_path, text: str | bytes, name: str = "clip.bvh"):
    path = tmp_path / name
    (path.write_bytes if isinstance(text, bytes) else path.write_text)(text)
    return path


def test_reads_joints_channels_and_values(tmp_path):
    data = parse_bvh(_write(tmp_path, TWO_JOINTS))
    assert data.names == ("Hips", "Spine") and list(data.parents) == [-1, 0]
    np.testing.assert_array_equal(data.offsets, [[0, 90, 0], [0, 10, 0]])
    np.testing.assert_array_equal(data.end_sites[1], [0, 5, 0])
    assert np.isnan(data.end_sites[0]).all()
    assert data.channels[1] == ("Zrotation", "Xrotation", "Yrotation") and list(data.channel_start) == [0, 6]
    assert data.values.shape == (2, 9) and data.values[1, 4] == 20 and data.frame_time == 0.04


@pytest.mark.parametrize("variant", [
    lambda t: t.replace("\n", "\r\n"),  # Windows line ends
    lambda t: "\ufeff" + t,  # a byte-order mark
    lambda t: t.replace("Frames: 2", "Frames:2"),
    lambda t: t.replace("JOINT Spine\n  {", "JOINT Spine {"),  # braces on the joint's line
    lambda t: t.replace("End Site\n    {\n      OFFSET 0 5 0\n    }", "End Site SpineEnd { OFFSET 0 5 0 }"),
    lambda t: t.replace("Xposition Yposition", "XPOSITION yposition"),
    lambda t: t + "\n\n   \n",  # trailing blank lines
    lambda t: t.replace("ROOT Hips", "ROOT Bip01 Pelvis"),  # names with spaces
])
def test_reads_the_variants_exporters_write(tmp_path, variant):
    data = parse_bvh(_write(tmp_path, variant(TWO_JOINTS)))
    assert data.values.shape == (2, 9) and data.values[1, 4] == 20
    np.testing.assert_array_equal(data.end_sites[1], [0, 5, 0])


def _deep(depth: int) -> str:
    lines = ["HIERARCHY"]
    for i in range(depth):
        lines += [("ROOT" if i == 0 else "JOINT") + f" J{i}", "{", "OFFSET 0 1 0", "CHANNELS 3 Zrotation Xrotation Yrotation"]
    lines += ["End Site", "{", "OFFSET 0 1 0", "}"] + ["}"] * depth
    lines += ["MOTION", "Frames: 1", "Frame Time: 0.033", " ".join(["0"] * 3 * depth)]
    return "\n".join(lines) + "\n"


BROKEN = [
    ("", "the file ends at its start, expected HIERARCHY"),
    ("   \n\t\n  ", "the file ends at its start, expected HIERARCHY"),
    ("HIERARCHY\nROOT", "line 2 has ROOT without a name"),
    ("HIERARCHY\nROOT Hips\n{\n  OFFSET 0 0", "the file ends after line 4, expected the OFFSET of joint Hips"),
    (TWO_JOINTS.replace("Frames: 2", "Frames: 5"), "line 17 declares 5 frames but at most 3 lines follow"),
    (TWO_JOINTS.replace("Frames: 2", "Frames: 100000000000"), "line 17 declares Frames: 100000000000, expected 1 to 1,000,000"),
    (TWO_JOINTS.replace("Frames: 2", "Frames: 900000"), "line 17 declares 900,000 frames but at most 3 lines follow"),
    (TWO_JOINTS.replace("Frames: 2", "Frames: 1"), "line 20 is frame 2, expected the 1 frames that 'Frames:' declares"),
    (TWO_JOINTS.replace("1 91 2 10 20 30", "1 91 2 nan 20 30"), "line 20 (frame 2) has nan for Hips.Zrotation, expected finite"),
    (TWO_JOINTS.replace("-5 0 5", "-5 0 inf"), "line 20 (frame 2) has inf for Spine.Yrotation, expected finite"),
    (TWO_JOINTS.replace("-5 0 5", "-5 0 1e999"), "line 20 (frame 2) has inf for Spine.Yrotation"),
    (TWO_JOINTS.replace("-5 0 5", "-5 0"), "line 20 (frame 2) has 8 values, expected 9 (one per channel)"),
    (TWO_JOINTS.replace("-5 0 5", "-5 zero 5"), "line 20 (frame 2) has 'zero' for channel 8 (Spine.Xrotation), expected a number"),
    (TWO_JOINTS.replace("OFFSET 0 10 0", "OFFSET 0 nan 0"), "line 8 has 'nan' in the OFFSET of joint Spine, expected a finite number"),
    (TWO_JOINTS.replace("OFFSET 0 5 0", "OFFSET inf 5 0"), "line 12 has 'inf' in the OFFSET of the End Site of Spine"),
    (TWO_JOINTS.replace("CHANNELS 3 Zrotation Xrotation Yrotation", "CHANNELS 3 Zrotation Xrotation"),
     "line 10 has an unknown channel 'End' for joint Spine (channel 3 of 3)"),
    (TWO_JOINTS.replace("CHANNELS 3 Zrotation", "CHANNELS 2 Zrotation"), "line 9 has 'Yrotation' inside joint Spine, expected JOINT, End Site or }"),
    (TWO_JOINTS.replace("CHANNELS 3 Zrotation", "CHANNELS 9 Zrotation"), "line 9 declares '9' channels for joint Spine, expected 0 to 6"),
    (TWO_JOINTS.replace("Zrotation Xrotation Yrotation\n    End", "Zrotation Zrotation Yrotation\n    End"),
     "line 9 has a repeated channel 'Zrotation' for joint Spine"),
    (TWO_JOINTS.replace("Zrotation Xrotation Yrotation\n    End", "Zrotation Wrotation Yrotation\n    End"),
     "line 9 has an unknown channel 'Wrotation' for joint Spine"),
    (TWO_JOINTS.replace("Frame Time: 0.04", "Frame Time: 0"), "line 18 has Frame Time 0, expected 0.001 to 10 seconds"),
    (TWO_JOINTS.replace("Frame Time: 0.04", "Frame Time: -0.04"), "line 18 has Frame Time -0.04"),
    (TWO_JOINTS.replace("MOTION", "ROOT Other"), "line 16 has 'ROOT' after the skeleton, expected MOTION (one skeleton per file)"),
    (TWO_JOINTS.split("MOTION")[0], "the file ends after line 15, expected MOTION"),
    (TWO_JOINTS.replace("HIERARCHY", "HIERARCHIE"), "line 1 starts with 'HIERARCHIE', expected HIERARCHY"),
    (_deep(1000), f"line {2 + 4 * MAX_DEPTH} nests joints {MAX_DEPTH + 1} deep, expected at most {MAX_DEPTH} levels"),
]


@pytest.mark.parametrize("text, message", BROKEN)
def test_broken_files_are_one_sentence(tmp_path, text, message):
    path = _write(tmp_path, text, "broken.bvh")
    with pytest.raises(AnrError) as err:
        load_motion(path)
    assert str(err.value).startswith("broken.bvh: ") and message in str(err.value), str(err.value)


def test_bytes_that_are_not_utf8(tmp_path):
    raw = TWO_JOINTS.encode().replace(b"JOINT Spine", b"JOINT Sp\xff\xfeine")
    with pytest.raises(AnrError, match=r"^clip.bvh: line 6 holds bytes that are not UTF-8 text"):
        load_motion(_write(tmp_path, raw))


def test_too_many_joints(tmp_path):
    joints = ["HIERARCHY", "ROOT R", "{", "OFFSET 0 0 0", "CHANNELS 0"]
    for i in range(1100):
        joints += [f"JOINT J{i}", "{", "OFFSET 0 1 0", "CHANNELS 0", "}"]
    with pytest.raises(AnrError, match=r"line \d+ declares joint 1025, expected at most 1024 joints"):
        parse_bvh(_write(tmp_path, "\n".join(joints) + "\n}\n"))


def test_zero_offsets_are_refused_by_the_retargeting(tmp_path):
    text = TWO_JOINTS.replace("OFFSET 0 90 0", "OFFSET 0 0 0").replace("OFFSET 0 10 0", "OFFSET 0 0 0")
    with pytest.raises(AnrError, match="^clip.bvh: every OFFSET is zero"):
        load_motion(_write(tmp_path, text.replace("OFFSET 0 5 0", "OFFSET 0 0 0")))
    with pytest.raises(AnrError, match="^clip.bvh: cannot find two legs and two arms"):
        load_motion(_write(tmp_path, text))


def test_huge_blank_or_deep_input_is_refused_fast(tmp_path):
    start = time.perf_counter()
    for text in ("\n" * 2_000_000, "HIERARCHY\n" + "\n" * 2_000_000 + "ROOT", _deep(5000)):
        with pytest.raises(AnrError):
            load_motion(_write(tmp_path, text, "big.bvh"))
    assert time.perf_counter() - start < 5.0


def _tree_bvh(children_of) -> str:
    """Returns a BVH of 1,000 joints whose tree ``children_of(i)`` gives, with equal offsets everywhere."""
    lines, stack, count = ["HIERARCHY"], [(0, 0)], 0
    order = []
    while stack and count < 1000:
        j, depth = stack.pop()
        if j == "}":
            lines.append("}")
            continue
        order.append(j)
        count += 1
        lines += [("ROOT" if j == 0 else "JOINT") + f" J{j}", "{", "OFFSET 1 1 0", "CHANNELS 3 Zrotation Xrotation Yrotation"]
        stack.append(("}", depth))
        stack.extend((c, depth + 1) for c in reversed(children_of(j)) if depth < 200)
    lines += ["}"] * sum(1 for j, _ in stack if j == "}")
    lines += ["MOTION", "Frames: 1", "Frame Time: 0.033", " ".join(["0"] * 3 * len(order))]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("children_of", [
    lambda j: [2 * j + 1, 2 * j + 2],  # a binary tree: every joint holds a pair
    lambda j: [10 * j + k for k in range(1, 11)],  # ten equal children everywhere
    lambda j: [j + 1, j + 1000, j + 2000] if j < 300 else [],  # a long spine with side twigs
])
def test_pathological_trees_are_answered_quickly(tmp_path, children_of):
    start = time.perf_counter()
    try:
        load_motion(_write(tmp_path, _tree_bvh(children_of), "tree.bvh"))
    except AnrError:
        pass
    assert time.perf_counter() - start < 3.0
