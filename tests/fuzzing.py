"""What the fuzz tests share: how many cases they run, what they found, and memories
inside NaN guard zones.

A short run is part of `make test` (derandomized: the same cases every time); `make fuzz`
sets DNNL_PY_FUZZ_EXAMPLES to run that many cases per family, with fresh random seeds,
and prints what each family found (DNNL_PY_FUZZ_REPORT names a JSON file to add them to).

Guard zones: a memory's buffer sits between two zones of GUARD elements, and every
element of the buffer that the layout does not address (gaps of padded strides, the
tail of a block) is a guard too. All guards hold a NaN with its own bit pattern. After
an execute, a guard that changed bits was written; a NaN in an output whose inputs were
finite was read from a guard. This is what sees past ASan: BLAS is not built with it.
"""
from __future__ import annotations

import collections
import json
import math
import os
import re

import numpy as np
from hypothesis import HealthCheck, settings

import dnnl_py as dnnl

LONG_EXAMPLES = int(os.environ.get("DNNL_PY_FUZZ_EXAMPLES", "0") or 0)
GUARD = 67  # elements before and after every buffer (odd: no vector-width alignment)
# a quiet NaN no computation produces (payload 0xdead): a written NaN shows as changed bits
GUARD_BITS = {4: 0x7FC0DEAD, 2: 0x7E0D, 1: 0xA5, 8: 0x7FF800000000DEAD}
_UINT = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}

FOUND: dict = collections.defaultdict(collections.Counter)  # family -> outcome -> cases


def fuzz_settings(short: int, long_share: float = 1.0) -> settings:
    """Hypothesis settings of a family: `short` cases in `make test`, or the long run's
    count (times long_share, for the slow families) under `make fuzz`."""
    if LONG_EXAMPLES:
        return settings(max_examples=max(1, int(LONG_EXAMPLES * long_share)), deadline=None,
                        database=None, suppress_health_check=list(HealthCheck))
    return settings(max_examples=short, deadline=None, database=None, derandomize=True,
                    suppress_health_check=list(HealthCheck), print_blob=True)


def outcome(message: str) -> str:
    """A refusal's message without its numbers and quoted values: one bucket per check."""
    text = re.sub(r"'[^']*'|\[[^\]]*\]|-?\d+", "#", str(message))
    return text[:90]


def record(family: str, result: str) -> None:
    FOUND[family][result] += 1


def report(family: str) -> None:
    """Prints (and with DNNL_PY_FUZZ_REPORT, saves) what the long run of `family` found."""
    if not LONG_EXAMPLES:
        return
    found = FOUND[family]
    total = sum(found.values())
    print(f"\n{family}: {total} cases")
    for what, n in found.most_common():
        print(f"  {n:8d}  {what}")
    path = os.environ.get("DNNL_PY_FUZZ_REPORT")
    if path:
        data = json.load(open(path)) if os.path.exists(path) else {}
        data[family] = dict(found)
        with open(path, "w") as f:
            json.dump(data, f, indent=1, sort_keys=True)


# -- guard zones ------------------------------------------------------------------------

def offsets(md: dnnl.memory.desc, padded: bool = False) -> np.ndarray:
    """The element offset of every logical element (or, padded, of every element of the
    padded dims) of a blocked layout, worked out here from dims, strides and inner blocks
    (not with the library's layout code)."""
    nd = len(md.dims)
    dims = md.padded_dims if padded else md.dims
    blks, idxs = list(md.inner_blks), list(md.inner_idxs)
    block = [1] * nd
    for d, b in zip(idxs, blks):
        block[d] *= b
    off = np.zeros(dims, np.int64)
    for d in range(nd):
        i = np.arange(dims[d], dtype=np.int64)
        o = (i // block[d]) * md.strides[d]
        rest, sub = i % block[d], block[d]
        for j, (dd, b) in enumerate(zip(idxs, blks)):
            if dd == d:  # mixed-radix digits of the position in the block, outermost first
                sub //= b
                o = o + (rest // sub) % b * math.prod(blks[j + 1:])
        shape = [1] * nd
        shape[d] = dims[d]
        off = off + o.reshape(shape)
    return off


class Guarded:
    """A CPU memory of `md` over the middle of a guard-filled buffer."""

    def __init__(self, eng, md: dnnl.memory.desc, values=None):
        self.md = md
        self.n = md.nelems_spanned()
        dtype = _numpy_dtype(md)
        self.raw = np.empty(self.n + 2 * GUARD, dtype)
        self.bits = self.raw.view(_UINT[dtype.itemsize])
        self.bits[:] = GUARD_BITS[dtype.itemsize]
        self.inner = self.raw[GUARD:GUARD + self.n]
        self.off = offsets(md)
        # a blocked layout's padding (the tail of the last block) belongs to the memory: a
        # destination may write it, with zeros only (oneDNN keeps padding zero)
        self.addressed = np.zeros(self.raw.size, bool)
        self.addressed[GUARD + offsets(md, padded=True).ravel()] = True
        self.padding = self.addressed.copy()
        self.padding[GUARD + self.off.ravel()] = False
        if values is not None:
            self.inner[self.off] = values  # where elements alias, the last one wins
        self.before = self.bits.copy()
        self.mem = dnnl.memory(md, eng, self.inner)

    def logical(self) -> np.ndarray:
        """The values the layout addresses, as a logical (dims-shaped) array."""
        return self.inner[self.off]

    def check_guards(self, name: str) -> None:
        """No bit outside the addressed elements changed; padding written only with 0."""
        changed = self.bits != self.before
        outside = np.flatnonzero(changed & ~self.addressed)
        assert outside.size == 0, (
            f"{name}: {outside.size} guard elements written, first at buffer index "
            f"{int(outside[0]) - GUARD} (the memory spans 0..{self.n - 1})")
        padding = np.flatnonzero(changed & self.padding & (self.raw != 0))
        assert padding.size == 0, (
            f"{name}: padding at buffer index {int(padding[0]) - GUARD} written with "
            f"{self.raw[padding[0]]!r}, not zero")

    def check_unchanged(self, name: str) -> None:
        """Nothing in the buffer or its guards changed (an input)."""
        changed = np.flatnonzero(self.bits != self.before)
        assert changed.size == 0, f"{name}: input written at buffer index {int(changed[0]) - GUARD}"


def _numpy_dtype(md) -> np.dtype:
    from dnnl_py.memory_desc import _NUMPY_DTYPE
    return np.dtype(_NUMPY_DTYPE[md.data_type])
