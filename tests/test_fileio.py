"""Safe writes: temporary names, symlinks and devices, permissions, full disks, outputs, folder locks; reading our safetensors."""

from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from anr_studio import fileio
from anr_studio.avatar.video import VideoWriter, mp4_complete, write_frames
from anr_studio.errors import AnrError
from anr_studio.fileio import atomic_path, atomic_write_bytes, check_output, lock_folder, unlock_folder


def test_failed_write_leaves_the_target_and_no_temporary_file(tmp_path):
    target = tmp_path / "a.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("crash")
    assert target.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["a.bin"]


def test_temporary_names_are_unpredictable_and_exclusive(tmp_path):
    target = tmp_path / "out.mp4"
    with atomic_path(target) as a, atomic_path(target) as b:
        assert a != b and a.parent == b.parent == tmp_path and a.name.startswith(".out.mp4.")
        a.write_bytes(b"1")
        b.write_bytes(b"2")
    # a symlink planted at the old fixed partial name is neither followed nor replaced
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (tmp_path / ".out2.partial.mp4").symlink_to(victim)
    write_frames(tmp_path / "out2.mp4", [np.zeros((16, 16, 3), np.uint8)] * 2, fps=10)
    assert victim.read_text() == "precious" and (tmp_path / ".out2.partial.mp4").is_symlink()
    assert (tmp_path / "out2.mp4").read_bytes()[4:8] == b"ftyp"


@pytest.mark.parametrize("kind", ["symlink", "device", "folder"])
def test_only_regular_files_are_replaced(tmp_path, kind):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    target = tmp_path / "out.png"
    if kind == "symlink":
        target.symlink_to(victim)
    elif kind == "device":
        target = Path("/dev/null")
    else:
        target.mkdir()
    expected = {"symlink": "is a symbolic link", "device": "is a device", "folder": "is a folder"}[kind]
    with pytest.raises(AnrError, match=f"{expected}, expected a regular file"):
        atomic_write_bytes(target, b"new")
    assert victim.read_text() == "precious"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_edits_keep_permissions_and_refuse_read_only_files(tmp_path):
    target = tmp_path / "private.bin"
    target.write_bytes(b"old")
    target.chmod(0o600)
    atomic_write_bytes(target, b"new")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600 and target.read_bytes() == b"new"
    target.chmod(0o444)
    with pytest.raises(AnrError, match="private.bin: is read-only, expected a writable file"):
        atomic_write_bytes(target, b"newer")
    assert target.read_bytes() == b"new"
    fresh = tmp_path / "fresh.bin"
    atomic_write_bytes(fresh, b"x")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o666 & ~umask


def test_simulated_full_disk_is_one_sentence_and_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "a.bin"
    target.write_bytes(b"old")

    def no_space(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(AnrError, match=r"a.bin: cannot write \(the disk is full\), expected free space on that disk"):
        atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["a.bin"]


def test_library_errors_naming_the_os_error_become_one_sentence(tmp_path):
    class SafetensorError(Exception):
        pass

    with pytest.raises(AnrError, match=r"x.anr: cannot write \(the disk is full\)"):
        with fileio.os_errors(tmp_path / "x.anr"):
            raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")
    with pytest.raises(AnrError, match=r"cannot write \(permission denied\)"):
        with fileio.os_errors(tmp_path / "y"):
            raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "y"))
    with pytest.raises(ValueError):  # anything else is not ours to translate
        with fileio.os_errors(tmp_path / "z"):
            raise ValueError("a bug")


def test_real_full_disk_keeps_the_old_file(small_disk):
    target = small_disk / "a.bin"
    target.write_bytes(b"old")
    with pytest.raises(AnrError, match="the disk is full"):
        atomic_write_bytes(target, os.urandom(400_000))
    assert target.read_bytes() == b"old" and sorted(p.name for p in small_disk.iterdir()) == ["a.bin"]


def test_a_video_cut_short_by_a_full_disk_is_not_reported_as_written(small_disk):
    frames = [np.random.default_rng(i).integers(0, 255, (128, 128, 3), np.uint8) for i in range(60)]
    with pytest.raises(AnrError, match=r"o.mp4: cannot write \(the disk is full\)"):
        write_frames(small_disk / "o.mp4", frames, fps=30)
    assert list(small_disk.iterdir()) == []


