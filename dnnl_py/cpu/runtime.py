"""The CPU runtime: memory lives in flat numpy buffers; primitives run C kernels."""
from __future__ import annotations

import functools
import os

import numpy as np

from .. import layout
from ..memory_desc import _NUMPY_DTYPE
from ..runtime import Runtime
from . import _kernels, pages
from .impl_list import IMPLS


class CpuRuntime(Runtime):
    name = "cpu"
    tunable = True
    impl_lists = IMPLS
    # threads a kernel created now would use (part of the primitive cache key)
    threads = staticmethod(_kernels.max_threads)

    @staticmethod
    @functools.lru_cache(maxsize=None)
    def device_id() -> str:
        """The ISA the kernels were built for and the processor, for cache blob ids."""
        model = os.uname().machine  # not platform's: importing it costs a warm start 2 ms
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
        return pages.zeros(max(md.nelems_spanned(), 1), _NUMPY_DTYPE[md.data_type])

    @staticmethod
    def wrap(md, handle) -> np.ndarray:
        """A flat view of the user's numpy array (no copy): see layout.host_view."""
        return layout.host_view(md, handle)

    @staticmethod
    def read(md, buf) -> np.ndarray:
        return layout.to_numpy(md, buf)

    @staticmethod
    def read_raw(md, buf) -> np.ndarray:
        return buf  # already the flat host array

    @staticmethod
    def launch(kernel, queue, buffers: list) -> None:
        kernel(*buffers)  # runs to completion; the kernel releases the GIL while it computes

    @staticmethod
    def info_lines() -> list:
        return [f"info,cpu,runtime:OpenMP,nthr:{_kernels.max_threads()}",
                f"info,cpu,isa:{_kernels.cpu_isa()}",
                f"info,cpu,blas:{_kernels.blas_config().replace(',', ' ')},"
                f"nthr:{_kernels.blas_threads()}"]


CPU_RUNTIME = CpuRuntime()
