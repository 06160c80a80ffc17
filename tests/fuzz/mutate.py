"""Seeded mutations of valid files: byte-level damage and structure-aware edits of HDF5, safetensors and JSON.

Every function takes a ``numpy.random.Generator`` so a case is reproduced from its seed alone.
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path
from typing import Any, Callable

import numpy as np

INTERESTING_BYTES = (0x00, 0x01, 0x7F, 0x80, 0xFF)
INTERESTING_NUMBERS = (0, -1, 1, 2**31, -(2**31), 2**63 - 1, 1e30, -1e30, 1e308, 1e-320, 0.5, 10**12)


def random_bytes(rng: np.random.Generator, n: int) -> bytes:
    """Returns ``n`` random bytes."""
    return rng.integers(0, 256, n, dtype=np.uint8).tobytes()


def mutate_bytes(rng: np.random.Generator, data: bytes) -> tuple[str, bytes]:
    """Returns (label, damaged copy of ``data``): bit flips, byte edits, truncation, splices or noise."""
    b = bytearray(data)
    kind = int(rng.integers(9))
    if not b or kind == 8:
        return "random bytes", random_bytes(rng, int(rng.integers(0, 4096)))
    at = int(rng.integers(len(b)))
    if kind == 0:
        for _ in range(int(rng.integers(1, 9))):
            i = int(rng.integers(len(b)))
            b[i] ^= 1 << int(rng.integers(8))
        return "bit flips", bytes(b)
    if kind == 1:
        for _ in range(int(rng.integers(1, 17))):
            b[int(rng.integers(len(b)))] = int(rng.choice(INTERESTING_BYTES)) if rng.random() < 0.5 else int(rng.integers(256))
        return "byte edits", bytes(b)
    if kind == 2:
        return f"truncated at {at}", bytes(b[:at])
    if kind == 3:
        n = int(rng.integers(1, 256))
        b[at:at + n] = bytes(min(n, len(b) - at))
        return "zeroed range", bytes(b)
    if kind == 4:
        return "inserted bytes", bytes(b[:at] + random_bytes(rng, int(rng.integers(1, 64))) + b[at:])
    if kind == 5:
        n = int(rng.integers(1, 256))
        return "deleted range", bytes(b[:at] + b[at + n:])
    if kind == 6:
        n = int(rng.integers(1, 512))
        src = int(rng.integers(len(b)))
        return "spliced range", bytes(b[:at] + b[src:src + n] + b[at + n:])
    return "empty file", b""


# -- JSON trees ------------------------------------------------------------------------------

def deep_json(depth: int) -> str:
    """Returns JSON text nesting ``depth`` lists."""
    return "[" * depth + "]" * depth


def random_value(rng: np.random.Generator) -> Any:
    """Returns a JSON value of a random kind (numbers at the edges, strings with control codes, containers)."""
    kind = int(rng.integers(10))
    if kind == 0:
        return None
    if kind == 1:
        return bool(rng.integers(2))
    if kind == 2:
        return INTERESTING_NUMBERS[int(rng.integers(len(INTERESTING_NUMBERS)))]
    if kind == 3:
        return float(rng.choice([math.nan, math.inf, -math.inf]))
    if kind == 4:
        return "".join(chr(int(c)) for c in rng.integers(1, 0x3000, int(rng.integers(0, 12))))
    if kind == 5:
        return "\x1b[31m" + "x" * int(rng.integers(0, 5))
    if kind == 6:
        return [random_value(rng) for _ in range(int(rng.integers(0, 3)))] if rng.random() < 0.5 else []
    if kind == 7:
        return {"k": random_value(rng)} if rng.random() < 0.5 else {}
    if kind == 8:
        return -int(rng.integers(0, 10**6))
    return "x" * int(rng.integers(0, 300))


def _paths(tree: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(tree, dict):
        for k, v in tree.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(tree, list):
        for i, v in enumerate(tree[:8]):
            out += _paths(v, prefix + (i,))
    return out


def mutate_tree(rng: np.random.Generator, tree: Any) -> tuple[str, Any]:
    """Returns (label, copy of a JSON ``tree`` with one node replaced, removed or duplicated)."""
    tree = json.loads(json.dumps(tree))
    paths = _paths(tree)
    path = paths[int(rng.integers(len(paths)))]
    value = random_value(rng)
    if not path:
        return "root replaced", value
    parent = tree
    for key in path[:-1]:
        parent = parent[key]
    key = path[-1]
    action = int(rng.integers(4))
    label = "/".join(str(p) for p in path)
    if action == 0 and isinstance(parent, dict):
        del parent[key]
        return f"{label} removed", tree
    if action == 1 and isinstance(parent[key], list) and parent[key]:
        parent[key] = parent[key] + parent[key][:1]  # a duplicate entry (an identity named twice)
        return f"{label} duplicated", tree
    parent[key] = value
    return f"{label} = {str(value)[:40]!r}", tree


def mutate_json_text(rng: np.random.Generator, text: str) -> tuple[str, str]:
    """Returns (label, mutated JSON text): a tree edit, deep nesting, non-standard numbers or broken text."""
    kind = int(rng.integers(6))
    if kind == 0:
        return "100,000-deep JSON", deep_json(100_000)
    if kind == 1:
        label, data = mutate_bytes(rng, text.encode())
        return label, data.decode("utf-8", errors="replace")
    try:
        tree = json.loads(text)
    except ValueError:
        return "unparsed", text
    label, tree = mutate_tree(rng, tree)
    return label, json.dumps(tree, allow_nan=True)


# -- safetensors -------------------------------------------------------------------------------

def split_safetensors(data: bytes) -> tuple[dict[str, Any], bytes]:
    """Returns (header dict, tensor payload) of a safetensors file."""
    (n,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8:8 + n]), data[8 + n:]


def join_safetensors(header: Any, payload: bytes, raw_header: bytes | None = None) -> bytes:
    """Returns a safetensors file from a header (any JSON value) and a payload."""
    text = raw_header if raw_header is not None else json.dumps(header, allow_nan=True).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + payload


def mutate_safetensors(rng: np.random.Generator, data: bytes, meta_key: str | None) -> tuple[str, bytes]:
    """Returns (label, mutated safetensors file): metadata JSON edits, header edits, payload edits, or byte damage."""
    try:
        header, payload = split_safetensors(data)
    except (ValueError, struct.error):
        return mutate_bytes(rng, data)
    kind = int(rng.integers(7))
    names = [k for k in header if k != "__metadata__"]
    if kind in (0, 1) and meta_key and meta_key in header.get("__metadata__", {}):
        label, text = mutate_json_text(rng, header["__metadata__"][meta_key])
        header["__metadata__"][meta_key] = text
        return f"metadata {label}", join_safetensors(header, payload)
    if kind == 2 and names:
        name = names[int(rng.integers(len(names)))]
        entry = header[name]
        field = ["dtype", "shape", "data_offsets"][int(rng.integers(3))]
        entry[field] = random_value(rng) if rng.random() < 0.3 else {
            "dtype": lambda: str(rng.choice(["F16", "BF16", "I64", "U8", "BOOL", "F64", "X"])),
            "shape": lambda: [int(rng.integers(0, 10**6))] * int(rng.integers(0, 4)),
            "data_offsets": lambda: [int(rng.integers(0, 2**40)), int(rng.integers(0, 2**40))],
        }[field]()
        return f"header {name}.{field}", join_safetensors(header, payload)
    if kind == 3 and names:  # valid structure, values a loader must judge: NaN, Inf, huge
        b = bytearray(payload)
        name = names[int(rng.integers(len(names)))]
        start, end = header[name]["data_offsets"]
        if header[name]["dtype"] == "F32" and end - start >= 4:
            count = (end - start) // 4
            values = np.frombuffer(bytes(b[start:end]), np.float32).copy()
            idx = rng.integers(0, count, int(rng.integers(1, 4)))
            values[idx] = float(rng.choice([np.nan, np.inf, -np.inf, 1e30]))
            b[start:end] = values.tobytes()
            return f"{name} holds non-finite values", bytes(b)
        return "payload untouched", data
    if kind == 4 and len(payload) > 8:  # the silent corruption a checksum must catch
        b = bytearray(payload)
        i = int(rng.integers(len(b)))
        b[i] ^= 1 << int(rng.integers(8))
        return f"payload bit flip at {i}", join_safetensors(header, bytes(b))
    if kind == 5 and names:
        name = names[int(rng.integers(len(names)))]
        del header[name]
        return f"tensor {name} removed", join_safetensors(header, payload)
    return mutate_bytes(rng, data)


def mutate_array(rng: np.random.Generator, array: np.ndarray) -> tuple[str, np.ndarray]:
    """Returns (label, a replacement for ``array``): another shape or dtype, non-finite or huge values, objects."""
    kind = int(rng.integers(6))
    if kind == 0:
        shape = list(array.shape) or [1]
        shape[int(rng.integers(len(shape)))] = int(rng.integers(0, 5))
        return f"shape {tuple(shape)}", np.zeros(shape, array.dtype)
    if kind == 1:
        dtype = str(rng.choice(["f2", "i8", "u1", "?", "c8", "S3", "U2"]))
        return f"dtype {dtype}", np.zeros(array.shape, dtype) if dtype[0] not in "SU" else np.full(array.shape, "a", dtype)
    if kind == 2 and array.dtype.kind == "f" and array.size:
        out = array.copy()
        out.reshape(-1)[rng.integers(0, array.size, 3)] = float(rng.choice([np.nan, np.inf, -1e30, 1e30]))
        return "non-finite values", out
    if kind == 3:
        return "object array", np.array([{"a": 1}, None], dtype=object)
    if kind == 4:
        return "scalar", np.array(float(rng.choice([0.0, np.nan, 1e30])))
    if array.dtype.kind in "iu" and array.size:
        out = array.copy()
        info = np.iinfo(array.dtype)
        out.reshape(-1)[rng.integers(0, array.size, 3)] = int(rng.choice([info.min, info.max, min(10**6, info.max)]))
        return "indices out of range", out
    return "empty", np.zeros((0,), array.dtype)


# -- HDF5 captures (structure edits through h5py) ------------------------------------------------

def _replace(f, key: str, value: Any, **kwargs) -> None:
    if key in f:
        del f[key]
    f.create_dataset(key, data=value, **kwargs)


def capture_edits(h5py) -> list[tuple[str, Callable[[Any, np.random.Generator, Path], None]]]:
    """Returns labelled edits of an open capture (h5py.File in r+ mode, rng, a victim path outside it)."""
    def any_dataset(f, rng):
        names = []
        f.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
        return names[int(rng.integers(len(names)))] if names else "frames"

    def wrong_dtype(f, rng, victim):
        key = any_dataset(f, rng)
        data = f[key][()]
        _replace(f, key, np.asarray(data).astype(rng.choice(["f8", "i4", "u2", "f2", "S4", "?"])))

    def wrong_shape(f, rng, victim):
        key = any_dataset(f, rng)
        data = np.asarray(f[key][()])
        shape = list(data.shape) or [1]
        shape[int(rng.integers(len(shape)))] = int(rng.integers(0, 7))
        _replace(f, key, np.zeros(shape, data.dtype))

    def non_finite(f, rng, victim):
        key = str(rng.choice(["body/pose", "body/betas", "body/transl", "camera/K", "camera/R", "camera/t"]))
        data = np.array(f[key][()], np.float32)
        data.reshape(-1)[int(rng.integers(data.size))] = float(rng.choice([np.nan, np.inf, -1e30, 1e30, 0.0, -5.0]))
        _replace(f, key, data)

    def zero_intrinsics(f, rng, victim):
        K = np.array(f["camera/K"][()], np.float32)
        K[..., :2, :] *= float(rng.choice([0.0, -1.0, 1e9]))
        _replace(f, "camera/K", K)

    def attribute(f, rng, victim):
        key = str(rng.choice(["identity", "fps", "version", "format"]))
        values = [b"\xff\xfebad", "\x1b[2J\x1b[31mevil", "", 1e309, -3, "1", 2, np.arange(3), "x" * 5000]
        value = values[int(rng.integers(len(values)))]
        if isinstance(value, bytes):
            f.attrs.create(key, value, dtype=h5py.string_dtype("utf-8"))
        else:
            f.attrs[key] = value

    def remove(f, rng, victim):
        key = any_dataset(f, rng)
        del f[key]

    def group_as_dataset(f, rng, victim):
        key = str(rng.choice(["truth", "body", "camera", "split"]))
        if key in f:
            del f[key]
        f[key] = np.zeros(3, np.float32)

    def external_storage(f, rng, victim):
        key = str(rng.choice(["frames", "background", "body/betas"]))
        ds = f[key]
        shape, dtype = ds.shape, ds.dtype
        del f[key]
        f.create_dataset(key, shape=shape, dtype=dtype, external=[(str(victim), 0, int(np.prod(shape)) * dtype.itemsize)])

    def external_link(f, rng, victim):
        key = str(rng.choice(["frames", "masks", "body/pose"]))
        if key in f:
            del f[key]
        f[key] = h5py.ExternalLink(str(victim.with_suffix(".h5")), "/" + key)

    def virtual(f, rng, victim):
        ds = f["frames"]
        layout = h5py.VirtualLayout(shape=ds.shape, dtype=ds.dtype)
        layout[:] = h5py.VirtualSource(str(victim.with_suffix(".h5")), "frames", shape=ds.shape)
        del f["frames"]
        f.create_virtual_dataset("frames", layout)

    def huge_declared(f, rng, victim):
        key = str(rng.choice(["frames", "masks", "body/betas", "body/pose", "split/train"]))
        old = f[key] if key in f else None
        shape = list(old.shape) if old is not None else [4]
        shape[0] = int(rng.choice([10**7, 10**9, 2**40]))
        dtype = old.dtype if old is not None else np.int64
        if key in f:
            del f[key]
        chunks = tuple([1] + shape[1:]) if len(shape) > 1 else (1024,)
        f.create_dataset(key, shape=tuple(shape), dtype=dtype, chunks=chunks if rng.random() < 0.5 else None)

    def test_keyframes(f, rng, victim):
        test = f["split/test"][()] if "split/test" in f else np.array([0])
        _replace(f, "keyframes", np.asarray(test[:2], np.int64))

    def indices(f, rng, victim):
        key = str(rng.choice(["split/train", "split/test", "keyframes"]))
        _replace(f, key, rng.integers(-5, 10**6, int(rng.integers(0, 5))))

    return [("wrong dtype", wrong_dtype), ("wrong shape", wrong_shape), ("non-finite or implausible", non_finite),
            ("bad intrinsics", zero_intrinsics), ("attribute", attribute), ("dataset removed", remove),
            ("dataset for a group", group_as_dataset), ("external raw storage", external_storage),
            ("external link", external_link), ("virtual dataset", virtual), ("huge declared size", huge_declared),
            ("keyframes on test frames", test_keyframes), ("indices", indices)]
