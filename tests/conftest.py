import os
import pathlib

# The OpenCL tests see a cold compiler: a warm PoCL kernel cache or pyopencl program
# cache on a developer's machine would hide a compiler crash that CI then meets.
os.environ.setdefault("POCL_KERNEL_CACHE", "0")
os.environ.setdefault("PYOPENCL_NO_CACHE", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import dnnl_py as dnnl  # noqa: E402

# A failure the cache would swallow fails the test instead (tests of those failures
# set it to 0 with the tolerant_cache fixture).
os.environ.setdefault("DNNL_PY_CACHE_FAILURE_FATAL", "1")

# The benchdnn driver's shape files (ResNet-50, BERT, transformer), shipped in the package:
# the tests read them from there, not from outside the repository.
INPUTS = pathlib.Path(dnnl.__file__).resolve().parent / "benchdnn" / "inputs"


@pytest.fixture(scope="session")
def eng():
    return dnnl.engine(dnnl.engine.kind.cpu, 0)


@pytest.fixture(scope="session")
def strm(eng):
    return dnnl.stream(eng)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def _reset_caches():
    dnnl.clear_primitive_cache()
    dnnl.set_cache_dir(None)
    dnnl.set_cpu_tuning(False)


@pytest.fixture
def clean_caches():
    """An empty primitive cache, no cache directory and tuning off, before and after."""
    _reset_caches()
    yield
    _reset_caches()


def impl_lists() -> list:
    """The engines' implementation lists ({kind: classes}): the CPU's, and the OpenCL
    engine's where pyopencl is installed."""
    from dnnl_py.cpu.impl_list import IMPLS as cpu
    try:
        from dnnl_py.ocl.impl_list import IMPLS as ocl
    except ImportError:
        return [cpu]
    return [cpu, ocl]


@pytest.fixture
def only_impl(monkeypatch):
    """only_impl(cls): restrict the implementation list that holds cls to cls alone."""
    def restrict(cls):
        for lists in impl_lists():
            for kind, classes in lists.items():
                if cls in classes:
                    monkeypatch.setitem(lists, kind, [cls])
    return restrict


def ocl_device():
    """The first OpenCL device (PoCL's CPU device where there is no GPU), or None."""
    try:
        import pyopencl as cl
        return next((d for p in cl.get_platforms() for d in p.get_devices()), None)
    except Exception:  # no pyopencl, no ICD loader, no platform
        return None


@pytest.fixture(scope="session")
def ocl():
    """(engine, stream) of the OpenCL engine; the test is skipped without a device."""
    device = ocl_device()
    if device is None:
        pytest.skip("no OpenCL device (pyopencl with PoCL comes with `make test`)")
    import pyopencl as cl
    eng = dnnl.ocl_interop.make_engine(device, cl.Context([device]))
    return eng, dnnl.stream(eng)


@pytest.fixture(params=["cpu", "ocl"])
def engines(request, eng, strm):
    """(engine, stream) of each engine in turn: the CPU's and the OpenCL one."""
    return (eng, strm) if request.param == "cpu" else request.getfixturevalue("ocl")


@pytest.fixture
def engine_for(request, eng, strm, only_impl):
    """engine_for(impl) -> (engine, stream) that runs `impl`: the OpenCL engine or the CPU
    engine, with the kind's implementation list restricted to `impl`."""
    def pick(impl):
        only_impl(impl)
        return request.getfixturevalue("ocl") if impl.name.startswith("ocl:") else (eng, strm)
    return pick
