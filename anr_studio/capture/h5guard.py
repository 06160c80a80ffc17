"""Returns the problems that make an HDF5 file unsafe to read, found before any data is read.

A capture is one self-contained file: external storage, external links and virtual datasets (data
from other files, e.g. ``/etc/passwd``) are refused; every dataset's declared data must be stored in
the file (no ten million frames in 47 KB); only standard filters (no compression plugin is loaded).
"""

from __future__ import annotations

import math
import os

import h5py
from h5py import h5d

# Filters any HDF5 build decodes without a plugin (deflate, shuffle, fletcher32, szip, nbit,
# scale-offset) plus h5py's built-in lzf.
ALLOWED_FILTERS = {1: "gzip", 2: "shuffle", 3: "fletcher32", 4: "szip", 5: "nbit", 6: "scaleoffset", 32000: "lzf"}
# A capture holds a few dozen objects; a file with thousands is not one (and walking it is slow).
MAX_OBJECTS = 1000
# Attributes are small text and numbers; one larger than this is not a capture's.
MAX_ATTR_BYTES = 1 << 20


def _attr_problems(obj: h5py.HLObject, where: str, name: str) -> list[str]:
    problems = []
    for key in list(obj.attrs.keys())[:MAX_OBJECTS]:
        try:
            size = obj.attrs.get_id(key).get_storage_size()
        except (OSError, RuntimeError, KeyError, ValueError):
            size = MAX_ATTR_BYTES + 1
        if size > MAX_ATTR_BYTES:
            problems.append(f"{name}: attribute {key!r} of {where} holds {size} bytes, expected at most {MAX_ATTR_BYTES}")
    return problems


def dataset_problem(ds: h5py.Dataset, file_size: int, name: str) -> str | None:
    """Returns why ``ds``'s data cannot be trusted to lie complete inside this file, or None."""
    key = ds.name.lstrip("/")
    if ds.is_virtual:
        return f"{name}: {key} is a virtual dataset (its data lives in other files), expected data stored in this file"
    if ds.external:
        target = ds.external[0][0]
        target = target.decode(errors="replace") if isinstance(target, bytes) else str(target)
        return f"{name}: {key} uses external raw storage ({target!r}), expected data stored in this file"
    plist = ds.id.get_create_plist()
    for i in range(plist.get_nfilters()):
        code = int(plist.get_filter(i)[0])
        if code not in ALLOWED_FILTERS:
            return f"{name}: {key} is encoded with HDF5 filter {code}, expected one of {', '.join(sorted(set(ALLOWED_FILTERS.values())))}"
    if ds.size == 0:
        return None
    layout = plist.get_layout()
    if layout == h5d.CHUNKED:
        total = math.prod(math.ceil(s / c) for s, c in zip(ds.shape, ds.chunks))
        stored = int(ds.id.get_num_chunks())
        if stored < total:
            return (f"{name}: {key} declares shape {tuple(ds.shape)} but stores only {stored} of its {total} chunks "
                    "(truncated or forged), expected every part of the data written")
    elif layout == h5d.CONTIGUOUS:
        size, offset = int(ds.id.get_storage_size()), ds.id.get_offset()
        if offset is None or size < ds.size * ds.dtype.itemsize or offset + size > file_size:
            return (f"{name}: {key} declares shape {tuple(ds.shape)} ({ds.size * ds.dtype.itemsize} bytes) but the file "
                    f"holds {size} of them (truncated or forged), expected the data in the file")
    return None


def unsafe_problems(f: h5py.File, path: str | os.PathLike, name: str) -> list[str]:
    """Returns the problems of the open file ``f`` (at ``path``) that forbid reading it (empty when safe):
    its links, every dataset's storage and the attribute sizes."""
    file_size = os.path.getsize(path)
    links: list[str] = []

    def collect(key: str) -> bool | None:
        links.append(key)
        return True if len(links) > MAX_OBJECTS else None  # a true value ends the walk

    f.visit_links(collect)
    if len(links) > MAX_OBJECTS:
        return [f"{name}: holds more than {MAX_OBJECTS} objects, expected an ANR capture's few dozen"]
    problems = _attr_problems(f, "the file", name)
    for key in links:
        link = f.get(key, getlink=True)
        if isinstance(link, h5py.ExternalLink):
            problems.append(f"{name}: {key} is an external link to {link.filename!r}, expected data stored in this file")
            continue
        if isinstance(link, h5py.SoftLink):
            problems.append(f"{name}: {key} is a soft link to {link.path!r}, expected a plain dataset or group")
            continue
        obj = f.get(key)
        if isinstance(obj, h5py.Dataset):
            problem = dataset_problem(obj, file_size, name)
            if problem:
                problems.append(problem)
        if obj is not None:
            problems += _attr_problems(obj, key, name)
    return problems

