"""Does one replayed training step (optim.cuda_graph) update the weights as the same step run eagerly does?

On a real `fast` trainer, after every step graph (identity x step kind) has been captured, each
key's step runs three times from one saved state (weights and Adam moments restored in place):
replayed from its graph, eagerly, and eagerly again (the kernels' own nondeterminism). Prints per
weight group |graph - eager| / |eager - start| next to |eager2 - eager| / |eager - start|; a graph
that computes the eager step gives the two alike. Then trains eager and graphed trainers from the
same seed on the same batches and prints their mean loss terms over the last steps.

    python benchmarks/graph_check.py --captures a.h5 b.h5 --out /tmp/gc [--pool separate]
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from anr_studio.model.unet import graphed_norms
from anr_studio.train.data import collate
from anr_studio.train.presets import preset
from anr_studio.train.trainer import Trainer


def groups(trainer):
    return {"renderer": list(trainer.renderer.parameters()), "textures": list(trainer.textures.parameters()),
            "disc": list(trainer.disc.parameters())}


def snapshot(trainer):
    params = [p.detach().clone() for ps in groups(trainer).values() for p in ps]
    opts = [{id(p): {k: v.clone() for k, v in s.items()} for p, s in o.state.items()}
            for o in (trainer.opt_renderer, trainer.opt_texture, trainer.opt_disc)]
    return params, opts


@torch.no_grad()
def restore(trainer, snap):
    params, opts = snap
    for p, v in zip((p for ps in groups(trainer).values() for p in ps), params):
        p.copy_(v)
    for o, saved in zip((trainer.opt_renderer, trainer.opt_texture, trainer.opt_disc), opts):
        for p, s in o.state.items():
            for k, v in s.items():
                v.copy_(saved[id(p)][k])


def weights(trainer):
    return {g: torch.cat([p.detach().float().flatten() for p in ps]) for g, ps in groups(trainer).items()}


def batch_for(trainer, identity, keyframe_step, start=0):
    for step in range(start, start + 400):
        trainer.sampler.step = step
        items = next(iter(trainer.sampler))
        if items[0][0] == identity and items[0][3] == keyframe_step:
            return step, collate([trainer.dataset[i] for i in items])
    raise SystemExit(f"no batch for identity {identity}, keyframe step {keyframe_step}")


def make(args, graph, name):
    config = preset(args.preset).with_overrides([f"optim.cuda_graph={str(graph).lower()}", "optim.preview_every=0",
                                            "optim.checkpoint_every=100000000", "data.workers=0", *args.set])
    trainer = Trainer(config, args.captures, f"{args.out}/{name}", device=args.device)
    if args.pool == "separate" and trainer._graphs is not None:
        trainer._graphs.pool = None  # each graph its own private pool
    return trainer


def step_check(args):
    trainer = make(args, True, "step")
    keys = [(i, k) for i in range(len(args.captures)) for k in (True, False)]
    batches = {key: batch_for(trainer, *key) for key in keys}
    for _ in range(4):  # warm-up (3) + capture of every key
        for key, (step, batch) in batches.items():
            trainer.step = step
            trainer.train_step(batch)
    print(f"graphs captured: {trainer._graphs.captured}", flush=True)
    for _ in range(args.mix):  # some replays of every key, interleaved
        for key, (step, batch) in batches.items():
            trainer.step = step
            trainer.train_step(batch)
    rows = []
    for key, (step, batch) in batches.items():
        identity, kind = key
        p = trainer._prepare(batch, step)
        start = snapshot(trainer)
        w0 = weights(trainer)
        terms_g, _ = trainer._graphs(key, lambda q: trainer._compute(q, identity, kind), p)
        wg = weights(trainer)
        restore(trainer, start)
        results = []
        for _ in range(2):
            with graphed_norms():
                terms_e, _ = trainer._compute(p, identity, kind)
            results.append((weights(trainer), {k: float(v) for k, v in terms_e.items()}))
            restore(trainer, start)
        (we, te), (we2, _) = results
        for g in w0:
            moved = float((we[g] - w0[g]).norm())
            rows.append({"key": list(key), "group": g, "moved": moved,
                         "graph_off": float((wg[g] - we[g]).norm()) / max(moved, 1e-12),
                         "eager_off": float((we2[g] - we[g]).norm()) / max(moved, 1e-12)})
            print(json.dumps(rows[-1]), flush=True)
        print(json.dumps({"key": list(key), "terms_graph": {k: round(float(v), 5) for k, v in terms_g.items()},
                          "terms_eager": {k: round(v, 5) for k, v in te.items()}}), flush=True)
    return rows


def train_compare(args):
    out = {}
    for graph in (False, True):
        trainer = make(args, graph, f"train-{graph}")
        data = iter(trainer.loader)
        sums, n = {}, 0
        t0 = time.perf_counter()
        for i in range(args.steps):
            batch = next(data)
            terms, *_ = trainer.train_step(batch)
            trainer.step += 1
            if i >= args.steps - args.tail:
                for k, v in terms.items():
                    sums[k] = sums.get(k, 0.0) + float(v)
                n += 1
        if trainer.cuda:
            torch.cuda.synchronize()
        out[graph] = {k: round(v / n, 4) for k, v in sums.items()}
        print(json.dumps({"graph": graph, "steps": args.steps, "s": round(time.perf_counter() - t0, 1),
                          "mean_terms_last": out[graph]}), flush=True)
        if trainer._graphs is not None:
            trainer._graphs.release()
        del trainer
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--captures", nargs="+", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--pool", choices=["shared", "separate"], default="shared")
    ap.add_argument("--mix", type=int, default=5, help="interleaved replays of every key before the check")
    ap.add_argument("--steps", type=int, default=0, help="also train eager and graphed this many steps")
    ap.add_argument("--tail", type=int, default=100)
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("--preset", default="fast")
    ap.add_argument("--device", default="cuda", help="cpu: the uncaptured graph path (a smoke test of this script)")
    args = ap.parse_args()
    if args.device == "cpu":
        from anr_studio.train import trainer as trainer_module
        trainer_module.GRAPH_DEVICES = ("cuda", "cpu")
    step_check(args)
    if args.steps:
        train_compare(args)


if __name__ == "__main__":
    main()