def test_mp4_completeness_check(tmp_path):
    path = tmp_path / "v.mp4"
    writer = VideoWriter(path, fps=10)
    for i in range(3):
        writer.write(np.full((16, 16, 3), 60 * i, np.uint8))
    writer.close()
    assert mp4_complete(path)
    data = path.read_bytes()
    cut = tmp_path / "cut.mp4"
    for size in (0, 7, len(data) // 2, len(data) - 1):
        cut.write_bytes(data[:size])
        assert not mp4_complete(cut), size


def test_check_output_refuses_inputs_other_kinds_and_existing_files(tmp_path):
    src = tmp_path / "a.anr"
    src.write_bytes(b"avatar")
    with pytest.raises(AnrError, match="is also an input of this command"):
        check_output(src, (".anr",), inputs=[src], overwrite=True)
    with pytest.raises(AnrError, match=r"x.txt: is a .txt name, expected a .png file \(what this command writes\)"):
        check_output(tmp_path / "x.txt", (".png",))
    with pytest.raises(AnrError, match="expected a .mp4 file or a folder"):
        check_output(tmp_path / "x.gif", (".mp4", ""))
    existing = tmp_path / "x.png"
    existing.write_bytes(b"png")
    with pytest.raises(AnrError, match="the file exists, expected a new name or --overwrite"):
        check_output(existing, (".png",))
    assert check_output(existing, (".png",), overwrite=True) == existing
    frames = tmp_path / "frames"
    frames.mkdir()
    assert check_output(frames, (".mp4", "")) == frames  # an empty folder is fine
    (frames / "frame_00000.png").write_bytes(b"png")
    with pytest.raises(AnrError, match="the folder is not empty"):
        check_output(frames, (".mp4", ""))
    (tmp_path / "link.png").symlink_to(existing)
    with pytest.raises(AnrError, match="is a symbolic link"):
        check_output(tmp_path / "link.png", (".png",), overwrite=True)
    assert src.read_bytes() == b"avatar" and existing.read_bytes() == b"png"


def test_a_folder_lock_excludes_other_processes_and_cleans_stale_partials(tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    stale = [run / ".avatar.anr.abc123.tmp", run / "checkpoints" / ".step-00000002.safetensors.x1.tmp"]
    for p in stale:
        p.write_bytes(b"partial")
    keep = run / "notes.txt"
    keep.write_text("mine")
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from anr_studio.fileio import lock_folder; "
                               f"lock_folder({str(run)!r}); print('held', flush=True); time.sleep(60)"],
                              stdout=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONPATH=os.getcwd()))
    try:
        assert holder.stdout.readline().strip() == "held"
        assert not any(p.exists() for p in stale) and keep.exists()
        with pytest.raises(AnrError, match=f"another anr-studio process \\(pid {holder.pid}\\) is using this run folder"):
            lock_folder(run)
    finally:
        holder.kill()
        holder.wait()
    start = time.monotonic()
    assert lock_folder(run) == run  # the lock went with the process
    assert time.monotonic() - start < 5
    assert lock_folder(run) == run  # re-entrant
    unlock_folder(run)


def test_read_safetensors_returns_metadata_and_tensors_or_one_sentence(tmp_path):
    import torch
    from safetensors.torch import save_file

    from anr_studio.fileio import read_safetensors

    good = tmp_path / "good.st"
    save_file({"x": torch.ones(2)}, str(good), metadata={"k": '{"a": 1}'})
    meta, tensors = read_safetensors(good, "k", "a test file")
    assert meta == {"a": 1} and torch.equal(tensors["x"], torch.ones(2))
    for name, metadata, message in (("list.st", {"k": "[1, 2]"}, "k metadata is a JSON list, expected an object"),
                                    ("text.st", {"k": "{"}, "k metadata is not valid JSON"),
                                    ("none.st", {}, "metadata has no 'k' entry")):
        save_file({"x": torch.ones(2)}, str(tmp_path / name), metadata=metadata)
        with pytest.raises(AnrError, match=message):
            read_safetensors(tmp_path / name, "k", "a test file")
    (tmp_path / "junk.st").write_bytes(b"\x00" * 64)
    with pytest.raises(AnrError, match=r"junk.st: not a test file: it is damaged or of another format \(its safetensors header cannot be read\)$"):
        read_safetensors(tmp_path / "junk.st", "k", "a test file")
    with pytest.raises(AnrError, match="gone.st: file not found, expected a test file"):
        read_safetensors(tmp_path / "gone.st", "k", "a test file")
    (tmp_path / "run").mkdir()  # a run folder where its avatar file belongs
    with pytest.raises(AnrError, match="run: is a folder, expected a test file"):
        read_safetensors(tmp_path / "run", "k", "a test file")



def test_frames_cut_short_by_an_error_leave_no_partial_folder(tmp_path):
    def frames():
        yield from [np.zeros((16, 16, 3), np.uint8)] * 3
        raise KeyboardInterrupt

    kept = tmp_path / "kept"
    kept.mkdir()
    for out in (tmp_path / "frames", kept):
        with pytest.raises(KeyboardInterrupt):
            write_frames(out, frames())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept"] and list(kept.iterdir()) == []


def test_stop_signals_raise_keyboard_interrupt_inside_the_block_and_an_ignored_one_stays_ignored():
    import signal

    started = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP)}
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as under nohup
    try:
        with fileio.on_stop_signals():
            assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
            with pytest.raises(KeyboardInterrupt):
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(5)
            calls = []
            with fileio.on_stop_signals(lambda *_: calls.append("stop")):  # a training's own: stop at the next step
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.01)
                assert calls == ["stop"] and signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
        assert signal.getsignal(signal.SIGTERM) == started[signal.SIGTERM] and signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    finally:
        for s, handler in started.items():
            signal.signal(s, handler)
