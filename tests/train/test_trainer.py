"""Training: 2 CPU steps per preset, split optimization freezing T, resume continuity, NaN guard, bad runs."""

import json

import pytest
import torch
from torch.utils.data import default_collate

from anr_studio.errors import AnrError
from anr_studio.avatar.file import read_avatar
from anr_studio.train.callbacks import Callback
from anr_studio.train.checkpoint import checkpoint_paths
from anr_studio.train.presets import PRESETS, preset
from anr_studio.train.trainer import Trainer

# Preset sizes shrunk to CPU-test scale; everything else (losses, optimisers, schedule) as the preset.
SMALL = ["data.resolution=48", "data.workers=0", "data.batch_size=2", "data.cache_in_memory=false",
         "model.texture.size=16", "model.r1.depth=3", "model.r1.base_channels=4", "model.r1.max_channels=8",
         "model.r2.depth=3", "model.r2.base_channels=4", "model.r2.max_channels=8",
         "model.discriminator.num_scales=2", "model.discriminator.num_layers=2",
         "model.discriminator.base_channels=4", "optim.preview_every=1", "optim.log_every=1"]


def small(name="tiny", *extra):
    return preset(name).with_overrides(SMALL + list(extra))


class Recorder(Callback):
    def __init__(self):
        self.steps, self.previews, self.checkpoints, self.ended = [], [], [], None

    def on_step(self, trainer, info):
        self.steps.append(info)

    def on_preview(self, trainer, step, images):
        self.previews.append(images)

    def on_checkpoint(self, trainer, path):
        self.checkpoints.append(path)

    def on_end(self, trainer, reason):
        self.ended = reason


def state_of(trainer):
    out = {f"r.{k}": v.clone() for k, v in trainer.renderer.state_dict().items()}
    out.update({f"t.{i}": t.texture.detach().clone() for i, t in enumerate(trainer.textures)})
    if trainer.disc is not None:  # the cpu preset trains without one
        out.update({f"d.{k}": v.clone() for k, v in trainer.disc.state_dict().items()})
    return out


@pytest.mark.parametrize("name", list(PRESETS))
def test_two_step_training_per_preset(tmp_path, captures, body, name):
    rec = Recorder()
    trainer = Trainer(small(name, "optim.steps=2", "optim.checkpoint_every=1"), captures, tmp_path / "run",
                      device="cpu", body=body, callbacks=[rec])
    before = state_of(trainer)
    assert trainer.run() == "done"
    assert trainer.step == 2 and [i.step for i in rec.steps] == [1, 2]
    for info in rec.steps:
        assert all(torch.isfinite(torch.tensor(v)) for v in info.losses.values())
        assert {"pixel", "mask", "total"} <= set(info.losses)
        assert ("discriminator" in info.losses) == (trainer.disc is not None)
    after = state_of(trainer)
    assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith("r."))
    assert trainer.disc is None or any(not torch.equal(before[k], after[k]) for k in before if k.startswith("d."))
    assert rec.previews and rec.previews[0]["truth"].shape == (48, 48, 3)
    assert [s for s, _ in checkpoint_paths(tmp_path / "run")] == [2, 1]
    avatar = read_avatar(tmp_path / "run" / "avatar.anr")
    assert avatar.meta["identities"] == ["alice", "bob"] and avatar.meta["renderer"] == "anr"
    assert avatar.meta["body_model"] == "default" and len(avatar.meta["betas"]) == 2
    torch.testing.assert_close(avatar.textures[1], after["t.1"][0])


def _batch_for(trainer, want_keyframe_step):
    for step in range(20):
        trainer.sampler.step = step
        items = next(iter(trainer.sampler))
        if items[0][3] == want_keyframe_step:
            trainer.step = step
            return default_collate([trainer.dataset[i] for i in items])
    raise AssertionError("no such step")


def test_split_optimization_freezes_textures_on_non_keyframe_steps(tmp_path, captures, body):
    trainer = Trainer(small("tiny", "optim.split_optimization=true"), captures, tmp_path / "run", device="cpu", body=body)
    # A keyframe step first, so the texture optimiser has state that a wrong step would move.
    batch = _batch_for(trainer, True)
    ident = int(batch["identity"][0])
    before = state_of(trainer)
    _, skipped, _, updated = trainer.train_step(batch)
    assert not skipped and updated
    mid = state_of(trainer)
    assert not torch.equal(before[f"t.{ident}"], mid[f"t.{ident}"])  # T moved on a keyframe step
    assert torch.equal(before[f"t.{1 - ident}"], mid[f"t.{1 - ident}"])  # the other identity did not
    opt_state = {id(p): {k: v.clone() for k, v in s.items()} for p, s in trainer.opt_texture.state.items()}

    batch = _batch_for(trainer, False)
    _, skipped, _, updated = trainer.train_step(batch)
    assert not skipped and not updated
    after = state_of(trainer)
    for i in range(2):
        assert torch.equal(mid[f"t.{i}"], after[f"t.{i}"])  # bit-identical textures
    for p, s in trainer.opt_texture.state.items():  # Adam moments and step untouched
        for k, v in s.items():
            assert torch.equal(opt_state[id(p)][k], v)
    assert any(not torch.equal(mid[k], after[k]) for k in mid if k.startswith("r."))  # R did train
    assert all(t.texture.grad is None for t in trainer.textures)


