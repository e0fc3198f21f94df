"""The CPU runtime: memory lives in flat numpy buffers; primitives run C kernels."""
from __future__ import annotations

import functools
import platform

import numpy as np

from .. import layout
from .._errors import invalid
from ..kinds import primitive_kind
from ..memory import _NUMPY_DTYPE
from . import _kernels


class CpuRuntime:
    name = "cpu"
    tunable = True
    # threads a kernel created now would use (part of the primitive cache key)
    threads = staticmethod(_kernels.max_threads)

    @staticmethod
    @functools.lru_cache(maxsize=None)
    def device_id() -> str:
        """The ISA the kernels were built for and the processor, for cache blob ids."""
        model = platform.machine()  # not platform.processor(): it runs a subprocess
        try:
            with open("/proc/cpuinfo") as f:
                for line in f:
                    if line.startswith("model name"):
                        model = line.split(":", 1)[1].strip()
                        break
        except OSError:
            pass
        return f"{_kernels.cpu_isa()} {model}"

    @staticmethod
    def key() -> tuple:
        return ("cpu",)

    @staticmethod
    def new_queue(owner):
        return None  # kernels run inside execute()

    @staticmethod
    def alloc(md) -> np.ndarray:
        return np.zeros(max(md.nelems_spanned(), 1), _NUMPY_DTYPE[md.data_type])

    @staticmethod
    def wrap(md, handle) -> np.ndarray:
        """A flat view of `handle` (no copy): a numpy array with the descriptor's dims and
        strides, or a 1-D contiguous buffer covering the whole layout."""
        if not isinstance(handle, np.ndarray):
            raise invalid(f"memory: handle must be a numpy array, got {type(handle).__name__}")
        dtype = np.dtype(_NUMPY_DTYPE[md.data_type])
        if handle.dtype != dtype:
            raise invalid(f"memory: array dtype {handle.dtype} does not match the "
                          f"descriptor's {md.data_type.name}")
        need = md.nelems_spanned()
        if handle.ndim == 1 and handle.flags.c_contiguous and handle.shape != md.dims:
            if handle.size < need:
                raise invalid(f"memory: buffer of {handle.size} elements is smaller than the "
                              f"descriptor's {need}")
            return handle
        if handle.ndim == 1 and handle.shape != md.dims:
            raise invalid(f"memory: a 1-D buffer must be contiguous, got a view with a stride "
                          f"of {handle.strides[0] // dtype.itemsize} elements (the memory "
                          "wraps the array without copying it)")
        if handle.shape != md.dims:
            raise invalid(f"memory: array shape {list(handle.shape)} does not match the "
                          f"descriptor's dims {list(md.dims)}")
        if not md.is_plain():
            raise invalid(f"memory: a {md.tag_str()} layout takes a 1-D buffer, not an array "
                          "of logical shape")
        expected = tuple(s * dtype.itemsize for s in md.strides)
        if any(n > 1 and a != e for n, a, e in zip(md.dims, handle.strides, expected)):
            raise invalid(f"memory: array strides {[s // dtype.itemsize for s in handle.strides]}"
                          f" do not match the descriptor's {list(md.strides)} (in elements)")
        if need == 0:
            return np.zeros(1, dtype)
        return np.lib.stride_tricks.as_strided(handle, (need,), (dtype.itemsize,))

    @staticmethod
    def read(md, buf) -> np.ndarray:
        return layout.to_numpy(md, buf)

    @staticmethod
    def impls(kind: primitive_kind) -> list:
        from . import convolution, matmul, reorder
        return {primitive_kind.convolution: convolution.IMPLS,
                primitive_kind.matmul: matmul.IMPLS,
                primitive_kind.reorder: reorder.IMPLS}[kind]


CPU_RUNTIME = CpuRuntime()
