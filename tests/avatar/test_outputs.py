"""The avatar commands never destroy a user's file and check their arguments' ranges."""

from __future__ import annotations

import shutil

import pytest

from anr_studio.cli import main


@pytest.fixture(scope="module")
def body_file(tmp_path_factory, body):
    path = tmp_path_factory.mktemp("body") / "box.safetensors"
    body.save(path)
    return str(path)


@pytest.fixture
def avatar(avatar_path, tmp_path):
    path = tmp_path / "a.anr"
    shutil.copy(avatar_path, path)
    return path


def run(*args):
    return main([str(a) for a in args])


@pytest.mark.parametrize("command, message", [
    (["render", "{a}", "--out", "{a}"], "is also an input of this command"),
    (["render", "{a}", "--out", "{cap}"], "is a .h5 name, expected a .png file"),
    (["render", "{a}", "--out", "{tmp}/x.txt"], "is a .txt name, expected a .png file"),
    (["render", "{a}", "--orbit", "2", "--out", "{tmp}/o.png"], "is a .png name, expected a .mp4 file or a folder"),
    (["render", "{a}", "--out", "{tmp}/old.png"], "the file exists, expected a new name or --overwrite"),
    (["export", "{a}", "--texture", "{a}"], "is also an input of this command"),
    (["export", "{a}", "--texture", "{tmp}/t.anr"], "is a .anr name, expected a .png file"),
    (["export", "{a}", "--mesh", "{tmp}/old.png"], "is a .png name, expected a .obj file or a .glb file"),
    (["swap", "{a}", "--from", "alice", "--to", "bob", "--region", "upper", "--name", "x", "--out", "{cap}"],
     "is a .h5 name, expected a .anr file"),
    (["swap", "{a}", "--from", "alice", "--to", "bob", "--region", "upper", "--name", "x", "--out", "{tmp}/new.anr",
      "--preview", "{a}"], "is also an input of this command"),
    (["fit", "{a}", "--capture", "{cap}", "--name", "c", "--out", "{cap}"], "is also an input of this command"),
    (["fit", "{a}", "--capture", "{cap}", "--name", "c", "--out", "{tmp}/b.anr"], "the file exists"),
])
def test_outputs_that_would_destroy_a_file_are_refused(avatar, captures, body_file, tmp_path, capsys, command, message):
    (tmp_path / "old.png").write_bytes(b"a picture")
    (tmp_path / "b.anr").write_bytes(b"another avatar")
    cap = tmp_path / "cap.h5"
    shutil.copy(captures[0], cap)
    before = {p: p.read_bytes() for p in (avatar, cap, tmp_path / "old.png", tmp_path / "b.anr")}
    args = [a.format(a=avatar, cap=cap, tmp=tmp_path) for a in command]
    assert run(*args, "--body-model", body_file, "--device", "cpu", "--quiet") == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert {p: p.read_bytes() for p in before} == before
    assert not (tmp_path / "x.txt").exists() and not (tmp_path / "o.png").exists() and not (tmp_path / "new.anr").exists()


def test_overwrite_replaces_an_existing_output(avatar, body_file, tmp_path, capsys):
    old = tmp_path / "old.png"
    old.write_bytes(b"a picture")
    assert run("render", avatar, "--size", 16, "--out", old, "--overwrite", "--body-model", body_file, "--device", "cpu") == 0
    assert old.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("flag, value, message", [
    ("--size", 100000, "argument --size: 100000 is out of range, expected from 16 to 8192"),
    ("--batch-size", 0, "argument --batch-size: 0 is out of range, expected from 1 to 256"),
    ("--frames", 0, "argument --frames: 0 is out of range"),
    ("--orbit", 0, "argument --orbit: 0 is out of range, expected from 1 to 3600"),
    ("--fps", "nan", "argument --fps: nan is out of range"),
    ("--elevation", "inf", "argument --elevation: inf is out of range"),
])
def test_render_arguments_are_range_checked(avatar, tmp_path, capsys, flag, value, message):
    with pytest.raises(SystemExit) as exit_:
        run("render", avatar, flag, value, "--out", tmp_path / "o.mp4")
    assert exit_.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "o.mp4").exists()


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu_is_one_sentence(avatar, tmp_path, capsys):
    assert run("render", avatar, "--device", "cuda", "--out", tmp_path / "o.png") == 2
    assert "--device cuda: no CUDA GPU is available on this machine, expected --device cpu" in capsys.readouterr().err


