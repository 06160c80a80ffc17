"""Time to the studio's first training feedback: a training started as the Training panel starts it (a TrainingJob,
5000 steps, checkpoint every 500, preview every 50) on a synthetic capture, timed from Start to each progress
message; then a resume of the same run timed to its training's start (the set-up a resume repeats).

For each preset it records when the first set-up stage, the pose fit, training (total = the steps) and the first
step's report reached the job's status, stops the run after its first report, resumes it and records when the
resumed training started and reported. ``--tree`` measures another checkout's anr_studio (e.g. an older main).

    python benchmarks/train_feedback.py --presets cpu fast --out feedback.json
    python benchmarks/train_feedback.py --presets cpu --tree /tmp/old-main     # the same on another checkout
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path


def timeline(job, limit_s: float) -> dict:
    """Runs ``job`` until its first step's report (or ``limit_s``), stops it and returns when each message came."""
    events: list[tuple[float, str, int, int, str]] = []
    t0 = time.monotonic()
    set_progress, append = job.status.set_progress, job.status.metrics.append

    def progress(done, total=None, message=None):
        events.append((time.monotonic() - t0, "progress", done, total or 0, message or ""))
        set_progress(done, total, message)

    def metrics(step, losses):
        events.append((time.monotonic() - t0, "metrics", step, 0, ""))
        append(step, losses)

    job.status.set_progress, job.status.metrics.append = progress, metrics
    job.start()
    while time.monotonic() - t0 < limit_s and job.status.state.active and not any(e[1] == "metrics" for e in events):
        time.sleep(0.05)
    job.stop()
    job.join(600)

    def first(test) -> float | None:
        return next((round(e[0], 2) for e in events if test(e)), None)

    steps = job.options.steps
    return {"first_message_s": first(lambda e: True),
            "first_stage_s": first(lambda e: e[1] == "progress" and e[3] == 0 and e[4]),
            "pose_fit_s": first(lambda e: e[1] == "progress" and e[3] not in (0, steps)),
            "training_s": first(lambda e: e[1] == "progress" and e[3] == steps),
            "first_report_s": first(lambda e: e[1] == "metrics"),
            "first_report_step": next((e[2] for e in events if e[1] == "metrics"), None),
            "state": job.status.state.value, "error": job.status.snapshot().error}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", nargs="+", default=["cpu", "fast"])
    ap.add_argument("--frames", type=int, default=150, help="frames of the synthetic capture")
    ap.add_argument("--size", type=int, default=128, help="its image size")
    ap.add_argument("--limit-s", type=float, default=600, help="longest wait for a first report")
    ap.add_argument("--tree", help="the checkout whose anr_studio is measured (default: this one)")
    ap.add_argument("--out", help="write the JSON here too")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(Path(args.tree or Path(__file__).resolve().parents[1]).resolve()))
    from anr_studio.capture.synth.generate import SynthConfig, generate_capture
    from anr_studio.jobs.training_job import TrainingJob, TrainingOptions

    work = Path(tempfile.mkdtemp(prefix="anr-feedback-"))
    capture = work / "synth.h5"
    generate_capture(str(capture), SynthConfig(seed=0, frames=args.frames, size=args.size))
    result = {"frames": args.frames, "size": args.size, "presets": {}}
    for name in args.presets:
        def job(resume: bool):
            return TrainingJob(TrainingOptions([str(capture)], str(work / name), preset=name, steps=5000,
                                               checkpoint_every=500, preview_every=50, resume=resume))
        result["presets"][name] = {"start": timeline(job(False), args.limit_s),
                                   "resume": timeline(job(True), args.limit_s)}
        print(json.dumps({name: result["presets"][name]}), flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
