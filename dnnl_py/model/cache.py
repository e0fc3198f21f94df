"""A compiled model's cache entry in CACHE_DIR: the key, and the entry's layout.

The key is content, never path + mtime: sha256 of the model's content digest (graph and
every weight's bytes, external data included: read.py), the device identity, the
settings that change the compiled result (CACHE_MODE, TUNING, the OpenMP thread count
the kernels were chosen for) and the library's version and git hash.

The entry is one value of the directory store (dnnl_py/cache/: atomic writes, checksum,
optional MAC and encryption of the whole entry, max_bytes), laid out as

    magic b"DNNLPYM1", u8 mode (0 speed, 1 size), 32-byte model digest,
    u32 primitive count, then per primitive: u32 length, its cache blob,
    u32 weight count, then per weight: u32 length, memory desc blob, u64 offset, u64 bytes,
    CRC-32C of its bytes (u32); the sha256 of all of the above;
    padding, then the weights' bytes (OPTIMIZE_SPEED only), each at an offset that is a
    multiple of 4096 in the file (a page), so that they are used in place from a memory
    map: by the CPU kernels, and by an OpenCL device that shares the host's memory, whose
    zero-copy buffers want their host pointer aligned (128 bytes on PoCL, a page on
    integrated GPUs).

The entry checks itself (sha256 of the index, CRC-32C of each weight on every core), so it
is read with the directory store's frame checksum skipped (one serial blake2b pass over
the whole file: most of a warm start's cost); the frame's MAC and decryption still apply.

Nothing is unpickled: every field is read with bounds checks, and anything that does
not fit is a miss (the entry is dropped and rewritten).
"""
from __future__ import annotations

import hashlib
import struct
from typing import Optional

from .._build_info import GIT_HASH, VERSION
from ..memory_desc import desc
from ..record import record
from .hashing import crc32c_each

MAGIC = b"DNNLPYM1"
# what the planner makes of a model changes with this code, not only with the git hash of
# the compiled core: bump it when the plan (steps, their order, weights) changes
PLAN_VERSION = 5  # 5: Winograd weights transformed (4: CRC-32C per weight, page-aligned)
SPEED, SIZE = 0, 1
_ALIGN = 4096  # see the layout above


def model_key(digest: bytes, device: str, mode: int, tuned: bool, threads: int) -> bytes:
    fields = (f"dnnl_py model entry\0{VERSION}\0{GIT_HASH}\0plan {PLAN_VERSION}\0"
              f"{device}\0mode {mode}\0"
              f"tuning {int(tuned)}\0threads {threads}\0").encode()
    return hashlib.sha256(fields + digest).digest()


@record
class Entry:
    """A model cache entry, unpacked: its mode, the content digest it was made for, the
    primitive blobs and (OPTIMIZE_SPEED) the weights."""
    mode: int
    digest: bytes
    blobs: list                    # bytes per primitive, in plan order
    weights: Optional[list]        # (desc, bytes-like) per weight; None in SIZE mode


def pack(entry: Entry, value_offset: int) -> bytes:
    """The entry's bytes; value_offset is where they start in the file (so that weights
    land _ALIGN-aligned in the file)."""
    head = [MAGIC, struct.pack("<B", entry.mode), entry.digest,
            struct.pack("<I", len(entry.blobs))]
    for b in entry.blobs:
        head += [struct.pack("<I", len(b)), bytes(b)]
    weights = entry.weights or []
    mds = [md.get_blob() for md, _ in weights]
    sums = crc32c_each([data for _, data in weights])
    index_size = sum(len(h) for h in head) + 4 + sum(4 + len(m) + 20 for m in mds) + 32
    at = _pad(value_offset + index_size) - value_offset
    head.append(struct.pack("<I", len(weights)))
    offsets = []
    for m, (_, data), digest in zip(mds, weights, sums):
        n = memoryview(data).nbytes
        head += [struct.pack("<I", len(m)), m, struct.pack("<QQ", at, n), digest]
        offsets.append(at)
        at = _pad(value_offset + at + n) - value_offset
    index = b"".join(head)
    out = bytearray(index + hashlib.sha256(index).digest())
    for off, (_, data) in zip(offsets, weights):
        out.extend(bytes(off - len(out)))
        out.extend(memoryview(data).cast("B"))
    return bytes(out)


def unpack(value) -> Entry:
    """The entry of a value (bytes or a memoryview of a mapped file: the weights stay
    views of it). ValueError says what does not fit."""
    mv = memoryview(value).cast("B")
    r = _Reader(mv)
    if bytes(r.take(len(MAGIC))) != MAGIC:
        raise ValueError("not a dnnl_py model entry (bad magic)")
    mode = r.unpack("<B")
    if mode not in (SPEED, SIZE):
        raise ValueError(f"unknown cache mode {mode}")
    digest = bytes(r.take(32))
    blobs = [bytes(r.take(r.unpack("<I"))) for _ in range(r.unpack("<I"))]
    weights, sums = [], []
    for _ in range(r.unpack("<I")):
        md = bytes(r.take(r.unpack("<I")))
        off, n = struct.unpack("<QQ", r.take(16))
        sums.append(bytes(r.take(4)))
        if off + n > len(mv):
            raise ValueError("a weight runs past the end of the entry")
        weights.append((md, mv[off:off + n]))
    if hashlib.sha256(mv[:r.at]).digest() != bytes(r.take(32)):
        raise ValueError("index checksum mismatch (truncated or corrupted)")
    if crc32c_each([data for _, data in weights]) != sums:
        raise ValueError("weights checksum mismatch (truncated or corrupted)")
    weights = [(desc(md), data) for md, data in weights]
    return Entry(mode, digest, blobs, weights if mode == SPEED else None)


def _pad(n: int) -> int:
    return -(-n // _ALIGN) * _ALIGN


class _Reader:
    def __init__(self, mv: memoryview):
        self.mv, self.at = mv, 0

    def take(self, n: int) -> memoryview:
        if n < 0 or self.at + n > len(self.mv):
            raise ValueError("the entry is truncated")
        out = self.mv[self.at:self.at + n]
        self.at += n
        return out

    def unpack(self, fmt: str) -> int:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]
