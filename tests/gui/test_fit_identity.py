"""Fitting a new identity from the studio: the Training panel's Fit identity asks the name and the steps in one box and
fits only a texture to the open capture in the training job's process; the identity joins the open avatar, renders in
the neural view, can be tried on and saved; a stopped fit keeps the steps it made; the fit's work folder goes however
the fit ends; bad input ends in one dialog sentence."""

from __future__ import annotations

import copy
import multiprocessing
import os
import signal
from pathlib import Path

import numpy as np
import torch
from PySide6 import QtCore, QtWidgets

from anr_studio.components.status import JobState
from anr_studio.gui.training_panel import FitDialog
from tests.gui.test_job_list import _save


def _open(window, tmp_path, standin_body, capture: str):
    """Opens a tiny avatar file (alice, bob) and ``capture`` in the studio, as a user would; returns the avatar's path."""
    from anr_studio.train.presets import preset
    from tests.standin import untrained_avatar

    avatar = untrained_avatar(standin_body, "tiny", identities=("alice", "bob"), seed=3)
    avatar.meta["config"] = preset("tiny").to_dict()  # the training config a trained avatar carries
    path = str(avatar.save(tmp_path / "tiny.anr"))
    window.neural.size_px = 64
    window.open_path(path)
    window.capture_panel.open_capture(capture)
    panel = window.training_panel
    panel.body_override = standin_body
    panel.ckpt.setValue(3)
    panel.preview_every.setValue(2)
    return path


def _boxes_apart(monkeypatch) -> list:
    """Returns the list of boxes of their own asked for the name or the steps (each answered Cancel)."""
    asked: list = []
    for ask in ("getText", "getInt"):
        monkeypatch.setattr(QtWidgets.QInputDialog, ask, lambda *a, **k: (asked.append(a), ("", False))[1])
    return asked


def _when_fit_dialog(answer, tries: int = 200) -> None:
    """Calls ``answer(box)`` on the Fit identity box once it is on screen (looking for ``tries`` × 50 ms)."""
    box = QtWidgets.QApplication.activeModalWidget()
    if isinstance(box, FitDialog):
        answer(box)
    elif tries:
        QtCore.QTimer.singleShot(50, lambda: _when_fit_dialog(answer, tries - 1))


def _dialogs() -> list[QtWidgets.QMessageBox]:
    return [w for w in QtWidgets.QApplication.topLevelWidgets() if w.objectName() == "errorDialog" and w.isVisible()]


def test_fit_identity_adds_the_capture_s_person_to_the_open_avatar(window, qtbot, tiny_capture, standin_body, tmp_path,
                                                                   monkeypatch):
    from anr_studio.avatar import Avatar
    from anr_studio.avatar.file import read_avatar
    from anr_studio.cli import build_parser

    path = _open(window, tmp_path, standin_body, tiny_capture)
    asked_apart = _boxes_apart(monkeypatch)
    offered = []

    def answer(box: FitDialog) -> None:
        offered.append((box.name.text(), box.steps.value()))
        box.steps.setValue(6)
        box.ok.click()

    _when_fit_dialog(answer)
    panel = window.training_panel
    panel.fit_btn.click()
    job = panel.job
    # One box offers the capture's identity and the steps `anr-studio fit` takes when none are given (not the
    # training's Steps).
    cli_steps = build_parser().parse_args(["fit", path, "--capture", tiny_capture]).steps
    assert offered == [("tiny", cli_steps)] and not asked_apart and cli_steps != panel.steps.value()
    assert job is not None and not panel.fit_btn.isEnabled() and panel.stop_btn.isEnabled()
    qtbot.waitUntil(lambda: not job.status.state.active, timeout=120000)
    qtbot.waitUntil(lambda: window.avatar.identities == ["alice", "bob", "tiny"], timeout=5000)
    assert job.status.state == JobState.FINISHED and job.step == 6 and not _dialogs()
    xs, ys = panel.curves["total"].getData()
    assert list(xs) == [1, 2, 3, 4, 5, 6] and np.all(np.isfinite(ys))
    assert "fitting tiny" in panel.log.toPlainText() and panel.progress.value() == 6
    assert panel.truth.image() is not None and panel.render.image() is not None  # the person's held-out frame, rendered
    assert job.join(5) and not Path(job.options.out).exists()  # the fit's work folder is gone
    assert window.statusBar().currentMessage() == ("Added identity tiny to the avatar after 6 steps: File ▸ Save avatar "
                                                   "as… writes it")
    # The new identity is listed, picked and rendered in the neural view, and offered for try-on.
    assert [window.neural.ident_box.itemText(i) for i in range(window.neural.ident_box.count())] == ["alice", "bob", "tiny"]
    qtbot.waitUntil(lambda: window.neural.last_result is not None and window.neural.worker.idle()
                    and window.neural.last_result.request.identity == "tiny", timeout=30000)
    rgb = window.neural.last_result.rgb
    assert rgb.shape == (64, 64, 3) and rgb.std() > 1.0
    assert window.tryon_panel.ident_a.findText("tiny") >= 0 and window.tryon_panel.ident_b.findText("tiny") >= 0
    # It learned from the capture: its texture left the mean of the others, where every fit starts.
    start = torch.stack([window.avatar.texture(n) for n in ("alice", "bob")]).mean(0)
    assert (window.avatar.texture("tiny") - start).abs().max() > 1e-4

    window.tryon_panel.update_preview()  # a live try-on swap: the avatar holds it, its file does not
    out = tmp_path / "with_tiny.anr"
    window.save_avatar_as(str(out))
    before, after = read_avatar(path), read_avatar(out)
    assert after.meta["identities"] == ["alice", "bob", "tiny"] and window.avatar_path == str(out)
    for key, value in before.renderer_state.items():  # the renderer stayed frozen, bit for bit
        assert torch.equal(value, after.renderer_state[key]), key
    img, mask = Avatar.load(out, body=standin_body).render("tiny", np.zeros((24, 3)), None, size=32)
    assert img.shape == (32, 32, 3) and mask.max() > 0.05


