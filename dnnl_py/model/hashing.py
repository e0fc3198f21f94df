"""Digests of many buffers on every core: the compiled core's BLAKE3 and CRC-32C let
the GIL go, and hashing ~100 MB of weights is most of what reading a large model, or
checking its cache entry, costs. BLAKE3 where a collision must not be found (the model's
content key): as collision-resistant as sha256 for this use, and 16 of its 1 KiB chunks
go through one AVX-512 compression at once, ~2x hashlib's sha256 with SHA-NI on this
machine's Zen 4 (csrc/blake3.c), which was the largest part of a warm start. CRC-32C
where only damage is looked for (a cache entry's weights: a forged entry is what the
store's MAC is for): the same guarantees as zlib's CRC-32 against damage (every error
burst of up to 32 bits; other damage missed with odds of 2^-32), and SSE4.2 computes it
8 bytes a step: ~2.5x zlib.crc32 (csrc/checksum.c).

A buffer's digest here is a two-level tree: the BLAKE3 of each 4 MiB piece (boundaries
fixed by offset, so the digest depends on the bytes only, never on the thread count),
then the BLAKE3 of those digests when there is more than one. Pieces rather than whole
buffers are what the threads share: one large weight no longer leaves a core idle.

The work can run in the background (`start_digests(..., background=True)`): threads hash
while the caller does something else (read.py returns a model whose digest is still
being computed; core.py builds a plan meanwhile), and result() then hashes what is left
on the calling thread too before it waits."""
from __future__ import annotations

import os
import threading
from typing import Callable

import numpy as np

from ..cpu._kernels import DigestList, blake3

_SERIAL_BYTES = 1 << 22  # below this, threads cost more than they save
_PIECE = 1 << 22         # the tree's leaves
_TREE = b"dnnl_py blake3 pieces\0"  # a tree's root never equals a one-piece buffer's


class Digests:
    """The digests of a list of buffers, being computed: result() is the list."""

    def __init__(self, views: list, piece: int, use_blake3: bool, root: Callable,
                 workers: int):
        """piece: the leaves' size in bytes (0: one leaf a buffer); the leaves' digests
        BLAKE3 (use_blake3) or CRC-32C."""
        def size(i: int, j: int) -> int:
            return min(piece, views[i].nbytes - j * piece) if piece else views[i].nbytes
        pieces = [max(1, -(-v.nbytes // piece)) if piece else 1 for v in views]
        items = [(i, j) for i, n in enumerate(pieces) for j in range(n)]
        items.sort(key=lambda ij: -size(*ij))  # largest first: the threads end together
        self._items, self._pieces, self._root = items, pieces, root
        # the work loop is C's, without the GIL (_kernels.DigestList)
        self._list = DigestList([views[i][j * piece:(j + 1) * piece] if piece else views[i]
                                 for i, j in items], use_blake3)
        self._failed: list = []
        self._threads = [threading.Thread(target=self._work, name="dnnl_py hash")
                         for _ in range(workers)]
        self._out = None
        for t in self._threads:
            t.start()

    def _work(self) -> None:
        try:
            self._list.work()
        except BaseException as e:  # noqa: BLE001 - given to the caller by result()
            self._failed.append(e)

    def result(self) -> list:
        if self._out is None:
            self._work()  # what no thread has taken yet, here
            for t in self._threads:
                t.join()
            if self._failed:
                raise self._failed[0]
            leaves = [[b""] * n for n in self._pieces]
            for (i, j), d in zip(self._items, self._list.result()):
                leaves[i][j] = d
            self._out = [self._root(each) for each in leaves]
        return self._out


def start_digests(buffers: list, background: bool = False) -> Digests:
    """BLAKE3 trees of each buffer's bytes (numpy arrays or bytes-like), see above."""
    return _start(_views(buffers), _PIECE, True, _tree_root, background)


def digest_each(buffers: list) -> list:
    """start_digests(buffers).result(), the calling thread one of the hashing threads."""
    return start_digests(buffers).result()


def crc32c_each(buffers: list) -> list:
    """[CRC-32C of each buffer's bytes, as 4 little-endian bytes] (one piece a buffer)."""
    return _start(_views(buffers), 0, False, lambda leaves: leaves[0], False).result()


def _tree_root(leaves: list) -> bytes:
    return leaves[0] if len(leaves) == 1 else blake3(_TREE + b"".join(leaves))


def _views(buffers: list) -> list:
    return [memoryview(np.ascontiguousarray(b) if isinstance(b, np.ndarray) else b).cast("B")
            for b in buffers]


def _start(views, piece, use_blake3: bool, root, background: bool) -> Digests:
    cores = min(os.cpu_count() or 1, 8)
    if sum(v.nbytes for v in views) < _SERIAL_BYTES:
        workers = 0  # result() does it all
    else:  # the caller is one of the hashing threads once it asks for the result
        workers = max(1, cores - 1) if cores > 1 or background else 0
    return Digests(views, piece, use_blake3, root, workers)
