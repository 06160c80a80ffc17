"""Soak of the studio: motion playback + a training at the panel's defaults + orbiting for a while, with memory sampled.

Runs the real main window (Xvfb is fine) on the default body with the shipped demo avatar (models/demo.anr)
in the neural preview, plays a built-in motion, trains on a synthetic capture (``--capture-size``², 60
frames, 2 views, as `anr-studio synth` writes it) in the training panel's child process with the preset
the panel picks for the machine (`cpu` without a GPU, `fast` with one and its 8 data-loader workers) and
its other settings, steps aside, and orbits the camera, for ``--seconds`` counted from the training's first
reported step: the child runs below the studio's priority and first fits the poses to the masks, so on a
loaded machine it may take minutes to start, and a soak timed from launch would then hold little or no
training. No first step within ``--start-timeout-s`` ends the soak as a failure (a training that hangs).
Every ``--sample-s`` it records the studio's resident memory (RSS, from /proc) and the training step, and
once more at the end. It prints one JSON object and exits 0 when the process stayed alive, training
advanced (and still stepped in the soak's second half), playback moved, the soak lasted ``--seconds`` and
memory stayed flat: over the samples since the first step, the median RSS of the last quarter exceeds that
of the second quarter (after warm-up) by at most ``--max-growth-mb``. A crash in Qt or Python ends the
process with a signal, so the caller sees it as a non-zero exit status.

    xvfb-run -a python benchmarks/gui_soak.py --seconds 600          # the 10-minute soak
    xvfb-run -a python benchmarks/gui_soak.py --seconds 120 --out soak.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # anr_studio from this checkout


def rss_mb(pid: int | None = None) -> float:
    """Returns the resident memory of ``pid`` (default: this process) in MiB, from /proc/PID/statm."""
    pages = int(Path(f"/proc/{pid or os.getpid()}/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def growth_mb(samples: list[float]) -> float:
    """Returns median(last quarter) - median(second quarter) of ``samples`` in MiB (warm-up left out)."""
    n = len(samples)
    if n < 8:
        return 0.0
    q = n // 4
    return statistics.median(samples[-q:]) - statistics.median(samples[q:2 * q])


def soak(seconds: float, sample_s: float, workdir: Path, start_timeout_s: float, capture_size: int) -> dict:
    """Returns the soak's record: samples (t, rss MiB, training step, frame), when training started, counts."""
    import torch
    from PySide6 import QtCore, QtWidgets

    from anr_studio.capture.synth.generate import SynthConfig, generate_capture

    torch.set_num_threads(1)
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    from anr_studio.gui.main_window import MainWindow

    capture = workdir / "synth.h5"
    generate_capture(capture, SynthConfig(frames=60, size=capture_size, views=2))
    window = MainWindow()
    window.resize(1280, 720)
    window.show()
    window.open_sample()  # the demo avatar, with the sample motion loaded
    window.open_path(str(capture))  # opening a capture adds it to the training panel's list

    panel = window.training_panel
    panel.steps.setValue(10_000_000)  # the soak's length, not the steps or the preset's time budget, ends the training
    panel.extra_overrides = ["optim.time_budget_s=0"]
    panel.out.setText(str(workdir / "run"))
    job = panel.start()

    pose_panel = window.pose_panel
    pose_panel.play_btn.setChecked(True)
    frames: set[int] = set()
    pose_panel.timeline.valueChanged.connect(frames.add)
    orbit = QtCore.QTimer()
    orbit.timeout.connect(lambda: window.view_state.orbit(3.0, 0.0))
    orbit.start(50)

    samples: list[dict] = []

    def sample(now: float) -> None:
        samples.append({"t": round(now - t0, 1), "rss_mb": round(rss_mb(), 1), "step": job.step,
                        "frame": pose_panel.timeline.value(), "training": job.status.state.value})
        print(json.dumps(samples[-1]), file=sys.stderr, flush=True)

    t0 = now = next_sample = time.monotonic()
    started = None  # when the first training step was seen
    while (now - t0 < start_timeout_s) if started is None else (now - started < seconds):
        app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 20)
        time.sleep(0.005)
        now = time.monotonic()
        if started is None and job.step > 0:
            started = now
        if now >= next_sample:
            next_sample = now + sample_s
            sample(now)
    sample(now)
    orbit.stop()
    pose_panel.play_btn.setChecked(False)
    training_alive = job.running and job.status.state.active
    window.close()  # stops the training cleanly (checkpoint) like a user closing the studio
    return {"seconds": seconds, "preset": panel.preset.currentText(), "samples": samples, "frames_shown": len(frames), "steps": job.step,
            "training_started_s": None if started is None else round(started - t0, 1),
            "soaked_s": 0.0 if started is None else round(now - started, 1),
            "training_alive_at_end": training_alive, "training_error": job.status.snapshot(log_tail=0).error,
            "neural_images": window.neural.images_shown}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=600.0)
    ap.add_argument("--sample-s", type=float, default=5.0)
    ap.add_argument("--max-growth-mb", type=float, default=40.0)
    ap.add_argument("--start-timeout-s", type=float, default=300.0,
                    help="seconds the training may take to its first step before the soak fails")
    ap.add_argument("--capture-size", type=int, default=128, help="image size of the synthetic capture trained on")
    ap.add_argument("--out", help="write the result as JSON here")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="anr-soak-") as tmp:
        result = soak(args.seconds, args.sample_s, Path(tmp), args.start_timeout_s, args.capture_size)
    started = result["training_started_s"]
    rss = [s["rss_mb"] for s in result["samples"] if started is not None and s["t"] >= started]
    result["rss_growth_mb"] = round(growth_mb(rss), 1)
    result["checks"] = checks = {
        # Started, still running, and stepping through the soak's second half (not stuck after a start).
        "training advanced": started is not None and result["training_alive_at_end"] and len(rss) >= 2
        and result["samples"][-1]["step"] > result["samples"][-1 - len(rss) // 2]["step"],
        "soaked the whole time": result["soaked_s"] >= args.seconds,
        "playback moved": result["frames_shown"] > 1,
        "memory flat": result["rss_growth_mb"] <= args.max_growth_mb,
    }
    result.update(cpu_count=os.cpu_count(), load_avg=os.getloadavg()[0])
    print(json.dumps(result, indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1))
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