def test_a_run_folder_stands_for_its_avatar_file(avatar, body_file, tmp_path, capsys):
    folder = tmp_path / "run"
    folder.mkdir()
    shutil.move(avatar, folder / "avatar.anr")
    common = ["--body-model", body_file, "--device", "cpu", "--quiet"]
    assert run("render", folder, "--size", 16, "--out", tmp_path / "r.png", *common) == 0
    assert run("export", folder, "--texture", tmp_path / "t.png", *common) == 0
    assert run("swap", folder, "--from", "alice", "--to", "bob", "--region", "upper", "--name", "c",
               "--out", folder / "avatar.anr", *common) == 0  # the folder's own file: an in-place edit
    assert (tmp_path / "r.png").is_file() and (tmp_path / "t.png").is_file()
    assert "identity 'c' is 'bob'" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert run("render", tmp_path / "empty", "--out", tmp_path / "e.png", *common) == 2
    assert f"{tmp_path / 'empty' / 'avatar.anr'}: file not found, expected an ANR Studio avatar file" in capsys.readouterr().err
    (tmp_path / "training").mkdir()
    (tmp_path / "training" / "run.json").write_text("{}")  # a run still training: no avatar.anr yet
    assert run("render", tmp_path / "training", "--out", tmp_path / "e.png", *common) == 2
    assert f"{tmp_path / 'training' / 'avatar.anr'}: not written yet, expected the avatar of a run whose training has stopped" \
        in capsys.readouterr().err


def test_an_obj_export_checks_and_names_the_material_and_texture_beside_it(avatar, body_file, tmp_path, capsys):
    common = ["--body-model", body_file, "--device", "cpu", "--quiet"]
    for name in ("m.mtl", "m_texture.png"):
        (tmp_path / name).write_bytes(b"another mesh's")
        assert run("export", avatar, "--mesh", tmp_path / "m.obj", *common) == 2
        assert f"--mesh {tmp_path / name}: the file exists, expected a new name or --overwrite" in capsys.readouterr().err
        assert (tmp_path / name).read_bytes() == b"another mesh's" and not (tmp_path / "m.obj").exists()
        (tmp_path / name).unlink()
    assert run("export", avatar, "--mesh", tmp_path / "m.obj", *common) == 0
    assert f"wrote {tmp_path / 'm.obj'} with m.mtl and m_texture.png beside it" in capsys.readouterr().err
    assert run("export", avatar, "--mesh", tmp_path / "m.obj", "--overwrite", *common) == 0
    assert run("export", avatar, "--mesh", tmp_path / "n.obj", "--no-mesh-texture", *common) == 0
    assert f"wrote {tmp_path / 'n.obj'}\n" in capsys.readouterr().err and not (tmp_path / "n.mtl").exists()


@pytest.mark.parametrize("command, message", [
    (["render", "{a}", "--background", "{tmp}/plate.png"], "--background {tmp}/plate.png: file not found, expected white, "),
    (["render", "{a}", "--background", "mauve"], "--background mauve: unknown colour, expected white, black, grey"),
    (["render", "{a}", "--pose", "{tmp}/p.npy"], "p.npy: file not found, expected a .npy file of a (24, 3) or (72,)"),
    (["swap", "{tmp}/gone.anr", "--from", "a", "--to", "b", "--name", "c"], "swap: neither --region nor --mask given"),
])
def test_bad_arguments_say_what_is_wrong(avatar, body_file, tmp_path, capsys, command, message):
    args = [a.format(a=avatar, tmp=tmp_path) for a in command]
    out = tmp_path / ("o.anr" if args[0] == "swap" else "o.png")
    assert run(*args, "--out", out, "--body-model", body_file, "--device", "cpu") == 2
    assert message.format(tmp=tmp_path) in capsys.readouterr().err
