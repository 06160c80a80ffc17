"""Motion playback in the pose panel and opening the shipped demo avatar on first launch."""

from __future__ import annotations

import numpy as np


def test_motion_load_scrub_play_and_use_pose(window, qtbot):
    pp = window.pose_panel
    pp.load_motion("walk")
    assert pp.timeline.isEnabled() and pp.timeline.maximum() > 10 and pp.play_btn.isEnabled()
    np.testing.assert_allclose(window.pose_state.pose, pp.playback.pose(0), atol=1e-6)
    pp.timeline.setValue(10)
    np.testing.assert_allclose(window.pose_state.pose, pp.playback.pose(10), atol=1e-6)
    assert not window.pose_state.undo()  # previewing frames does not fill the undo history
    pp.speed.setValue(2.0)
    pp.play_btn.setChecked(True)
    qtbot.waitUntil(lambda: pp.timeline.value() != 10, timeout=3000)
    pp.play_btn.setChecked(False)
    frame = pp.timeline.value()
    qtbot.wait(150)
    assert pp.timeline.value() == frame  # paused
    pp._use_frame()
    assert window.pose_state.undo()


def test_first_launch_opens_the_demo_avatar(qtbot, tmp_path, monkeypatch, standin_body):
    import torch

    import anr_studio.gui.app as app_mod
    import anr_studio.gui.main_window as mw
    from anr_studio.model import build_renderer
    from anr_studio.avatar.file import write_avatar
    from anr_studio.train.presets import preset

    cfg = preset("tiny")
    renderer = build_renderer(cfg.model, cfg.renderer)
    tex = [torch.rand(8, 32, 32) * 2 - 1 for _ in range(2)]
    models = tmp_path / "models"
    write_avatar(models / "demo.anr", renderer.state_dict(), tex,
                 {"renderer": cfg.renderer, "identities": ["ann", "ben"], "betas": [[0.0] * 4] * 2, "body_model": "default",
                  "image_size": [64, 64], "cameras": [], "config": cfg.to_dict(), "step": 0})
    monkeypatch.setattr(app_mod, "MODELS_DIRS", (models,))
    monkeypatch.setattr(mw, "default_body", lambda: standin_body)
    opened = {}
    real_init = mw.MainWindow.__init__

    def spy(self, *a, **k):
        real_init(self, *a, **k)
        opened["win"] = self

    monkeypatch.setattr(mw.MainWindow, "__init__", spy)
    assert app_mod.run_app(screenshot=str(tmp_path / "s.png")) == 0
    win = opened["win"]
    assert win.avatar is not None and win.avatar.identities == ["ann", "ben"]
    assert win.neural_stack.currentWidget() is win.neural and win.neural.last_result is not None
    assert win.windowTitle().endswith("demo.anr")


def test_phenotype_sliders_reshape_the_builtin_body(qtbot):
    from anr_studio.body import BodyModel

    body = BodyModel.default()
    from anr_studio.gui.main_window import MainWindow, settings
    from anr_studio.components.scene import pose_body

    settings().clear()
    win = MainWindow(body=body)
    qtbot.addWidget(win)
    pp = win.pose_panel
    assert set(pp.phenotype_sliders) == set(body.phenotype["names"])
    v0, _ = pose_body(body, win.pose_state.pose, win.pose_state.betas, None)
    pp.phenotype_sliders["height"].setValue(100)
    v1, _ = pose_body(body, win.pose_state.pose, win.pose_state.betas, None)
    assert np.abs(win.pose_state.betas).max() > 0
    assert np.ptp(v1[:, 1]) > np.ptp(v0[:, 1]) + 0.02  # taller by more than 2 cm
    win.act_undo.trigger()
    np.testing.assert_allclose(win.pose_state.betas, 0.0)
    win.close()


def test_avatar_file_opens_through_avatar_load_on_the_builtin_body(qtbot, tmp_path):
    import torch

    from anr_studio.avatar import Avatar
    from anr_studio.body import BodyModel

    body = BodyModel.default()
    from anr_studio.gui.main_window import MainWindow, settings
    from anr_studio.model import build_renderer
    from anr_studio.avatar.file import write_avatar
    from anr_studio.train.presets import preset

    cfg = preset("tiny")
    torch.manual_seed(0)
    path = tmp_path / "a.anr"
    write_avatar(path, build_renderer(cfg.model, cfg.renderer).state_dict(), [torch.rand(8, 32, 32) * 2 - 1],
                 {"renderer": cfg.renderer, "identities": ["ann"], "betas": [[0.0] * body.num_betas], "body_model": "default",
                  "image_size": [64, 64], "cameras": [], "config": cfg.to_dict(), "step": 0})
    settings().clear()
    win = MainWindow(body=body)
    qtbot.addWidget(win)
    win.neural.size_px = 64
    win.show()
    win.open_path(str(path))
    assert isinstance(win.avatar, Avatar) and win.neural.identity == "ann"
    qtbot.waitUntil(lambda: win.neural.last_result is not None and win.neural.worker.idle(), timeout=30000)
    img = win.neural.last_result.rgb
    from anr_studio.gui.theme import NEURAL_BACKDROP

    assert img.shape == (64, 64, 3)
    assert win.neural.last_result.request.background == NEURAL_BACKDROP  # over the view's grey, not glaring white
    assert img.reshape(-1, 3).std(axis=0).max() > 2  # an image of something, not a flat fill
    win.close()
