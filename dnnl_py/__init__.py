"""dnnl_py: oneDNN's programming model in Python, with a compiled CPU core.

engine -> stream -> memory.desc / memory -> <kind>.primitive_desc -> <kind> -> execute.
"""
from collections import namedtuple

from ._build_info import GIT_HASH, VERSION
from ._errors import error, status
from .attr import post_ops, primitive_attr
from .batch_normalization import batch_normalization_forward
from .binary import binary
from .concat import concat
from .convolution import convolution_forward
from .eltwise import eltwise_forward
from .engine import engine, stream
from .kinds import (
    ARG_ATTR_MULTIPLE_POST_OP,
    ARG_BIAS,
    ARG_DST,
    ARG_DST_0,
    ARG_DST_1,
    ARG_FROM,
    ARG_MEAN,
    ARG_MULTIPLE_DST,
    ARG_MULTIPLE_SRC,
    ARG_SCALE,
    ARG_SCRATCHPAD,
    ARG_SHIFT,
    ARG_SRC,
    ARG_SRC_0,
    ARG_SRC_1,
    ARG_SRC_2,
    ARG_TO,
    ARG_VARIANCE,
    ARG_WEIGHTS,
    ARG_WEIGHTS_0,
    ARG_WEIGHTS_1,
    ARG_WORKSPACE,
    algorithm,
    normalization_flags,
    prop_kind,
)
from .layer_normalization import layer_normalization_forward
from .matmul import matmul
from .memory import memory
from .pooling import pooling_forward
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
from .softmax import softmax_forward
from .store import BlobStore, get_cache_dir, get_cache_store, set_cache_dir, set_cache_store
from .tuning import get_cpu_tuning, set_cpu_tuning
from .verbose import get_verbose, set_verbose, set_verbose_timestamp

__version__ = VERSION


# Imported on first use, so that `import dnnl_py` loads only what a CPU primitive needs:
# ocl_interop needs pyopencl; the cache directory's code waits until a directory is set;
# the model layer (Core) until a model is read.
_LAZY = {"ocl_interop": ("ocl_interop", None), "cache": ("cache", None),
         "blob_store": ("cache", "blob_store"), "model": ("model", None),
         "Core": ("model", "Core"), "read_model": ("model", "read_model")}


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib
    module_name, attr = _LAZY[name]
    module = importlib.import_module(f".{module_name}", __name__)
    return module if attr is None else getattr(module, attr)

# oneDNN's dnnl_version_t, and the BLAS the CPU engine's GEMMs run on
version_t = namedtuple("version_t", "major minor patch hash cpu_runtime gpu_runtime blas")


def version() -> version_t:
    """dnnl_version(): this build's version and git hash; `blas` is the linked BLAS's
    own description ('OpenBLAS 0.3.x DYNAMIC_ARCH ... <core> MAX_THREADS=n')."""
    from .cpu import _kernels
    major, minor, patch = (int(x) for x in VERSION.split("."))
    return version_t(major, minor, patch, GIT_HASH, "OMP", "OCL", _kernels.blas_config())


__all__ = [
    "ARG_ATTR_MULTIPLE_POST_OP", "ARG_BIAS", "ARG_DST", "ARG_DST_0", "ARG_DST_1", "ARG_FROM",
    "ARG_MEAN", "ARG_MULTIPLE_DST", "ARG_MULTIPLE_SRC", "ARG_SCALE", "ARG_SCRATCHPAD", "ARG_SHIFT",
    "ARG_SRC", "ARG_SRC_0", "ARG_SRC_1", "ARG_SRC_2", "ARG_TO", "ARG_VARIANCE", "ARG_WEIGHTS",
    "ARG_WEIGHTS_0", "ARG_WEIGHTS_1", "ARG_WORKSPACE", "BlobStore", "Core", "algorithm",
    "batch_normalization_forward", "binary", "blob_store", "cache_stats", "clear_primitive_cache",
    "concat", "convolution_forward", "eltwise_forward", "engine", "error", "get_cache_dir",
    "get_cache_store", "get_cpu_tuning", "get_primitive_cache_capacity",
    "get_primitive_cache_size", "get_verbose", "layer_normalization_forward", "matmul", "memory",
    "normalization_flags", "pooling_forward", "post_ops", "primitive", "primitive_attr",
    "primitive_cache_stats", "primitive_desc", "prop_kind", "read_model", "reorder",
    "set_cache_dir",
    "set_cache_store", "set_cpu_tuning", "set_primitive_cache_capacity", "set_verbose",
    "set_verbose_timestamp", "softmax_forward", "status", "stream", "version",
]