def test_the_fit_box_offers_ok_only_for_a_new_name_and_says_why(window, qtbot, tiny_capture, standin_body, tmp_path,
                                                                 monkeypatch):
    _open(window, tmp_path, standin_body, tiny_capture)
    asked_apart = _boxes_apart(monkeypatch)
    seen = []

    def answer(box: FitDialog) -> None:
        for name in ("tiny", "bob", "  ", " carol "):
            box.name.setText(name)
            seen.append((box.ok.isEnabled(), box.reason.text()))
            if name == "bob":
                _save(box, "fit_identity_dialog_name_taken.png")
        seen.append((box.windowTitle(), "tiny.h5" in box.findChild(QtWidgets.QLabel).text()))
        box.reject()

    _when_fit_dialog(answer)
    window.training_panel.fit_btn.click()
    assert seen == [(True, ""), (False, "The name 'bob' is already an identity of tiny.anr."),
                    (False, "The name is empty."), (True, ""), ("Fit identity", True)] and not asked_apart
    assert window.training_panel.job is None and not _dialogs()  # Cancel: no fit


def test_a_stopped_fit_keeps_the_identity_it_learned_so_far(window, qtbot, tiny_capture, standin_body, tmp_path):
    _open(window, tmp_path, standin_body, tiny_capture)
    panel = window.training_panel
    textures = {n: window.avatar.texture(n).clone() for n in window.avatar.identities}
    job = window.fit_identity(name="carol", steps=100000)
    qtbot.waitUntil(lambda: job.step >= 2, timeout=120000)
    panel.stop_btn.click()
    qtbot.waitUntil(lambda: window.avatar.identities == ["alice", "bob", "carol"], timeout=60000)
    step = job.step
    assert job.status.state == JobState.STOPPED and 2 <= step < 100000 and panel.fit_btn.isEnabled() and not _dialogs()
    assert window.statusBar().currentMessage() == (f"Added identity carol to the avatar after {step} steps: File ▸ Save "
                                                   "avatar as… writes it")
    assert job.outcome == f"stopped at step {step}, kept carol"  # the job list's line, not "cancelled"
    assert all(torch.equal(window.avatar.texture(n), t) for n, t in textures.items())
    start = torch.stack(list(textures.values())).mean(0)
    assert (window.avatar.texture("carol") - start).abs().max() > 1e-4  # it learned from the capture
    assert window.neural.ident_box.currentText() == "carol" and window.tryon_panel.ident_a.findText("carol") >= 0
    assert window.unsaved_identities == ["carol"]
    assert job.join(5) and not Path(job.options.out).exists()


def test_a_fit_stopped_before_its_first_step_adds_nothing_and_says_so(window, qtbot, tiny_capture, standin_body,
                                                                      tmp_path):
    _open(window, tmp_path, standin_body, tiny_capture)
    job = window.fit_identity(name="carol", steps=100000)
    window.training_panel.stop_btn.click()
    assert job.join(60)
    qtbot.waitUntil(lambda: "carol" in window.statusBar().currentMessage(), timeout=5000)
    assert window.statusBar().currentMessage() == ("The fit of carol stopped before its first step: nothing was added "
                                                   "to the avatar")
    assert job.status.state == JobState.STOPPED and job.outcome == "stopped before its first step" and not _dialogs()
    assert window.avatar.identities == ["alice", "bob"] and window.neural.ident_box.count() == 2
    assert window.unsaved_identities == [] and not Path(job.options.out).exists()


