"""GUI test setup: real OpenGL under Xvfb (pytest-xvfb), isolated settings, a clear skip without a display."""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

# Settings (window state, recent files) go to a throwaway folder, never the user's.
os.environ.setdefault("XDG_CONFIG_HOME", tempfile.mkdtemp(prefix="anr-gui-cfg-"))
os.environ.setdefault("OMP_NUM_THREADS", "1")

_SKIP_REASON: str | None = None


def _display_problem() -> str | None:
    if os.environ.get("QT_QPA_PLATFORM", "") == "offscreen":
        return "QT_QPA_PLATFORM=offscreen has no OpenGL for vispy; run under Xvfb (pytest-xvfb) instead"
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        hint = "" if shutil.which("Xvfb") else " (Xvfb is not installed)"
        return f"no display for the GUI tests{hint}; install Xvfb so pytest-xvfb can start one"
    try:
        from PySide6 import QtWidgets  # noqa: F401
        import vispy  # noqa: F401
    except ImportError as exc:
        return f"GUI packages missing: {exc}"
    return None


def pytest_collection_modifyitems(config, items):
    global _SKIP_REASON
    _SKIP_REASON = _display_problem()
    for item in items:
        if "tests/gui" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.gui)
            if _SKIP_REASON:
                item.add_marker(pytest.mark.skip(reason=_SKIP_REASON))


@pytest.fixture(scope="session")
def standin_body():
    from anr_studio.jobs.standin_body import StandinBody

    return StandinBody()


@pytest.fixture
def window(qtbot, standin_body):
    """The studio's main window on the stand-in body, shown and drawn."""
    import torch

    torch.set_num_threads(1)
    from anr_studio.gui.main_window import MainWindow

    win = MainWindow(body=standin_body, body_note="stand-in body (test)")
    qtbot.addWidget(win)
    win.resize(1200, 800)
    win.show()
    qtbot.waitExposed(win)
    qtbot.wait(50)
    yield win
    win.close()


@pytest.fixture
def tiny_avatar(standin_body):
    from anr_studio.jobs.memory_avatar import MemoryAvatar

    return MemoryAvatar.random(standin_body, "tiny", identities=("alice", "bob"), seed=3)


def make_capture(path, body, frames: int = 6, size: int = 64, identity: str = "tiny", seed: int = 0) -> str:
    """Writes a small real capture of ``body`` (a UV-checker person over a grey plate) and returns its path."""
    import numpy as np
    import torch

    from anr_studio.capture import CaptureWriter
    from anr_studio.jobs.scene import OrbitView
    from anr_studio.render import render_body_maps

    rng = np.random.default_rng(seed)
    view = OrbitView(distance=3.6)
    cam = view.camera((size, size))
    K, R, t = cam.K[0].numpy(), cam.R[0].numpy(), cam.t[0].numpy()
    plate = np.full((size, size, 3), 90, np.uint8)
    poses = np.zeros((frames, 24, 3), np.float32)
    poses[:, 16, 2] = np.linspace(-1.0, 0.3, frames)
    poses[:, 17, 2] = np.linspace(1.0, -0.3, frames)
    poses[:, 0, 1] = np.linspace(-0.6, 0.6, frames)
    with CaptureWriter(str(path), identity, size, size, fps=10.0, betas=np.zeros(4, np.float32), camera=(K, R, t), background=plate) as w:
        for i in range(frames):
            out = body(pose=torch.from_numpy(poses[i])[None])
            maps = render_body_maps(body, out.vertices, cam, (size, size))
            uv = maps.uv[0].numpy()
            checker = ((np.floor((uv[..., 0] + 1) * 8) + np.floor((uv[..., 1] + 1) * 8)) % 2)[..., None]
            person = np.where(checker > 0, [220, 60, 50], [240, 230, 200]).astype(np.float32)
            m = maps.mask[0, 0].numpy()[..., None]
            frame = (person * m + plate * (1 - m) + rng.normal(0, 2, plate.shape)).clip(0, 255).astype(np.uint8)
            w.append(frame, mask=(m[..., 0] * 255).astype(np.uint8), pose=poses[i], transl=np.zeros(3, np.float32))
        w.set_split(np.arange(frames - 1), np.array([frames - 1]))
        w.set_keyframes(np.array([0, frames // 2]))
    return str(path)


@pytest.fixture
def tiny_capture(tmp_path, standin_body):
    return make_capture(tmp_path / "tiny.h5", standin_body)
