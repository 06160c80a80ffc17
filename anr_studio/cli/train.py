"""`anr-studio train` and `anr-studio eval`: the command-line front of the trainer and evaluation."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from anr_studio.cli.argtypes import add_device, count, device, number, say
from anr_studio.errors import AnrError
from anr_studio.fileio import AVATAR_FILE


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds the `train` and `eval` sub-commands."""
    p = subparsers.add_parser("train", help="train an avatar (renderer + neural textures) on captures",
                              description="Train ANR on one or more captures (one identity each). Works under torchrun "
                              "for several GPUs. Writes checkpoints and, when it stops, OUT/avatar.anr.")
    p.add_argument("--captures", nargs="+", metavar="H5", help="capture files (default on --resume: the run's)")
    p.add_argument("--preset", help="paper (1024²), fast (384² person crops) or demo (256²) for a GPU; cpu (a 128² capture in 10 minutes "
                   "on 2 cores); tiny (64², tests) (default: fast on a CUDA GPU, cpu otherwise)")
    p.add_argument("--out", required=True, metavar="DIR", help="run folder (must not hold another run unless --resume)")
    p.add_argument("--steps", type=count(1), help="number of optimisation steps (default: the preset's)")
    p.add_argument("--checkpoint-every", type=count(1), metavar="N", help="write a checkpoint every N steps (default: the preset's)")
    p.add_argument("--time-budget", type=number(0, open_low=True), metavar="SECONDS",
                   help="stop when the run's training time reaches SECONDS, counted over the whole run, the time before a "
                   "--resume included (default: the preset's; cpu stops after 10 minutes)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument("--overwrite", action="store_true", help="replace the run that --out holds (its checkpoints, log and avatar)")
    p.add_argument("--no-split", action="store_true", help="turn split optimization off (ablation)")
    p.add_argument("--baseline", choices=["dnr"], help="train the Deferred Neural Rendering baseline instead")
    p.add_argument("--one-stage", action="store_true", help="train the one-stage ANR ablation")
    add_device(p, "training device")
    p.add_argument("--body-model", metavar="PATH", help="the SMPL file the captures' body model id refers to")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override any config value, e.g. --set data.batch_size=8 --set loss.adversarial=0.5")
    p.add_argument("--eval-every", type=count(0), default=0, metavar="N",
                   help="every N steps record held-out PSNR in OUT/heldout_psnr.json, for time-to-threshold (default 0: never)")
    p.add_argument("--eval-frames", type=count(1, 10_000), default=4, metavar="K", help="held-out frames per capture for --eval-every")
    p.add_argument("--tensorboard", action="store_true", help="also write TensorBoard logs to OUT/tensorboard")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress output (a bar on a terminal, else a line every 30 s)")
    p.add_argument("--print-config", action="store_true", help="print the resolved config as JSON and exit")
    p.set_defaults(func=run_train)

    e = subparsers.add_parser("eval", help="render held-out frames of a trained run and report metrics",
                              description="Render the frames of a split through the trained avatar and report PSNR, SSIM, "
                              "FLIP, mask IoU and LPIPS (or 'unavailable') per identity and overall.")
    e.add_argument("run", help="run folder (uses avatar.anr, else its newest checkpoint) or an .anr file")
    e.add_argument("--captures", nargs="+", required=True, metavar="H5", help="capture files to evaluate")
    e.add_argument("--split", default="test", choices=["test", "train"], help="which frames to render")
    e.add_argument("--out", metavar="JSON", help="write the metrics here (default: print them)")
    e.add_argument("--max-frames", type=count(0), default=0, metavar="N",
                   help="at most N evenly spaced frames per capture (default 0: all frames)")
    e.add_argument("--refine-poses", type=count(0, 10_000), default=0, metavar="STEPS",
                   help="also report the metrics after test-time pose refinement: STEPS optimisation steps per frame "
                   "fitting the body's pose and translation to the frame's mask (default 0: off)")
    add_device(e)
    e.add_argument("--body-model", metavar="PATH", help="the SMPL file the captures' body model id refers to")
    e.add_argument("--overwrite", action="store_true", help="replace the --out file if it exists")
    e.set_defaults(func=run_eval)


def _resolve_config(args: argparse.Namespace):
    from anr_studio.train.checkpoint import checkpoint_paths
    from anr_studio.train.config import TrainConfig
    from anr_studio.train.configtools import option_overrides
    from anr_studio.train.presets import preset
    from anr_studio.train.rundir import read_run_info

    captures, record = args.captures, None
    if args.resume:
        info = read_run_info(args.out)
        stored = info["config"]
        for _, json_path in checkpoint_paths(args.out):  # the newest readable record (the trainer verifies it)
            try:
                record = json.loads(json_path.read_text(encoding="utf-8"))
                stored = record["config"]
                break
            except (OSError, ValueError, KeyError, TypeError, RecursionError):
                record = None
        config = TrainConfig.from_dict(stored)
        captures = captures or info["captures"]
    else:
        if not captures:
            raise AnrError("--captures: no capture file given, expected at least one .h5 file")
        config = preset(_preset_name(args))
    overrides = list(args.overrides) + option_overrides(
        steps=args.steps, checkpoint_every=args.checkpoint_every, time_budget_s=args.time_budget,
        split_optimization=False if args.no_split else None)
    if args.baseline and args.one_stage:
        raise AnrError("--baseline dnr and --one-stage: both given, expected at most one renderer choice")
    if args.baseline:
        overrides.append("renderer=dnr")
    if args.one_stage:
        overrides.append("renderer=anr-1stage")
    return config.with_overrides(overrides), captures, record


def _nothing_to_train(config, captures: list[str], record: dict | None, out: Path) -> str | None:
    """Returns why a resumed run has nothing left to train (its steps or time budget used up, its avatar written),
    else None; captures or a renderer other than the run's are left to the trainer, which refuses them."""
    o = config.optim
    try:
        step, seconds = int(record["step"]), float(record["train_time_s"])
        same = record["captures"] == [str(Path(c).resolve()) for c in captures] and record["renderer"] == config.renderer
    except (TypeError, KeyError, ValueError):  # no checkpoint yet, or a record the trainer will judge
        return None
    if not same or not (out / AVATAR_FILE).exists():
        return None
    reason = o.end_reason(step, seconds)
    if reason == "done":
        return f"has done its {o.steps} steps (at step {step}); a larger --steps continues it"
    if reason == "time budget":
        return f"has used its {o.time_budget_s:g} s time budget ({seconds:.0f} s of training); a larger --time-budget continues it"
    return None


def _preset_name(args: argparse.Namespace) -> str:
    """Returns --preset, or the preset that suits the training device; says so when it is chosen here
    and warns when a GPU preset is to run on the CPU."""
    import torch

    from anr_studio.train.presets import GPU_PRESETS, default_preset

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if args.preset:
        if device == "cpu" and args.preset in GPU_PRESETS:
            say(f"preset {args.preset} is sized for a GPU and will be very slow on this CPU; --preset cpu "
                 "trains an avatar of a 128² capture in 10 minutes on 2 cores")
        return args.preset
    name = default_preset(device)
    if name == "cpu":
        say("no CUDA GPU: training with preset cpu (64² crops around the person, stops after 10 minutes); "
             "--preset fast needs a GPU")
    elif torch.cuda.is_available():
        say(f"training with preset {name} on {torch.cuda.get_device_name()} (--preset to choose another)")
    return name


def run_train(args: argparse.Namespace) -> int:
    """Trains; returns 0 when training ended normally (done, stopped or out of time)."""
    if args.overwrite and args.resume:
        raise AnrError("--overwrite and --resume: both given, expected one of them")
    config, captures, record = _resolve_config(args)
    if args.print_config:
        print(json.dumps(config.to_dict(), indent=1))
        return 0
    out = Path(args.out)
    done = _nothing_to_train(config, captures, record, out)
    if done:
        if os.environ.get("RANK", "0") == "0":  # torchrun's first process
            print(f"{out}: nothing to train, the run {done}")
        return 0
    args.device = device(args.device)
    from anr_studio.train.callbacks import JsonlLog, LogLines, TensorBoardLog, TqdmProgress
    from anr_studio.train.evaluate import HeldOutPSNR
    from anr_studio.train.rundir import LOG_FILE
    from anr_studio.train.trainer import Trainer

    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    if args.overwrite:
        from anr_studio.train.rundir import clear_run_dir

        clear_run_dir(out)
    callbacks = [JsonlLog(out / LOG_FILE)]
    if not args.no_progress:
        callbacks.append(TqdmProgress() if sys.stderr.isatty() else LogLines())
    if args.tensorboard:
        tb = TensorBoardLog(out / "tensorboard")
        if not tb.available:
            say("TensorBoard is not installed; --tensorboard ignored")
        callbacks.append(tb)
    if args.eval_every:
        callbacks.append(HeldOutPSNR(captures, args.eval_every, args.eval_frames, path=out / "heldout_psnr.json"))

    trainer = Trainer(config, captures, out, device=args.device, resume=args.resume, callbacks=callbacks,
                      body_path=args.body_model, warn=say)
    try:  # SIGTERM and SIGHUP stop it as a stop does: a checkpoint and avatar.anr first (Trainer.run)
        reason = trainer.run()
    finally:
        trainer.close()
    if trainer.dist.is_main:
        reason = "stopped at its time budget" if reason == "time budget" else reason
        print(f"training {reason} at step {trainer.step} ({trainer.train_time:.0f} s); wrote {out / 'avatar.anr'}")
    return 0


_SUMMARY = (("PSNR", "psnr", "{:.2f} dB"), ("SSIM", "ssim", "{:.4f}"), ("FLIP", "flip", "{:.4f}"),
            ("mask IoU", "mask_iou", "{:.3f}"), ("LPIPS", "lpips", "{:.4f}"))
"""The overall metrics `eval --out` prints: name, key, format."""


def run_eval(args: argparse.Namespace) -> int:
    """Evaluates a run and prints or writes the metrics JSON."""
    from anr_studio.fileio import atomic_write_text, check_output
    from anr_studio.avatar.refine import PoseRefinement
    from anr_studio.train.evaluate import evaluate

    if args.out:
        check_output(args.out, (".json",), inputs=[args.run, *args.captures, args.body_model], overwrite=args.overwrite)
    refinement = PoseRefinement(steps=args.refine_poses) if args.refine_poses else None
    result = evaluate(args.run, args.captures, args.split, device=device(args.device), max_frames=args.max_frames,
                      body_path=args.body_model, refinement=refinement)
    text = json.dumps(result, indent=1)
    if args.out:
        atomic_write_text(args.out, text)
        scores = [("", result["overall"])]
        if refinement is not None:
            scores.append((f" after test-time pose refinement ({refinement.steps} steps)",
                           result["test_time_pose_refinement"]["overall"]))
        for label, overall in scores:
            values = ", ".join(f"{name} {'unavailable' if overall[key] is None else form.format(overall[key])}"
                               for name, key, form in _SUMMARY)  # mask IoU without masks, LPIPS without weights
            print(f"{args.out}: {values} over {overall['frames']} frames{label}")
    else:
        print(text)
    return 0