def test_the_fit_s_work_folder_goes_when_its_process_dies_or_the_studio_closes(window, qtbot, tiny_capture,
                                                                              standin_body, tmp_path):
    _open(window, tmp_path, standin_body, tiny_capture)
    job = window.fit_identity(name="carol", steps=100000)
    folder = Path(job.options.out)
    assert folder.is_dir() and folder.name.startswith("anr-fit-")
    (proc,) = [p for p in multiprocessing.active_children() if p.name == "anr-training"]
    os.kill(proc.pid, signal.SIGKILL)  # dies before it fitted anything (as by the system for lack of memory)
    assert job.join(60) and job.status.state == JobState.FAILED and not folder.exists()
    qtbot.waitUntil(lambda: len(_dialogs()) == 1 and window.training_panel.fit_btn.isEnabled(), timeout=5000)
    _dialogs()[0].close()

    job = window.fit_identity(name="carol", steps=100000)
    folder = Path(job.options.out)
    qtbot.waitUntil(lambda: job.step >= 1, timeout=120000)
    assert folder.is_dir() and window.close()
    assert not job.running and not folder.exists()


def test_bad_input_ends_in_one_dialog_sentence(window, qtbot, tiny_capture, standin_body, tmp_path):
    from tests.standin import write_standin_capture

    _open(window, tmp_path, standin_body, tiny_capture)
    panel = window.training_panel
    assert window.fit_identity(name="bob", steps=4) is None and panel.job is None
    (box,) = _dialogs()
    assert box.text() == "fit identity: the name 'bob' is already an identity of tiny.anr, expected a new name for the person of tiny.h5"
    box.close()

    other = copy.deepcopy(standin_body)
    other.model_id = "another-body"
    foreign = write_standin_capture(tmp_path / "foreign.h5", other, identity="dora")
    window.capture_panel.open_capture(foreign)
    job = window.fit_identity(name="dora", steps=4)
    qtbot.waitUntil(lambda: not job.status.state.active, timeout=120000)
    qtbot.waitUntil(lambda: len(_dialogs()) == 1, timeout=5000)
    assert job.status.state == JobState.FAILED and job.join(5) and not Path(job.options.out).exists()
    assert _dialogs()[0].text() == ("foreign.h5: body model 'another-body' differs from the avatar's 'standin', "
                                    "expected a capture tracked with the avatar's body model")
    assert window.avatar.identities == ["alice", "bob"]
    _dialogs()[0].close()


def test_closing_or_opening_another_avatar_asks_to_save_a_fitted_identity(window, qtbot, tiny_capture, standin_body,
                                                                          tmp_path, monkeypatch):
    from anr_studio.avatar.file import read_avatar
    from tests.gui.test_unsaved_work import Btn, _answer

    path = _open(window, tmp_path, standin_body, tiny_capture)
    job = window.fit_identity(name="tiny", steps=2)
    qtbot.waitUntil(lambda: window.avatar.identities == ["alice", "bob", "tiny"], timeout=120000)
    assert job.status.state == JobState.FINISHED
    monkeypatch.undo()  # the studio's own question box on screen, Cancel clicked
    seen = []

    def cancel():
        box = QtWidgets.QApplication.activeModalWidget()
        if not isinstance(box, QtWidgets.QMessageBox):
            return QtCore.QTimer.singleShot(50, cancel)
        seen.append(sorted(b.text().replace("&", "") for b in box.buttons()))
        box.button(Btn.Cancel).click()

    QtCore.QTimer.singleShot(50, cancel)
    assert not window.close() and window.isVisible() and seen == [["Cancel", "Discard", "Save"]]
    asked = _answer(monkeypatch, Btn.Cancel)
    window.open_path(path)  # Cancel: the avatar with its fitted identity stays open
    assert asked == [("Unsaved identities", "Save the avatar with the identities added to it (tiny)? tiny.anr does "
                      "not hold them yet.", Btn.Save | Btn.Discard | Btn.Cancel, Btn.Save)]
    assert window.avatar.identities == ["alice", "bob", "tiny"]
    asked = _answer(monkeypatch, Btn.Save)
    monkeypatch.setattr(QtWidgets.QFileDialog, "getSaveFileName", lambda *_a, **_k: ("", ""))
    assert not window.close() and window.isVisible()  # Save, then no file chosen: nothing was saved
    out = tmp_path / "with_tiny.anr"
    monkeypatch.setattr(QtWidgets.QFileDialog, "getSaveFileName", lambda *_a, **_k: (str(out), ""))
    assert window.close() and not window.isVisible() and len(asked) == 2
    assert read_avatar(out).meta["identities"] == ["alice", "bob", "tiny"]
    assert read_avatar(path).meta["identities"] == ["alice", "bob"]


