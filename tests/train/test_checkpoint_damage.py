"""Checkpoint records that are forged or damaged: one sentence each, never a file read from elsewhere."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from anr_studio.errors import AnrError
from anr_studio.train.checkpoint import load_latest_checkpoint, read_checkpoint, save_checkpoint


@pytest.fixture
def record(tmp_path):
    return save_checkpoint(tmp_path, 3, {"w": torch.arange(10.0)}, {"note": "x"})


@pytest.mark.parametrize("edit, message", [
    (lambda m: "[" * 100_000 + "]" * 100_000, "checkpoint record is unreadable (nested too deeply)"),
    (lambda m: json.dumps([m]), "checkpoint record is unreadable"),
    (lambda m: json.dumps(dict(m, tensors_file="/etc/passwd")), "names tensors_file '/etc/passwd'"),
    (lambda m: json.dumps(dict(m, tensors_file="../step-00000003.safetensors")), "names tensors_file"),
    (lambda m: json.dumps(dict(m, step="three")), "checkpoint record is unreadable"),
    (lambda m: json.dumps(dict(m, tensors_size=None)), "checkpoint record is unreadable"),
])
def test_forged_records_are_refused(record, edit, message):
    meta = json.loads(record.read_text())
    meta.pop("record_sha256")  # as an older record, or one forged with care
    record.write_text(edit(meta))
    with pytest.raises(AnrError) as err:
        read_checkpoint(record)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_any_changed_byte_in_the_tensors_is_caught(tmp_path, record):
    tensors = record.with_suffix(".safetensors")
    data = tensors.read_bytes()
    for i in np.random.default_rng(0).choice(len(data), 40, replace=False):
        damaged = bytearray(data)
        damaged[int(i)] ^= 0x10
        tensors.write_bytes(bytes(damaged))
        with pytest.raises(AnrError, match="checkpoint tensors are missing or corrupt"):
            read_checkpoint(record)
    tensors.write_bytes(data)
    assert load_latest_checkpoint(tmp_path).step == 3


def test_an_edited_record_does_not_match_its_checksum(record):
    meta = json.loads(record.read_text())
    meta["train_time_s"] = 1.0
    record.write_text(json.dumps(meta))
    with pytest.raises(AnrError, match="checkpoint record does not match its checksum"):
        read_checkpoint(record)
