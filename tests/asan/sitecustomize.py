"""Loaded by every Python process of `make asan` (PYTHONPATH=tests/asan): imports
dnnl_py.cpu._kernels from DNNL_PY_ASAN_KERNELS, the AddressSanitizer build, instead of
the in-place one, so that the normal build is left alone and subprocesses the tests
start (benchdnn, the cache stress test) run the ASan build too.

pyopencl and matplotlib are hidden (their import fails, so the OpenCL tests and the
report plot skip): with libasan preloaded, a C++ exception thrown in their extension
modules (pyopencl: clGetPlatformIDs finding no platform, a build error; matplotlib: at
import) aborts the process in ASan's __cxa_throw interceptor ("CHECK failed") before
any handler runs; and PoCL's compiler and kernels are not built with ASan anyway."""
import importlib.util
import os
import sys

_PATH = os.environ.get("DNNL_PY_ASAN_KERNELS")
HIDDEN = ("pyopencl", "matplotlib")


class _AsanKernels:
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name == "dnnl_py.cpu._kernels" and _PATH:
            return importlib.util.spec_from_file_location(name, _PATH)
        if name.split(".")[0] in HIDDEN and _PATH:
            raise ModuleNotFoundError(f"{name} is hidden under make asan (tests/asan/"
                                      "sitecustomize.py)", name=name)
        return None


sys.meta_path.insert(0, _AsanKernels)
