"""The graphed training step (optim.cuda_graph): same results as eager steps, texture frozen on renderer-only steps.

On the CPU the graph path runs uncaptured (static inputs, copied outputs, per-key warm-up);
the CUDA tests capture and replay real graphs.
"""

import contextlib

import pytest
import torch

from anr_studio.model.unet import _triton_norm, graphed_norms
from anr_studio.train import trainer as trainer_module
from anr_studio.train.callbacks import Callback
from anr_studio.train.step_graph import StepGraphs
from anr_studio.train.trainer import Trainer
from tests.train.test_trainer import _batch_for, small, state_of

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


class Losses(Callback):
    def __init__(self):
        self.steps = []

    def on_step(self, trainer, info):
        self.steps.append(info.losses)


def _train(tmp_path, captures, body, device, graph, *extra, monkeypatch=None, name="", norms=contextlib.nullcontext):
    rec = Losses()
    config = small("tiny", "optim.steps=12", "optim.checkpoint_every=100", "optim.preview_every=0",
                   f"optim.cuda_graph={str(graph).lower()}", *extra)
    trainer = Trainer(config, captures, tmp_path / f"run-{graph}{name}", device=device, body=body, callbacks=[rec])
    if monkeypatch is not None:  # the same cudnn algorithms in both runs (the trainer turned autotuning on)
        monkeypatch.setattr(torch.backends.cudnn, "benchmark", False)
        monkeypatch.setattr(torch.backends.cudnn, "deterministic", True)
    before = state_of(trainer)
    with norms():
        trainer.run()
    return trainer, before, rec.steps


def _assert_same_training(eager, graphed, rtol, update_rtol, again=None):
    """Asserts close losses and weights; ``again``, a second eager run, adds its spread (atomics) to the tolerance."""
    (a, start, losses_a), (b, _, losses_b) = eager, graphed
    assert len(losses_a) == len(losses_b) == 12
    for la, lb in zip(losses_a, losses_b):
        assert la.keys() == lb.keys()
        for k in la:
            assert lb[k] == pytest.approx(la[k], rel=rtol, abs=1e-6), (k, losses_a, losses_b)
    wa, wb = state_of(a), state_of(b)
    wc = state_of(again[0]) if again is not None else wa
    for k in wa:
        if wa[k].is_floating_point():
            moved, off = float((wa[k] - start[k]).norm()), float((wb[k] - wa[k]).norm())
            spread = float((wc[k] - wa[k]).norm())
            # The graphs' updates = the eager updates, up to how much eager runs differ among themselves.
            assert off <= update_rtol * moved + 3 * spread + 1e-7, (k, off, moved, spread)


@pytest.fixture
def graphs_on_cpu(monkeypatch):
    monkeypatch.setattr(trainer_module, "GRAPH_DEVICES", ("cuda", "cpu"))
    monkeypatch.setattr(trainer_module, "GRAPH_WARMUP", 1)


def test_uncaptured_graph_path_trains_exactly_like_the_plain_step(tmp_path, captures, body, graphs_on_cpu):
    eager = _train(tmp_path, captures, body, "cpu", False)
    graphed = _train(tmp_path, captures, body, "cpu", True)
    assert eager[0]._graphs is None and graphed[0]._graphs.captured >= 2  # of 2 identities x 2 step kinds
    _assert_same_training(eager, graphed, rtol=0, update_rtol=0)


def _renderer_only_step_keeps_the_texture(tmp_path, captures, body, device, *extra):
    trainer = Trainer(small("tiny", "optim.split_optimization=true", *extra), captures, tmp_path / "run",
                      device=device, body=body)
    key_batch = _batch_for(trainer, True)
    key_step = trainer.step
    for _ in range(2):  # warm-up, then capture + replay: the texture optimiser gets state
        trainer.step = key_step
        trainer.train_step(key_batch)
    batch = _batch_for(trainer, False)
    step = trainer.step
    for _ in range(2):  # warm-up, then the renderer-only graph
        trainer.step = step
        mid = state_of(trainer)
        opt_state = {id(p): {k: v.clone() for k, v in s.items()} for p, s in trainer.opt_texture.state.items()}
        terms, bad, _, updated = trainer.train_step(batch)
        assert not updated and not bool(bad) and torch.isfinite(terms["total"])
        after = state_of(trainer)
        for i in range(2):
            assert torch.equal(mid[f"t.{i}"], after[f"t.{i}"])  # bit-identical textures
        for p, s in trainer.opt_texture.state.items():  # Adam moments and step untouched
            assert all(torch.equal(opt_state[id(p)][k], v) for k, v in s.items())
        assert any(not torch.equal(mid[k], after[k]) for k in mid if k.startswith("r."))  # R did train
    assert trainer._graphs.captured == 2
    assert all(t.texture.grad is None for t in trainer.textures)


