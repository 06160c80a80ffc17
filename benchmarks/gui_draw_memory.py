"""Resident memory of the studio while its 3D view draws pose after pose (target: flat after the warm-up).

Runs the real main window (Xvfb is fine) on the default body with no avatar open (no neural preview),
loads a built-in motion and shows its frames one after the other, waiting for the 3D view to draw each
before the next. After ``--warmup`` poses it samples, every ``--sample-every`` poses, the resident memory
(RSS, from /proc) and glibc's heap in use (``mallinfo2``: memory held by live allocations, so a rise
there is memory kept, not a fragmented heap). It prints one JSON object and exits 1 when the RSS rose by
more than ``--max-growth-mb`` over the ``--poses`` drawn after the warm-up.

    xvfb-run -a python benchmarks/gui_draw_memory.py --poses 2000
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]  # anr_studio from this checkout; gui_soak beside this file

from gui_soak import rss_mb  # noqa: E402


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]


def heap_in_use_mb() -> float:
    """Returns the bytes of glibc's heap held by live allocations (all arenas, mmapped blocks included), in MiB."""
    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = _MallInfo2
    info = libc.mallinfo2()
    return (info.uordblks + info.hblkhd) / 2**20


def run(args) -> dict:
    from PySide6 import QtCore

    from anr_studio.gui.app import _application
    from anr_studio.gui.main_window import MainWindow

    app = _application()
    win = MainWindow()
    win.resize(1280, 720)
    win.show()
    panel, view = win.pose_panel, win.viewport
    panel.load_motion(args.motion)
    view.set_color_mode(args.color)
    frames = len(panel.playback.clip)
    draws = [0]
    view.canvas.events.draw.connect(lambda _ev: draws.__setitem__(0, draws[0] + 1))

    def draw_pose(i: int) -> None:
        panel.timeline.setValue(i % frames)
        seen, t = draws[0], time.monotonic()
        while draws[0] == seen and time.monotonic() - t < 5.0:
            app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 5)

    for i in range(args.warmup):
        draw_pose(i)
    samples = []
    t0 = time.monotonic()
    for i in range(args.poses + 1):
        if i % args.sample_every == 0 or i == args.poses:
            samples.append({"poses": i, "rss_mb": round(rss_mb(), 2), "heap_in_use_mb": round(heap_in_use_mb(), 2),
                            "s": round(time.monotonic() - t0, 1)})
            print(json.dumps(samples[-1]), file=sys.stderr, flush=True)
        if i < args.poses:
            draw_pose(args.warmup + i)
    win.close()
    growth = samples[-1]["rss_mb"] - samples[0]["rss_mb"]
    return {"poses": args.poses, "warmup": args.warmup, "motion": args.motion, "color": args.color, "samples": samples,
            "rss_growth_mb": round(growth, 2), "kib_per_pose": round(growth * 1024 / args.poses, 2),
            "heap_growth_mb": round(samples[-1]["heap_in_use_mb"] - samples[0]["heap_in_use_mb"], 2),
            "ms_per_pose": round(1000 * samples[-1]["s"] / args.poses, 1),
            "cpu_count": os.cpu_count(), "load_avg": round(os.getloadavg()[0], 2)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--poses", type=int, default=2000, help="poses drawn after the warm-up")
    ap.add_argument("--warmup", type=int, default=500, help="poses drawn before the first sample")
    ap.add_argument("--sample-every", type=int, default=250)
    ap.add_argument("--motion", default="walk", help="a built-in motion name or a motion file")
    ap.add_argument("--color", default="skin", help="the 3D view's colour mode: skin or checker")
    ap.add_argument("--max-growth-mb", type=float, default=3.0)
    ap.add_argument("--out", help="write the result as JSON here")
    args = ap.parse_args(argv)
    result = run(args)
    print(json.dumps(result, indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1))
    return 0 if result["rss_growth_mb"] <= args.max_growth_mb else 1


if __name__ == "__main__":
    sys.exit(main())
