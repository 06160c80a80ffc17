"""Motion playback in the studio against the wall clock (target: within 5 % of real time on 2 CPU cores).

Runs the real main window (Xvfb is fine) with an avatar in the neural preview at its preview size,
plays a motion for ``--seconds`` and reports:

- ``speed``: frames the playhead advanced / (seconds x the clip's fps); 1.00 is real time;
- ``viewport_fps``: pose changes the 3D view received per second;
- ``neural_fps``: neural images put on screen per second, and ``neural_lag_ms``: median time from
  the pose a neural image shows to the moment it is on screen.

    xvfb-run -a python benchmarks/gui_playback.py --avatar models/demo.anr --seconds 30
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time


def run(args) -> dict:
    import torch
    from PySide6 import QtCore

    torch.set_num_threads(args.threads)
    from anr_studio.avatar import Avatar
    from anr_studio.components.scene import default_body
    from anr_studio.gui.app import _application, wait_until_rendered
    from anr_studio.gui.main_window import MainWindow

    app = _application()
    body = default_body()
    win = MainWindow(body=body)
    win.resize(1280, 720)
    win.show()
    import copy

    win.set_avatar(Avatar.load(args.avatar, body=copy.deepcopy(body)), args.avatar)
    wait_until_rendered(win, 60)
    panel = win.pose_panel
    panel.load_motion(args.motion)
    clip = panel.playback.clip
    lags: list[float] = []
    win.neural.rendered.connect(lambda r: lags.append(1000 * (time.perf_counter() - r.request.stamp)))
    poses = [0]
    win.pose_state.changed.connect(lambda *_: poses.__setitem__(0, poses[0] + 1))

    unwrapped = [0.0]
    last = [panel.playback.phase]

    def track(_frame: int) -> None:  # the playhead wraps around; count what it advanced
        phase = panel.playback.phase
        unwrapped[0] += (phase - last[0]) % len(clip)
        last[0] = phase

    panel.timeline.valueChanged.connect(track)
    panel.play_btn.setChecked(True)
    t0 = time.perf_counter()
    n_lags = len(lags)
    while time.perf_counter() - t0 < args.seconds:
        app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 20)
        time.sleep(0.002)
    panel.play_btn.setChecked(False)
    wall = time.perf_counter() - t0
    shown = lags[n_lags:]
    win.close()
    return {"seconds": round(wall, 2), "clip": args.motion, "fps": clip.fps,
            "speed": round(unwrapped[0] / (wall * clip.fps), 4),
            "viewport_fps": round(poses[0] / wall, 1), "neural_fps": round(len(shown) / wall, 1),
            "neural_lag_ms": round(statistics.median(shown), 1) if shown else None,
            "preview_size": win.neural.size_px, "threads": args.threads,
            "cpu_count": os.cpu_count(), "load_avg": round(os.getloadavg()[0], 2)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--avatar", default="models/demo.anr")
    ap.add_argument("--motion", default="walk", help="a built-in motion name or a motion file")
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    ap.add_argument("--out", help="write the result as JSON here")
    args = ap.parse_args(argv)
    result = run(args)
    print(json.dumps(result, indent=1))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)
    return 0 if abs(result["speed"] - 1) <= 0.05 else 1


if __name__ == "__main__":
    sys.exit(main())
