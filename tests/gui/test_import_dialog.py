"""The studio's import dialog: a video alone asks for the person's height, which sizes the fitted body."""

from __future__ import annotations

import pytest
from PySide6 import QtWidgets

from anr_studio.jobs import capture_jobs


@pytest.mark.parametrize("typed, height", [(1.82, 1.82), (0.0, None)])
def test_a_video_alone_asks_for_the_persons_height(window, monkeypatch, tmp_path, typed, height):
    panel = window.capture_panel
    clip, out = str(tmp_path / "clip.mp4"), str(tmp_path / "clip.h5")
    monkeypatch.setattr(capture_jobs, "video_fit_missing", lambda *args: None)
    monkeypatch.setattr(QtWidgets.QInputDialog, "getItem", staticmethod(lambda *a, **k: (panel.IMPORT_KINDS[2], True)))
    monkeypatch.setattr(QtWidgets.QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (clip, "")))
    asked = []
    monkeypatch.setattr(QtWidgets.QInputDialog, "getDouble", staticmethod(lambda *a, **k: asked.append(a) or (typed, True)))
    monkeypatch.setattr(QtWidgets.QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (out, "")))
    calls = []
    monkeypatch.setattr(panel, "import_capture", lambda *a, **k: calls.append((a, k)))
    panel.import_dialog()
    assert len(asked) == 1 and "height" in asked[0][2]
    assert calls == [((clip, out, None), {"height": height})]
