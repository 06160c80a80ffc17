"""The restricted unpickler: numpy arrays and plain containers in, any other global refused."""

from __future__ import annotations

import bz2
import builtins
import collections
import gzip
import lzma
import os
import pickle

import numpy as np
import pytest
import torch

from anr_studio.capture.formats import safe_pickle
from anr_studio.errors import AnrError
from tests.capture.tool_scene import write_joblib

VALUE = {"pose": np.arange(12, dtype=np.float32).reshape(4, 3), "ids": [np.int64(3), 4.5, "a", b"\x00\xff"],
         "nested": collections.OrderedDict(a=(1, 2), b={frozenset({1}), None}), "fortran": np.asfortranarray(np.eye(3)),
         "objects": np.array([{"k": np.ones(2)}, None], dtype=object), "scalar": np.float32(2.5)}


def _same(a, b):
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape and all(
            _same(x, y) for x, y in zip(a.ravel(), b.ravel())) if a.dtype == object else np.array_equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


@pytest.mark.parametrize("protocol", [0, 2, 3, 4, 5])
def test_plain_pickles_of_arrays_and_containers(protocol):
    assert _same(safe_pickle.read_bytes(pickle.dumps(VALUE, protocol=protocol), "v.pkl", "results"), VALUE)


@pytest.mark.parametrize("compress", [None, "zlib", "gzip", "bz2", "xz"])
def test_joblib_files_and_their_compressors(tmp_path, compress):
    path = write_joblib(VALUE, tmp_path / "r.pkl", compress=compress == "zlib")
    data = path.read_bytes()
    data = {"gzip": gzip.compress, "bz2": bz2.compress, "xz": lzma.compress}.get(compress, lambda d: d)(data)
    assert _same(safe_pickle.read_bytes(data, "r.pkl", "results"), VALUE)


def test_torch_tensors_are_skipped_not_built():
    value = safe_pickle.read_bytes(pickle.dumps({"emb": torch.ones(3), "x": np.ones(2)}), "t.pkl", "results")
    assert isinstance(value["emb"], safe_pickle.Unread) and np.array_equal(value["x"], np.ones(2))


class _Call:
    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return (self.func, self.args)


@pytest.mark.parametrize("func,name", [(os.system, "system"), (builtins.eval, "builtins.eval"),
                                       (builtins.getattr, "builtins.getattr"), (np.load, "numpy.load")])
def test_every_other_global_is_refused(tmp_path, func, name):
    marker = tmp_path / "ran"
    args = (f"touch {marker}",) if func in (os.system, builtins.eval) else ("text", "upper") if func is builtins.getattr else (str(marker),)
    for protocol in (0, 2, 4):
        with pytest.raises(AnrError, match=rf"x.pkl: not read \(refusing global .*{name.split('.')[-1]}\)"):
            safe_pickle.read_bytes(pickle.dumps({"a": [_Call(func, *args)]}, protocol=protocol), "x.pkl", "results")
    assert not marker.exists()


def test_damaged_files_name_the_file(tmp_path):
    data = write_joblib({"a": np.ones(1000)}, tmp_path / "j.pkl").read_bytes()
    with pytest.raises(AnrError, match="j.pkl: damaged or not a pickle .*joblib array data ends early"):
        safe_pickle.read_bytes(data[:-100], "j.pkl", "results")
    with pytest.raises(AnrError, match="z.pkl: cannot decompress it"):
        safe_pickle.read_bytes(b"\x78\x9c broken", "z.pkl", "results")
    np.save(tmp_path / "a.npy", np.arange(5))
    assert np.array_equal(safe_pickle.read_npy(tmp_path / "a.npy", "results"), np.arange(5))
    (tmp_path / "b.npy").write_bytes(b"not numpy")
    with pytest.raises(AnrError, match="b.npy: cannot read it as a NumPy .npy file"):
        safe_pickle.read_npy(tmp_path / "b.npy", "results")
