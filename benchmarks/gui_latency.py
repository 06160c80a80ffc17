"""Slider-to-neural-image latency of the studio (targets: sharp 256² image <= 150 ms median, <= 300 ms worst on 2 CPU cores; <= 30 ms at 512² on a GPU).

GUI mode (needs a display; Xvfb is fine) measures what a person sees: a joint slider moves, the
PoseState changes, the neural preview worker renders, and the new image is painted in the
window. Headless mode (``--headless``) measures the same path without Qt: PoseState edit ->
NeuralPreview worker -> result. The avatar is ``--avatar FILE`` or an untrained renderer of
``--preset`` (the same network size, so the same cost).

    xvfb-run -a python benchmarks/gui_latency.py --size 256 --avatar models/demo.anr --edits 15       # 2 CPU cores
    python benchmarks/gui_latency.py --headless --device cuda --size 512 --preset paper --threads 8 --edits 40 --warmup 5

docs/benchmarks.md (section "Studio: slider to neural image") has the figures and the machines.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import sys
import threading
import time


def _avatar(args, body):
    """Returns the avatar to render: ``--avatar`` or an untrained ``--preset`` renderer, on a copy of ``body``."""
    import copy

    import torch

    from anr_studio.avatar import Avatar
    from anr_studio.model import build_renderer
    from anr_studio.train.presets import preset

    body = copy.deepcopy(body)  # the avatar moves its body to the device; the viewport keeps its own
    if args.avatar:
        return Avatar.load(args.avatar, device=args.device, body=body)
    cfg = preset(args.preset)
    renderer = build_renderer(cfg.model, cfg.renderer).eval().requires_grad_(False).to(args.device)
    tc = cfg.model.texture
    texture = torch.rand(tc.channels, tc.size, tc.size) * 2 - 1
    return Avatar(renderer, {"A": texture}, body.to(args.device), source=f"untrained {args.preset}")


def _summary(lat_ms: list[float], render_ms: list[float], cpu_ms: list[float]) -> dict:
    lat = sorted(lat_ms)
    # Process CPU time (all threads) from the edit to the image: what one update costs when the
    # cores are free; on a shared machine wall time also holds the waits for other processes.
    return {"n": len(lat), "median_ms": statistics.median(lat), "p90_ms": lat[max(0, math.ceil(0.9 * len(lat)) - 1)],
            "max_ms": lat[-1], "render_median_ms": statistics.median(render_ms),
            "process_cpu_median_ms": statistics.median(cpu_ms)}


def run_headless(args, body) -> dict:
    import numpy as np

    from anr_studio.components.pose_state import PoseState
    from anr_studio.jobs.preview import NeuralPreview, PreviewRequest
    from anr_studio.components.scene import ViewState

    state, view = PoseState(num_betas=int(getattr(body, "num_betas", 10))), ViewState()
    done = threading.Event()
    results = []
    worker = NeuralPreview(lambda r: (results.append(r), done.set()))
    worker.set_avatar(_avatar(args, body))
    lat, ren, cpu = [], [], []
    for i in range(args.warmup + args.edits):
        done.clear()
        c0 = time.process_time()
        state.set_joint_axis(16, 2, -0.02 * i)
        worker.request(PreviewRequest("A" if not args.avatar else worker.avatar.identities[0], state.pose, state.betas,
                                      state.transl, view.view, (args.size, args.size), time.perf_counter()))
        done.wait(60)
        r = results[-1]
        if r.error:
            raise SystemExit(r.error)
        if i >= args.warmup:
            lat.append(1000 * r.latency_s)
            ren.append(1000 * r.render_s)
            cpu.append(1000 * (time.process_time() - c0))
    worker.close()
    assert np.asarray(results[-1].rgb).shape == (args.size, args.size, 3)
    return _summary(lat, ren, cpu)


def run_gui(args, body) -> dict:
    from anr_studio.gui.app import _application, wait_until_rendered

    app = _application()
    from anr_studio.gui.main_window import MainWindow

    win = MainWindow(body=body)
    win.neural.size_px = args.size
    win.show()
    win.set_avatar(_avatar(args, body), "benchmark")
    wait_until_rendered(win, 60)
    painted: list[tuple[int, float, float]] = []  # (image size, edit -> on screen ms, render ms)

    def on_rendered(res):
        win.neural.label.repaint()  # paint now so the time includes putting the image on screen
        painted.append((res.request.size[0], 1000 * (time.perf_counter() - res.request.stamp), 1000 * res.render_s))

    win.neural.rendered.connect(on_rendered)
    slider = win.pose_panel.sliders[(16, 2)]
    out = {}
    # The studio's default (progressive: a half-resolution frame at once, the full frame as soon
    # as the input is idle), then full resolution only. Each edit waits for its sharp (full-size)
    # image on screen; the first image of an edit is the quick one in progressive mode.
    for mode in ("progressive", "full"):
        win.neural.progressive = mode == "progressive"
        first, sharp, ren, cpu = [], [], [], []
        for i in range(args.warmup + args.edits):
            n = len(painted)
            c0 = time.process_time()
            slider.setValue(slider.value() + (20 if i % 2 else -20))  # two degrees per edit, back and forth
            t0 = time.monotonic()
            while not any(p[0] == args.size for p in painted[n:]) and time.monotonic() - t0 < 60:
                app.processEvents()
                time.sleep(0.001)
            if i >= args.warmup:
                mine = painted[n:]
                full = next(p for p in mine if p[0] == args.size)
                first.append(mine[0][1])
                sharp.append(full[1])
                ren.append(full[2])
                cpu.append(1000 * (time.process_time() - c0))
            t1 = time.monotonic()
            while (win.neural.refining() or not win.neural.worker.idle()) and time.monotonic() - t1 < 60:
                app.processEvents()
                time.sleep(0.001)
        out[mode] = _summary(sharp, ren, cpu)
        out[mode]["first_image_median_ms"] = statistics.median(first)
    win.close()
    result = dict(out["progressive"])
    result["full_only"] = out["full"]
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--preset", default="demo", help="renderer size when no --avatar is given")
    ap.add_argument("--avatar", help="an .anr file to render")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    ap.add_argument("--edits", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--headless", action="store_true")
    ap.add_argument("--out", help="write the result as JSON here")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    from anr_studio.components.scene import default_body

    body = default_body()
    result = run_headless(args, body) if args.headless else run_gui(args, body)
    result.update(mode="headless" if args.headless else "gui", size=args.size, preset=None if args.avatar else args.preset,
                  avatar=args.avatar, device=args.device if args.device != "cuda" else torch.cuda.get_device_name(0),
                  threads=args.threads, body="built-in", host=platform.node(),
                  cpu_count=__import__("os").cpu_count(), load_avg=__import__("os").getloadavg()[0])
    print(json.dumps(result, indent=2))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
