"""Fixtures: a tiny ellipsoid body and two tiny captures (64x64, 8 frames) written with CaptureWriter."""

from __future__ import annotations

import pytest

from tests.train.helpers import tiny_body, write_tiny_capture


@pytest.fixture(scope="session")
def body():
    return tiny_body()


@pytest.fixture(scope="session")
def captures(tmp_path_factory, body):
    folder = tmp_path_factory.mktemp("captures")
    a = write_tiny_capture(folder / "alice.h5", "alice", body, seed=0)
    b = write_tiny_capture(folder / "bob.h5", "bob", body, seed=1)
    return [str(a), str(b)]
