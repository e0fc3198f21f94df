"""Large host buffers on transparent huge pages.

The CPU kernels' large buffers (a compiled model's activation arena, the shared scratch
of the convolutions: Winograd's transformed weights, the direct kernel's blocked images)
are read at random strides many times per execution. On 4 KiB pages each buffer spans
thousands of TLB entries, and under a hypervisor every TLB miss is a two-level page
walk; 2 MiB pages cut both the misses and the first touch's page faults (one fault a
2 MiB page instead of 512). malloc neither aligns a buffer to 2 MiB nor asks for huge
pages, so a buffer of at least that size gets an anonymous memory map of its own,
aligned and advised (MADV_HUGEPAGE: Linux's THP setting "madvise", the default of many
distributions, gives huge pages to advised maps only). Anywhere that fails, or off
Linux, it is an ordinary numpy array: huge pages are a speed-up, never a requirement.
DNNL_PY_HUGE_PAGES=0 makes every buffer an ordinary one: `make asan` sets it, since
AddressSanitizer puts its redzones around malloc's blocks only.
"""
from __future__ import annotations

import mmap
import os

import numpy as np

HUGE_PAGE = 1 << 21
_ADVICE = (getattr(mmap, "MADV_HUGEPAGE", None)
           if os.environ.get("DNNL_PY_HUGE_PAGES", "1") != "0" else None)


def zeros(count: int, dtype) -> np.ndarray:
    """A zero-filled, writable, C-contiguous 1-D array of count elements; from
    count * itemsize >= HUGE_PAGE bytes on, 2 MiB-aligned and advised for huge pages.
    The map is unmapped when the last view of the array goes."""
    dtype = np.dtype(dtype)
    nbytes = count * dtype.itemsize
    if nbytes < HUGE_PAGE or _ADVICE is None:
        return np.zeros(count, dtype)
    try:
        # an anonymous map is zero-filled by the kernel, page by page at first touch
        pages = mmap.mmap(-1, nbytes + HUGE_PAGE)
    except (OSError, ValueError, OverflowError):  # no address space for it
        return np.zeros(count, dtype)  # MemoryError where malloc cannot either
    try:
        pages.madvise(_ADVICE)
    except OSError:  # a kernel built without THP: the map stays, on small pages
        pass
    raw = np.frombuffer(pages, np.uint8)
    start = -raw.ctypes.data % HUGE_PAGE
    return raw[start:start + nbytes].view(dtype)
