"""Digests of many buffers on every core: hashlib and the compiled core's CRC-32C let
the GIL go, and hashing ~100 MB of weights is most of what reading a large model, or
checking its cache entry, costs. sha256 where a collision must not be found (the model's
content key); CRC-32C where only damage is looked for (a cache entry's weights: a forged
entry is what the store's MAC is for). CRC-32C rather than zlib's CRC-32: the same
guarantees against damage (every error burst of up to 32 bits; other damage missed
with odds of 2^-32), and SSE4.2 computes it 8 bytes a step: ~2.5x zlib.crc32 on this
machine's Zen 4 (csrc/checksum.c)."""
from __future__ import annotations

import hashlib
import os
import threading
from typing import Callable

import numpy as np

from ..cpu._kernels import crc32c

_SERIAL_BYTES = 1 << 22  # below this, threads cost more than they save


def sha256_each(buffers: list) -> list:
    """[sha256 digest of each buffer's bytes] (numpy arrays or bytes-like)."""
    return _each(buffers, lambda v: hashlib.sha256(v).digest())


def crc32c_each(buffers: list) -> list:
    """[CRC-32C of each buffer's bytes, as 4 little-endian bytes]."""
    return _each(buffers, lambda v: crc32c(v).to_bytes(4, "little"))


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
