"""The avatar commands end to end on a tiny trained avatar: render (still, orbit, animation), swap, fit, export."""

import cv2
import numpy as np
import pytest
import trimesh

from anr_studio.avatar import Avatar
from anr_studio.cli import main
from anr_studio.avatar.file import read_avatar


def count_video_frames(path) -> tuple[int, tuple[int, int]]:
    """Returns (frames decoded, (H, W)) of a video read back with OpenCV (proves that it plays)."""
    cap = cv2.VideoCapture(str(path))
    assert cap.isOpened(), f"OpenCV cannot open {path}"
    n, size = 0, (0, 0)
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        n, size = n + 1, frame.shape[:2]
    cap.release()
    return n, size

BAD_BVH = """HIERARCHY
ROOT Blob
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
  JOINT Tentacle
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
Frame Time: 0.033333
0 0 0 0 0 0 0 0 0
0 0 0 0 0 0 0 0 0
"""


@pytest.fixture(scope="module")
def body_file(tmp_path_factory, body):
    path = tmp_path_factory.mktemp("body") / "box.safetensors"
    body.save(path)
    return str(path)


def run(*args):
    return main([str(a) for a in args])


def test_render_still_orbit_and_animation(avatar_path, body_file, tmp_path):
    common = ["--body-model", body_file, "--device", "cpu", "--quiet"]
    assert run("render", avatar_path, "--identity", "bob", "--size", 40, "--out", tmp_path / "still.png", *common) == 0
    still = cv2.imread(str(tmp_path / "still.png"))
    assert still.shape == (40, 40, 3) and still.std() > 1

    assert run("render", avatar_path, "--identity", "alice", "--orbit", 6, "--size", 32, "--out", tmp_path / "orbit.mp4", *common) == 0
    assert count_video_frames(tmp_path / "orbit.mp4") == (6, (32, 32))

    assert run("render", avatar_path, "--identity", "alice,bob", "--motion", "walk", "--frames", 5, "--size", 32,
               "--out", tmp_path / "walk.mp4", *common) == 0
    assert count_video_frames(tmp_path / "walk.mp4") == (5, (32, 64))  # two identities side by side

    assert run("render", avatar_path, "--identity", "bob", "--motion", "arms", "--frames", 3, "--size", 24,
               "--background", "transparent", "--out", tmp_path / "frames", *common) == 0
    files = sorted((tmp_path / "frames").glob("frame_*.png"))
    assert [f.name for f in files] == ["frame_00000.png", "frame_00001.png", "frame_00002.png"]
    rgba = cv2.imread(str(files[0]), cv2.IMREAD_UNCHANGED)
    assert rgba.shape == (24, 24, 4) and rgba[..., 3].max() > 0 and rgba[..., 3].min() < 255


def test_orbit_views_differ_and_repeat(avatar_path, body):
    from anr_studio.avatar.animate import orbit_frames

    avatar = Avatar.load(avatar_path, body=body)
    frames = list(orbit_frames(avatar, "alice", 4, 32, batch_size=3))
    assert len(frames) == 4
    front, side = frames[0].astype(int), frames[1].astype(int)
    assert np.abs(front - side).mean() > 1.0  # a quarter turn shows another silhouette
    again = list(orbit_frames(avatar, "alice", 4, 32, batch_size=4))
    for a, b in zip(frames, again):
        assert np.abs(a.astype(int) - b.astype(int)).max() <= 1  # batching does not change pixels