def test_without_split_every_step_updates_the_texture(tmp_path, captures, body):
    trainer = Trainer(small("tiny", "optim.split_optimization=false"), captures, tmp_path / "run", device="cpu", body=body)
    batch = _batch_for(trainer, False)
    before = state_of(trainer)
    _, _, ident, updated = trainer.train_step(batch)
    assert updated and not torch.equal(before[f"t.{ident}"], state_of(trainer)[f"t.{ident}"])


def test_resume_continues_exactly_like_an_uninterrupted_run(tmp_path, captures, body):
    straight = Trainer(small("tiny", "optim.steps=4", "optim.checkpoint_every=2"), captures, tmp_path / "a",
                       device="cpu", body=body)
    straight.run()
    first = Trainer(small("tiny", "optim.steps=2"), captures, tmp_path / "b", device="cpu", body=body)
    first.run()
    resumed = Trainer(small("tiny", "optim.steps=4"), captures, tmp_path / "b", device="cpu", body=body, resume=True)
    assert resumed.step == 2
    resumed.run()
    a, b = state_of(straight), state_of(resumed)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    for name in ("opt_renderer", "opt_texture", "opt_disc"):
        p, q = getattr(straight, name).state_dict()["state"], getattr(resumed, name).state_dict()["state"]
        assert p.keys() == q.keys() and p
        for i in p:
            assert all(torch.equal(p[i][k], q[i][k]) for k in p[i]), (name, i)


@pytest.mark.parametrize("fused", [True, False])
def test_nan_guard_skips_steps_then_stops_with_a_clear_error(tmp_path, captures, body, fused):
    warnings = []
    trainer = Trainer(small("tiny", "optim.steps=10", "optim.max_bad_steps=3", f"optim.fused_adam={str(fused).lower()}"),
                      captures, tmp_path / "run", device="cpu", body=body, warn=warnings.append)
    joint = trainer.loss.joint  # with a discriminator the step's losses come from ANRLoss.joint

    def poisoned(*args, **kwargs):
        total, d_loss, terms = joint(*args, **kwargs)
        return total * float("nan"), d_loss, terms

    trainer.loss.joint = poisoned
    before = state_of(trainer)
    with pytest.raises(AnrError, match="3 consecutive steps had NaN or Inf"):
        trainer.run()
    after = state_of(trainer)
    assert all(torch.equal(before[k], after[k]) for k in before)  # no step was applied
    assert trainer.fused == fused  # fused: the device-side guard (Adam's found_inf) did the skipping
    for opt in (trainer.opt_renderer, trainer.opt_texture, trainer.opt_disc):
        assert all(float(s["step"]) == 0 for s in opt.state.values())  # nor counted in Adam
    assert sum("step skipped" in w for w in warnings) == 3


def test_output_folder_with_another_run_is_refused(tmp_path, captures, body):
    Trainer(small("tiny", "optim.steps=1"), captures, tmp_path / "run", device="cpu", body=body).run()
    with pytest.raises(AnrError, match="already holds a run"):
        Trainer(small("tiny"), captures, tmp_path / "run", device="cpu", body=body)
    with pytest.raises(AnrError, match="has no run.json"):
        Trainer(small("tiny"), captures, tmp_path / "empty", device="cpu", body=body, resume=True)


