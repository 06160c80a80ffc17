"""The kind of a file given to the studio, and the order files dropped together open in."""

from __future__ import annotations

from pathlib import Path

from anr_studio.components.file_kinds import ACCEPTED, FileKind, file_kind, plan_opening


def test_kinds_by_suffix_whatever_the_case():
    assert file_kind("a/b/demo.ANR") == FileKind.AVATAR
    assert file_kind("cap.h5") == file_kind("cap.hdf5") == FileKind.CAPTURE
    assert {file_kind(f"clip{s}") for s in (".mp4", ".mov", ".avi", ".mkv")} == {FileKind.VIDEO}
    assert file_kind("walk.bvh") == file_kind("walk.npz") == FileKind.MOTION
    assert file_kind("notes.txt") == file_kind("no_suffix") == FileKind.UNKNOWN
    for s in (".anr", ".h5", ".mp4", ".mov", ".avi", ".mkv", ".bvh", ".npz"):
        assert s in ACCEPTED


def test_a_folder_is_an_import(tmp_path):
    assert file_kind(tmp_path) == FileKind.FOLDER and "folder" in ACCEPTED


def test_avatars_open_first_and_an_npz_beside_a_video_is_its_poses():
    plan, poses = plan_opening(["walk.bvh", "x.txt", "demo.anr", "cap.h5"])
    assert [k for k, _ in plan] == [FileKind.AVATAR, FileKind.CAPTURE, FileKind.MOTION, FileKind.UNKNOWN] and poses is None
    plan, poses = plan_opening(["clip.mp4", "clip_poses.npz"])
    assert plan == [(FileKind.VIDEO, Path("clip.mp4"))] and poses == Path("clip_poses.npz")
    plan, poses = plan_opening(["moves.npz"])
    assert plan == [(FileKind.MOTION, Path("moves.npz"))] and poses is None
