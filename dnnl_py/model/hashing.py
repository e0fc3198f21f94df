"""Digests of many buffers on every core: hashlib and zlib let the GIL go, and hashing
~100 MB of weights is most of what reading a large model, or checking its cache entry,
costs. sha256 where a collision must not be found (the model's content key); crc32,
~2.5x cheaper, where only damage is looked for (a cache entry's weights: a forged entry
is what the store's MAC is for)."""
from __future__ import annotations

import hashlib
import os
import threading
import zlib
from typing import Callable

import numpy as np

_SERIAL_BYTES = 1 << 22  # below this, threads cost more than they save


def sha256_each(buffers: list) -> list:
    """[sha256 digest of each buffer's bytes] (numpy arrays or bytes-like)."""
    return _each(buffers, lambda v: hashlib.sha256(v).digest())


def crc32_each(buffers: list) -> list:
    """[crc32 of each buffer's bytes, as 4 little-endian bytes]."""
    return _each(buffers, lambda v: zlib.crc32(v).to_bytes(4, "little"))


def _each(buffers: list, digest: Callable) -> list:
    views = [memoryview(np.ascontiguousarray(b) if isinstance(b, np.ndarray) else b).cast("B")
             for b in buffers]
    out = [b""] * len(views)

    def work(mine):
        for i in mine:
            out[i] = digest(views[i])

    order = sorted(range(len(views)), key=lambda i: -views[i].nbytes)
    workers = min(os.cpu_count() or 1, 8)
    if workers < 2 or sum(v.nbytes for v in views) < _SERIAL_BYTES:
        work(order)
        return out
    buckets, loads = [[] for _ in range(workers)], [0] * workers
    for i in order:  # largest first onto the least loaded: balanced by bytes
        k = loads.index(min(loads))
        buckets[k].append(i)
        loads[k] += views[i].nbytes
    threads = [threading.Thread(target=work, args=(b,)) for b in buckets[1:]]
    for t in threads:
        t.start()
    work(buckets[0])
    for t in threads:
        t.join()
    return out
