"""Fixtures: a tiny avatar trained inside the tests (box humanoid body, two 64x64 captures, tiny preset)."""

from __future__ import annotations

import pytest
import torch

from tests.body.synthetic import box_body
from tests.train.helpers import write_tiny_capture

# The tiny preset shrunk further: a few CPU steps take well under a second each.
SMALL = ["data.resolution=48", "data.workers=0", "data.batch_size=2", "data.cache_in_memory=false",
         "model.texture.size=32", "model.r1.depth=3", "model.r1.base_channels=4", "model.r1.max_channels=8",
         "model.r2.depth=3", "model.r2.base_channels=4", "model.r2.max_channels=8",
         "model.discriminator.num_scales=1", "model.discriminator.num_layers=2",
         "model.discriminator.base_channels=4", "optim.preview_every=0", "optim.log_every=1",
         "optim.checkpoint_every=100"]


@pytest.fixture(scope="session")
def body():
    return box_body()


@pytest.fixture(scope="session")
def captures(tmp_path_factory, body):
    folder = tmp_path_factory.mktemp("avatar_captures")
    a = write_tiny_capture(folder / "alice.h5", "alice", body, seed=0, body_model="box")
    b = write_tiny_capture(folder / "bob.h5", "bob", body, seed=1, body_model="box")
    c = write_tiny_capture(folder / "carol.h5", "carol", body, seed=2, body_model="box")
    return [str(a), str(b), str(c)]


@pytest.fixture(scope="session")
def avatar_path(tmp_path_factory, captures, body):
    """A real avatar file: 4 training steps of the (shrunk) tiny preset on alice and bob."""
    from anr_studio.train.presets import preset
    from anr_studio.train.trainer import Trainer

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        config = preset("tiny").with_overrides(SMALL + ["optim.steps=4"])
        out = tmp_path_factory.mktemp("avatar_run")
        trainer = Trainer(config, captures[:2], out, device="cpu", body=body)
        assert trainer.run() == "done"
    finally:
        torch.set_num_threads(threads)
    return out / "avatar.anr"