def test_swap_fit_export(avatar_path, captures, body_file, tmp_path, capsys, caplog):
    common = ["--body-model", body_file, "--device", "cpu", "--quiet"]
    out = tmp_path / "swapped.anr"
    assert run("swap", avatar_path, "--from", "alice", "--to", "bob", "--region", "upper", "--feather", 0.5, "--name", "bob2",
               "--out", out, "--mask-out", tmp_path / "mask.png", "--preview", tmp_path / "preview.png",
               "--preview-size", 32, *common) == 0
    data = read_avatar(out)
    assert data.meta["identities"] == ["alice", "bob", "bob2"]
    mask = cv2.imread(str(tmp_path / "mask.png"), cv2.IMREAD_UNCHANGED) / 255.0
    keep, take = mask == 0, mask == 1  # the 8-bit PNG holds exactly the 0s and 1s that were applied
    assert keep.mean() > 0.3 and take.any()
    assert (data.textures[2][:, keep] == data.textures[1][:, keep]).all()
    assert (data.textures[2][:, take] == data.textures[0][:, take]).all()
    assert cv2.imread(str(tmp_path / "preview.png")).shape == (32, 96, 3)

    fitted = tmp_path / "fitted.anr"
    capsys.readouterr()
    assert run("fit", out, "--capture", captures[2], "--steps", 2, "--out", fitted, *common) == 0  # named as the capture
    said = capsys.readouterr().err  # the VGG19 fallback said once, by the command; the loss module's own line is quiet
    assert said.count("VGG19 loss off") == 1 and not [r for r in caplog.records if "VGG19" in r.getMessage()], said
    assert read_avatar(fitted).meta["identities"] == ["alice", "bob", "bob2", "carol"]
    assert (tmp_path / "fitted.fit-carol" / "checkpoints").is_dir()
    assert run("fit", out, "--capture", captures[2], "--name", "carol", "--steps", 3, "--out", fitted, "--resume",
               "--work", tmp_path / "fitted.fit-carol", *common) == 0

    assert run("export", fitted, "--identity", "carol", "--mesh", tmp_path / "posed.obj", "--pose", "walk:10",
               "--texture", tmp_path / "tex.png", "--uv-masks", tmp_path / "masks", *common) == 0
    assert run("export", fitted, "--mesh", tmp_path / "posed.glb", *common) == 0
    from tests.body.synthetic import box_body

    body = box_body()
    for name in ("posed.obj", "posed.glb"):
        mesh = trimesh.load(tmp_path / name, force="mesh", process=False)
        assert len(mesh.faces) == len(body.faces)
        assert mesh.visual.uv is not None and len(mesh.visual.uv) == len(mesh.vertices)
        assert mesh.vertices[:, 1].max() - mesh.vertices[:, 1].min() > 1.0  # a person-sized mesh
    obj = trimesh.load(tmp_path / "posed.obj", force="mesh", process=False)
    rest = trimesh.load(tmp_path / "posed.glb", force="mesh", process=False)
    assert not np.allclose(np.sort(obj.vertices[:, 2]), np.sort(rest.vertices[:, 2]))  # walk:10 is not the rest pose
    assert cv2.imread(str(tmp_path / "tex.png")).shape == (32, 32, 3)
    pca = cv2.imread(str(tmp_path / "tex_pca.png"))
    assert pca.shape == (32, 32, 3) and pca.std() > 10
    assert (tmp_path / "masks" / "upper.png").is_file()
    # the OBJ's texture is named after it, so that another mesh exported into the folder keeps its own
    assert "map_Kd posed_texture.png" in (tmp_path / "posed.mtl").read_text()
    assert cv2.imread(str(tmp_path / "posed_texture.png")).shape == (32, 32, 3)
    assert obj.visual.material.image.size == (32, 32) and not (tmp_path / "material_0.png").exists()


def test_bad_input_messages(avatar_path, body_file, captures, tmp_path, capsys):
    common = ["--body-model", body_file, "--device", "cpu", "--quiet"]
    assert run("render", avatar_path, "--identity", "zoe", "--out", tmp_path / "x.png", *common) == 2
    assert "unknown identity 'zoe', expected one of alice, bob" in capsys.readouterr().err
    (tmp_path / "blob.bvh").write_text(BAD_BVH)
    assert run("render", avatar_path, "--motion", tmp_path / "blob.bvh", "--size", 16, "--out", tmp_path / "x.mp4", *common) == 2
    assert "cannot find two legs and two arms in the skeleton" in capsys.readouterr().err
    assert not (tmp_path / "x.mp4").exists()
    assert run("render", avatar_path, "--motion", "moonwalk", "--out", tmp_path / "x.mp4", *common) == 2
    assert "not a built-in clip" in capsys.readouterr().err
    cv2.imwrite(str(tmp_path / "paint.png"), np.full((50, 70), 255, np.uint8))
    assert run("swap", avatar_path, "--from", "alice", "--to", "bob", "--mask", tmp_path / "paint.png", "--name", "p",
               "--out", tmp_path / "p.anr", *common) == 0
    said = capsys.readouterr().err
    assert "mask is 70x50, resampled to the texture's 32x32" in said
    assert f"wrote {tmp_path / 'p.anr'}: identity 'p' is 'bob' wearing the painted region of 'alice' (" in said
    assert run("render", avatar_path, "--out", tmp_path / "x.gif", "--orbit", 2, "--size", 16, *common) == 2
    assert "expected a .mp4 file or a folder" in capsys.readouterr().err
    assert run("render", avatar_path, "--out", tmp_path / "y.png", "--body-model", tmp_path / "nobody.safetensors") == 2
    capsys.readouterr()
    common = ["--body-model", body_file, "--device", "cpu"]  # with the progress bar, which a quick failure never shows
    assert run("fit", avatar_path, "--capture", captures[0], "--name", "alice", "--out", tmp_path / "f.anr", *common) == 2
    assert capsys.readouterr().err == ("anr-studio: error: --name alice: the avatar already has an identity of that name, "
                                       "expected a new name\n")
    assert run("fit", avatar_path, "--capture", captures[0], "--out", tmp_path / "f.anr", *common) == 2
    assert capsys.readouterr().err == (f"anr-studio: error: {captures[0]}: its identity 'alice' is already an identity of "
                                       "the avatar, expected --name with a new name for the fitted one\n")