def test_discarding_a_fitted_identity_opens_the_other_avatar(window, qtbot, tiny_capture, standin_body, tmp_path,
                                                             monkeypatch):
    from tests.gui.test_unsaved_work import Btn, _answer

    path = _open(window, tmp_path, standin_body, tiny_capture)
    window.fit_identity(name="tiny", steps=2)
    qtbot.waitUntil(lambda: window.avatar.identities == ["alice", "bob", "tiny"], timeout=120000)
    asked = _answer(monkeypatch, Btn.Discard)
    window.open_path(path)
    assert len(asked) == 1 and window.avatar.identities == ["alice", "bob"] and window.neural.ident_box.count() == 2
    window.open_path(path)  # nothing unsaved: no question
    assert window.close() and len(asked) == 1


def test_closing_during_a_fit_stops_it_and_offers_to_save_what_it_learned(window, qtbot, tiny_capture, standin_body,
                                                                         tmp_path, monkeypatch):
    from anr_studio.avatar.file import read_avatar
    from tests.gui.test_unsaved_work import Btn, _answer

    path = _open(window, tmp_path, standin_body, tiny_capture)
    job = window.fit_identity(name="carol", steps=100000)
    folder = Path(job.options.out)
    qtbot.waitUntil(lambda: job.step >= 2, timeout=120000)
    asked = _answer(monkeypatch, Btn.Cancel)
    assert not window.close() and window.isVisible()  # Cancel: the studio stays, with the fit stopped as Stop does
    step = job.step
    assert job.status.state == JobState.STOPPED and not job.running and not folder.exists() and 2 <= step < 100000
    assert asked == [("Unsaved identities", "Save the avatar with the identities added to it (carol)? tiny.anr does "
                      "not hold them yet.", Btn.Save | Btn.Discard | Btn.Cancel, Btn.Save)]
    assert window.avatar.identities == ["alice", "bob", "carol"] and window.unsaved_identities == ["carol"]
    assert window.neural.ident_box.currentText() == "carol" and window.training_panel.fit_btn.isEnabled()
    assert window.statusBar().currentMessage() == (f"Added identity carol to the avatar after {step} steps: File ▸ Save "
                                                   "avatar as… writes it")
    asked = _answer(monkeypatch, Btn.Save)
    out = tmp_path / "with_carol.anr"
    monkeypatch.setattr(QtWidgets.QFileDialog, "getSaveFileName", lambda *_a, **_k: (str(out), ""))
    assert window.close() and len(asked) == 1 and not _dialogs()
    assert read_avatar(out).meta["identities"] == ["alice", "bob", "carol"]
    assert read_avatar(path).meta["identities"] == ["alice", "bob"]


def test_opening_another_avatar_during_a_fit_stops_it_and_offers_to_save_what_it_learned(window, qtbot, tiny_capture,
                                                                                         standin_body, tmp_path,
                                                                                         monkeypatch):
    from tests.gui.test_unsaved_work import Btn, _answer

    path = _open(window, tmp_path, standin_body, tiny_capture)
    job = window.fit_identity(name="carol", steps=100000)
    qtbot.waitUntil(lambda: job.step >= 1, timeout=120000)
    asked = _answer(monkeypatch, Btn.Discard)
    window.open_path(path)
    assert job.status.state == JobState.STOPPED and not job.running and len(asked) == 1 and "(carol)" in asked[0][1]
    assert window.avatar.identities == ["alice", "bob"] and window.unsaved_identities == [] and not _dialogs()


def test_a_fit_whose_process_cannot_start_says_so_and_leaves_no_work_folder(window, qtbot, tiny_capture, standin_body,
                                                                           tmp_path, monkeypatch):
    import multiprocessing.context
    import tempfile

    _open(window, tmp_path, standin_body, tiny_capture)
    work = tmp_path / "tmp"
    work.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(work))

    def refused(_process):
        raise OSError(24, "Too many open files")

    monkeypatch.setattr(multiprocessing.context.SpawnProcess, "start", refused)
    panel = window.training_panel
    assert window.fit_identity(name="carol", steps=4) is None and panel.job is None
    (box,) = _dialogs()
    assert box.text() == ("fit: the fit process could not start (OSError: [Errno 24] Too many open files), expected the "
                          "system to allow one more process (free memory, process and open-file limits)")
    _save(box, "fit_identity_process_cannot_start.png")
    box.close()
    assert list(work.iterdir()) == [] and panel.fit_btn.isEnabled() and panel.start_btn.isEnabled()
    assert window.avatar.identities == ["alice", "bob"] and not window.jobs.rows()