def test_uncaptured_graph_path_freezes_the_texture_on_renderer_only_steps(tmp_path, captures, body, graphs_on_cpu):
    _renderer_only_step_keeps_the_texture(tmp_path, captures, body, "cpu")


@cuda
@pytest.mark.parametrize("norm", ["nhwc", "triton"])
def test_cuda_graph_steps_match_eager_steps(tmp_path, captures, body, monkeypatch, norm):
    # The same norm kernels in both: the graphs pick the Triton ones (`graphed_norms`), so for "triton" the
    # eager runs take them too, and for "nhwc" the graphs keep the torch ops.
    norms = graphed_norms if norm == "triton" else contextlib.nullcontext
    if norm == "nhwc":
        monkeypatch.setattr(trainer_module, "graphed_norms", contextlib.nullcontext)
    monkeypatch.setattr(trainer_module, "GRAPH_WARMUP", 1)
    tuned = ("optim.bf16=true", "optim.channels_last=true")
    eager = _train(tmp_path, captures, body, "cuda", False, *tuned, monkeypatch=monkeypatch, norms=norms)
    # A second eager run measures the kernels' own nondeterminism (atomics in grid_sample's
    # backward, and in the Triton norm's statistics).
    again = _train(tmp_path, captures, body, "cuda", False, *tuned, monkeypatch=monkeypatch, name="-again", norms=norms)
    graphed = _train(tmp_path, captures, body, "cuda", True, *tuned, monkeypatch=monkeypatch)
    assert eager[0]._graphs is None and graphed[0]._graphs.captured >= 2
    assert graphed[0].opt_renderer.param_groups[0]["capturable"]
    _assert_same_training(eager, graphed, rtol=1e-2, update_rtol=5e-2, again=again)


@cuda
def test_cuda_graph_renderer_only_step_keeps_the_texture(tmp_path, captures, body, monkeypatch):
    monkeypatch.setattr(trainer_module, "GRAPH_WARMUP", 1)
    _renderer_only_step_keeps_the_texture(tmp_path, captures, body, "cuda", "optim.bf16=true", "optim.channels_last=true")


def test_graphed_norms_pick_the_triton_kernels_only_on_cuda_and_inside_the_block():
    cpu = torch.zeros(1, 2, 4, 4)
    with graphed_norms():
        assert not _triton_norm(cpu)  # the CPU has no Triton path
    if torch.cuda.is_available():
        x = cpu.cuda()
        assert not _triton_norm(x)
        with graphed_norms():
            assert _triton_norm(x)
        assert not _triton_norm(x)


def test_release_drops_the_graphs_and_warms_up_again():
    graphs = StepGraphs(torch.device("cpu"), warmup=1)
    inputs = {"a": torch.ones(2)}

    def step(q):
        return {"x": q["a"] * 2}, torch.zeros(1)

    for captured in (0, 1):  # warm-up, then the key's (uncaptured) graph
        graphs("k", step, inputs)
        assert graphs.captured == captured
    graphs.release()  # as Trainer.close does before leaving the process group
    assert graphs.captured == 0
    for captured in (0, 1):
        terms, _ = graphs("k", step, inputs)
        assert graphs.captured == captured and torch.equal(terms["x"], torch.full((2,), 2.0))


@cuda
@pytest.mark.parametrize("graph", [False, True])
def test_a_tuned_cuda_run_resumes_from_its_checkpoint(tmp_path, captures, body, monkeypatch, graph):
    monkeypatch.setattr(trainer_module, "GRAPH_WARMUP", 1)
    tuned = ("optim.bf16=true", "optim.channels_last=true", f"optim.cuda_graph={str(graph).lower()}")
    first = Trainer(small("tiny", "optim.steps=3", *tuned), captures, tmp_path / "run", device="cuda", body=body)
    first.run()
    first.close()
    resumed = Trainer(small("tiny", "optim.steps=6", *tuned), captures, tmp_path / "run", device="cuda", body=body,
                      resume=True)
    assert resumed.step == 3
    for opt in resumed.optimizers.values():
        for param, entry in opt.state.items():
            assert entry["exp_avg"].stride() == param.stride()
    resumed.run()
    resumed.close()
    assert resumed.step == 6
