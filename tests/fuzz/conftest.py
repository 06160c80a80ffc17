"""Seed files for the fuzz suite, written once per session, and the ``fuzz_long`` marker's opt-in."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config, items):
    """Skips the long campaign unless it is selected (``-m fuzz_long``)."""
    if "fuzz_long" in (config.option.markexpr or ""):
        return
    skip = pytest.mark.skip(reason="the long fuzz campaign runs with -m fuzz_long")
    for item in items:
        if "fuzz_long" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def seeds(tmp_path_factory):
    from tests.fuzz.seeds import write_seeds

    return write_seeds(tmp_path_factory.mktemp("fuzz_seeds"))


@pytest.fixture(scope="session")
def import_seeds(tmp_path_factory):
    from tests.fuzz.import_targets import write_import_seeds

    return write_import_seeds(tmp_path_factory.mktemp("fuzz_import_seeds"))