def test_corrupt_checkpoint_falls_back_to_the_previous_one(tmp_path, captures, body):
    run = tmp_path / "run"
    Trainer(small("tiny", "optim.steps=3", "optim.checkpoint_every=1"), captures, run, device="cpu", body=body).run()
    newest = run / "checkpoints" / "step-00000003.safetensors"
    data = bytearray(newest.read_bytes())
    data[len(data) // 2] ^= 0xFF
    newest.write_bytes(bytes(data))
    warnings = []
    resumed = Trainer(small("tiny", "optim.steps=3"), captures, run, device="cpu", body=body, resume=True,
                      warn=warnings.append)
    assert resumed.step == 2
    assert any("step-00000003.safetensors: checkpoint tensors are missing or corrupt" in w for w in warnings)
    assert any("previous good checkpoint step-00000002.json" in w for w in warnings)
    (run / "checkpoints" / "step-00000002.json").write_text("{not json")
    with pytest.raises(AnrError, match="no loadable checkpoint"):
        Trainer(small("tiny"), captures, run, device="cpu", body=body, resume=True, warn=warnings.append)


def test_time_budget_and_stop_request_end_training_with_an_avatar(tmp_path, captures, body):
    trainer = Trainer(small("tiny", "optim.steps=1000", "optim.time_budget_s=0.5"), captures, tmp_path / "run",
                      device="cpu", body=body)
    assert trainer.run() == "time budget"
    assert 0 < trainer.step < 1000 and (tmp_path / "run" / "avatar.anr").exists()

    class StopAt3(Callback):
        def on_step(self, t, info):
            if info.step == 3:
                t.request_stop()

    trainer = Trainer(small("tiny", "optim.steps=1000"), captures, tmp_path / "run2", device="cpu", body=body,
                      callbacks=[StopAt3()])
    assert trainer.run() == "stopped" and trainer.step == 3
    meta = json.loads(checkpoint_paths(tmp_path / "run2")[0][1].read_text())
    assert meta["step"] == 3 and meta["identities"] == ["alice", "bob"]


def test_a_failing_callback_never_stops_training(tmp_path, captures, body):
    class Broken(Callback):
        def on_step(self, t, info):
            raise RuntimeError("boom")

        def on_preview(self, t, step, images):
            raise ValueError("bad preview")

    warnings = []
    trainer = Trainer(small("tiny", "optim.steps=2"), captures, tmp_path / "run", device="cpu", body=body,
                      callbacks=[Broken()], warn=warnings.append)
    assert trainer.run() == "done" and trainer.step == 2
    assert any("boom" in w for w in warnings) and any("bad preview" in w for w in warnings)


@pytest.mark.parametrize("kind", ["dnr", "anr-1stage"])
def test_baselines_train(tmp_path, captures, body, kind):
    rec = Recorder()
    trainer = Trainer(small("tiny", f"renderer={kind}", "optim.steps=2"), captures, tmp_path / "run", device="cpu",
                      body=body, callbacks=[rec])
    trainer.run()
    losses = rec.steps[-1].losses
    assert "pixel_coarse" not in losses
    assert ("mask" in losses) == (kind == "anr-1stage")
    assert read_avatar(tmp_path / "run" / "avatar.anr").meta["renderer"] == kind


def test_no_gan_terms_means_no_discriminator(tmp_path, captures, body):
    rec = Recorder()
    trainer = Trainer(small("tiny", "loss.adversarial=0", "optim.steps=2"), captures,
                      tmp_path / "run", device="cpu", body=body, callbacks=[rec])
    assert trainer.disc is None and trainer.opt_disc is None
    assert trainer.run() == "done" and trainer.step == 2
    assert "discriminator" not in rec.steps[-1].losses and "adversarial" not in rec.steps[-1].losses


def test_bf16_autocast_and_channels_last_path_trains(tmp_path, captures, body, monkeypatch):
    # The GPU path (bf16 autocast, channels_last, fused Adam) run on the CPU, which has all three.
    from anr_studio.train import trainer as trainer_module

    monkeypatch.setattr(trainer_module, "FAST_PATH_DEVICES", ("cuda", "cpu"))
    rec = Recorder()
    trainer = Trainer(small("tiny", "optim.steps=3", "optim.bf16=true", "optim.channels_last=true"), captures,
                      tmp_path / "run", device="cpu", body=body, callbacks=[rec])
    assert trainer.autocast and trainer.channels_last and trainer.fused
    weight = next(p for p in trainer.renderer.parameters() if p.dim() == 4)
    assert weight.is_contiguous(memory_format=torch.channels_last) and not weight.is_contiguous()
    before = state_of(trainer)
    assert trainer.run() == "done"
    after = state_of(trainer)
    assert all(not i.skipped for i in rec.steps)
    assert all(torch.isfinite(torch.tensor(v)) for i in rec.steps for v in i.losses.values())
    assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith("r."))
    assert all(v.dtype == torch.float32 for k, v in after.items() if v.is_floating_point())  # weights stay fp32
    assert rec.previews and rec.previews[-1]["render"].dtype == "uint8"


def test_a_stop_signal_during_training_stops_it_even_where_code_swallows_exceptions(tmp_path, captures, body):
    # A stop signal used to raise KeyboardInterrupt wherever the main thread was; inside a weakref callback, a
    # __del__ or code catching BaseException it was lost and the run went on. Now it is a flag read between steps.
    import os
    import signal

    from anr_studio.fileio import on_stop_signals

    class SwallowingKill(Callback):
        def on_step(self, trainer, info):
            if info.step == 2:
                try:
                    os.kill(os.getpid(), signal.SIGTERM)
                    sum(range(100))  # Python runs the handler here, inside the try
                except BaseException:
                    pass

    trainer = Trainer(small("tiny", "optim.steps=50"), captures, tmp_path / "run", device="cpu", body=body,
                      callbacks=[SwallowingKill()])
    try:
        with on_stop_signals():  # as `anr-studio` runs every command
            reason = trainer.run()
    finally:
        trainer.close()
    assert reason == "stopped" and trainer.step == 2
