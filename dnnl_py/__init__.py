"""dnnl_py: oneDNN's programming model in Python, with a compiled CPU core.

engine -> stream -> memory.desc / memory -> <kind>.primitive_desc -> <kind> -> execute.
"""
from collections import namedtuple

from ._build_info import GIT_HASH, VERSION
from ._errors import error, status
from .attr import post_ops, primitive_attr
from .cache import blob_store, get_cache_dir, set_cache_dir
from .convolution import convolution_forward
from .engine import engine, stream
from .kinds import (
    ARG_BIAS,
    ARG_DST,
    ARG_DST_0,
    ARG_FROM,
    ARG_SCRATCHPAD,
    ARG_SRC,
    ARG_SRC_0,
    ARG_SRC_1,
    ARG_TO,
    ARG_WEIGHTS,
    ARG_WEIGHTS_0,
    ARG_WEIGHTS_1,
    algorithm,
    prop_kind,
)
from .matmul import matmul
from .memory import memory
from .primitive import primitive, primitive_desc
from .primitive_cache import (
    cache_stats,
    clear_primitive_cache,
    get_primitive_cache_capacity,
    get_primitive_cache_size,
    primitive_cache_stats,
    set_primitive_cache_capacity,
)
from .reorder import reorder
from .tuning import get_cpu_tuning, set_cpu_tuning
from .verbose import get_verbose, set_verbose, set_verbose_timestamp

__version__ = VERSION


def __getattr__(name):
    """ocl_interop needs pyopencl: imported on first use, so the CPU engine runs without."""
    if name == "ocl_interop":
        import importlib
        return importlib.import_module(".ocl_interop", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

version_t = namedtuple("version_t", "major minor patch hash cpu_runtime gpu_runtime")


def version() -> version_t:
    """dnnl_version(): this build's version and git hash."""
    major, minor, patch = (int(x) for x in VERSION.split("."))
    return version_t(major, minor, patch, GIT_HASH, "OMP", "OCL")


__all__ = [
    "ARG_BIAS", "ARG_DST", "ARG_DST_0", "ARG_FROM", "ARG_SCRATCHPAD", "ARG_SRC", "ARG_SRC_0",
    "ARG_SRC_1", "ARG_TO", "ARG_WEIGHTS", "ARG_WEIGHTS_0", "ARG_WEIGHTS_1", "algorithm",
    "blob_store", "cache_stats", "clear_primitive_cache", "convolution_forward", "engine",
    "error", "get_cache_dir", "get_cpu_tuning", "get_primitive_cache_capacity",
    "get_primitive_cache_size", "get_verbose", "matmul", "memory", "post_ops", "primitive",
    "primitive_attr", "primitive_cache_stats", "primitive_desc", "prop_kind", "reorder",
    "set_cache_dir", "set_cpu_tuning", "set_primitive_cache_capacity", "set_verbose",
    "set_verbose_timestamp", "status", "stream", "version",
]
