"""Makes the screenshots in docs/screenshots: every panel of the studio, working, on this machine.

    xvfb-run -a -s "-screen 0 1600x1000x24" python scripts/make_screenshots.py [--steps 300]

Trains a small two-identity avatar on two synthetic captures first (a few CPU minutes), so every
panel has real data to show.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
OVERRIDES = ("loss.adversarial=0", "optim.lr_renderer=0.002", "optim.lr_texture=0.01", "model.texture.size=64",
             "data.batch_size=4")


# Donor -> wearer pairs whose upper-body swap reads at a glance, a top onto the person in the skirt: the
# demo avatar's magenta t-shirt, or in avatars trained on synthetic captures (identities named by seed)
# seed 5's green long-sleeved top.
CLEAR_SWAPS = (("cleo", "ada"), ("synth-5", "synth-0"))


def tryon_pair(identities) -> tuple[str, str] | None:
    """Returns (donor A, wearer B) among ``identities``: the first of ``CLEAR_SWAPS`` present, else the first
    two; None for fewer than two."""
    names = list(identities)
    for donor, wearer in CLEAR_SWAPS:
        if donor in names and wearer in names:
            return donor, wearer
    return (names[1], names[0]) if len(names) >= 2 else None


def _wait(app, seconds: float, until=None) -> None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        app.processEvents()
        if until is not None and until():
            break
        time.sleep(0.02)


def _pose_demo(win) -> None:
    """Poses the body (one arm out, one lowered), turns the view to azimuth 25° and filters the Pose panel."""
    import numpy as np

    pose = np.zeros((24, 3), np.float32)
    pose[16, 2], pose[17, 2], pose[18, 1], pose[1, 0], pose[4, 0] = -1.1, 0.4, -0.8, -0.5, 0.6
    win.pose_state.set_pose(pose)
    win.view_state.set(azimuth=25.0, elevation=8.0)
    win.pose_panel.filter.setText("left")
    win.docks["Pose"].raise_()


def _neural_colours_shot(app, win) -> None:
    """Saves viewport_neural_colours.png: the viewport in View ▸ Neural texture colours, then back to skin."""
    from anr_studio.gui.app import save_screenshot, wait_until_rendered

    win.set_color_mode("neural")
    wait_until_rendered(win)
    _wait(app, 1.0)
    save_screenshot(win, OUT / "viewport_neural_colours.png")
    win.set_color_mode("skin")


def _only_neural_colours(app, demo: Path) -> int:
    """Makes viewport_neural_colours.png alone from the shipped demo avatar (no captures, no training)."""
    from anr_studio.gui.app import wait_until_rendered
    from anr_studio.gui.main_window import MainWindow

    if not demo.exists():
        print(f"{demo}: not found, expected the shipped demo avatar for --neural-colours-only")
        return 1
    win = MainWindow()
    win.resize(1500, 950)
    win.show()
    wait_until_rendered(win)
    win.open_path(str(demo))
    _pose_demo(win)
    _neural_colours_shot(app, win)
    win.close()
    print("screenshot in", OUT / "viewport_neural_colours.png")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=1500, help="training steps of the small avatar")
    ap.add_argument("--work", default=None, help="working folder (default: a temporary one)")
    ap.add_argument("--frames", type=int, default=24, help="frames per synthetic capture")
    ap.add_argument("--neural-colours-only", action="store_true",
                    help="make only viewport_neural_colours.png, from models/demo.anr (no training)")
    args = ap.parse_args()
    import os

    # A fresh settings folder: the screenshots show the default layout, not this user's.
    os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="anr-shots-cfg-")

    from anr_studio.gui.app import _application, save_screenshot, wait_until_rendered

    app = _application()
    demo = Path(__file__).resolve().parents[1] / "models" / "demo.anr"
    if args.neural_colours_only:
        return _only_neural_colours(app, demo)
    from PySide6 import QtCore

    from anr_studio.capture.keyframes import select_keyframes
    from anr_studio.capture.synth.generate import SynthConfig, generate_capture
    from anr_studio.gui.main_window import MainWindow
    from anr_studio.jobs.training_job import TrainingJob, TrainingOptions

    work = Path(args.work or tempfile.mkdtemp(prefix="anr-shots-"))
    caps = []  # two synthetic people from the capture generator
    for seed in (1, 2):
        path = work / f"synth{seed}.h5"
        if not path.exists():
            generate_capture(path, SynthConfig(seed=seed, frames=args.frames, size=128))
            select_keyframes(path, 0.2)
        caps.append(str(path))
    run = work / "run"
    if not (run / "avatar.anr").exists():
        # No GAN and larger learning rates: a few CPU minutes give distinguishable identities.
        job = TrainingJob(TrainingOptions(caps, str(run), preset="tiny", steps=args.steps, checkpoint_every=500,
                                          preview_every=0, overrides=list(OVERRIDES))).start()
        job.join()
        print("pre-trained:", job.status.snapshot().state, job.status.snapshot().error)

    win = MainWindow()
    win.resize(1500, 950)
    win.show()
    wait_until_rendered(win)
    save_screenshot(win, OUT / "first_launch_empty.png", colours=256)  # no neural render: controls only

    win.open_path(caps[0])
    win.capture_panel.slider.setValue(9)
    win.workspaces.show_workspace("Capture")  # half the height: the frame large enough to see the outline
    _wait(app, 0.5)
    save_screenshot(win, OUT / "capture_panel.png")

    win.docks["Keyframes"].raise_()
    # The panel's preferred height (curves with their axis, the summary line) rather than a scroll bar.
    win.resizeDocks([win.docks["Keyframes"]], [580], QtCore.Qt.Orientation.Vertical)
    win.keyframes_panel.fraction.setValue(0.3)
    kjob = win.keyframes_panel.start_selection()
    _wait(app, 120, lambda: not kjob.status.state.active and not win.keyframes_panel.watcher.active)
    _wait(app, 0.5)
    save_screenshot(win, OUT / "keyframes_panel.png")

    avatar_path = demo if demo.exists() else run / "avatar.anr"  # the shipped demo avatar when there is one
    win.open_path(str(avatar_path))
    win.workspaces.show_workspace("Pose")
    wait_until_rendered(win)
    _wait(app, 1.0)
    save_screenshot(win, OUT / "first_launch_demo.png")
    _pose_demo(win)
    wait_until_rendered(win)
    _wait(app, 1.0)
    save_screenshot(win, OUT / "viewport_pose_neural.png")
    _neural_colours_shot(app, win)

    win.pose_panel.filter.setText("")
    win.workspaces.show_workspace("Try-on")
    tp = win.tryon_panel
    # The region comes from A: the demo's magenta t-shirt onto the identity in the skirt.
    donor, wearer = tryon_pair(win.avatar.identities)
    tp.ident_a.setCurrentText(donor)
    tp.ident_b.setCurrentText(wearer)
    tp.region.setCurrentText("upper")
    tp.fill_region()
    _wait(app, 0.3)
    win.neural.request()
    wait_until_rendered(win)
    _wait(app, 1.0)
    save_screenshot(win, OUT / "tryon_panel.png")

    win.workspaces.show_workspace("Train")
    panel = win.training_panel
    panel.preset.setCurrentText("tiny")
    panel.steps.setValue(args.steps + 100000)
    panel.preview_every.setValue(5)
    panel.ckpt.setValue(100000)
    panel.out.setText(str(run))
    panel.add_capture(caps[1])
    panel.extra_overrides = list(OVERRIDES)
    tjob = panel.start(resume=True)
    _wait(app, 180, lambda: len(tjob.status.metrics) > 60 and tjob.status.preview()[1] is not None)
    _wait(app, 1.0)
    save_screenshot(win, OUT / "training_panel.png")
    win.ask_open_new_avatar = lambda _path: False  # the stopped run's avatar is not opened: no question box
    panel.stop()
    _wait(app, 60, lambda: not tjob.status.state.active)
    win.paint_state.mark_saved()  # the try-on fill is for the picture, nothing to keep
    win.close()
    print("screenshots in", OUT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
