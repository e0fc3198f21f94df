"""sha256 of many buffers on every core: hashlib lets the GIL go, and hashing ~100 MB of
weights is most of what reading a large model, or checking its cache entry, costs."""
from __future__ import annotations

import hashlib
import os
import threading

import numpy as np

_SERIAL_BYTES = 1 << 22  # below this, threads cost more than they save


def sha256_each(buffers: list) -> list:
    """[sha256 digest of each buffer's bytes] (numpy arrays or bytes-like)."""
    views = [memoryview(np.ascontiguousarray(b) if isinstance(b, np.ndarray) else b).cast("B")
             for b in buffers]
    out = [b""] * len(views)

    def work(mine):
        for i in mine:
            out[i] = hashlib.sha256(views[i]).digest()

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
