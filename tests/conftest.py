import os
import pathlib

import numpy as np
import pytest

import dnnl_py as dnnl

# A failure the cache would swallow fails the test instead (tests of those failures
# set it to 0 with the tolerant_cache fixture).
os.environ.setdefault("DNNL_PY_CACHE_FAILURE_FATAL", "1")

SHARED = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "benchdnn"


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


@pytest.fixture
def only_impl(monkeypatch):
    """only_impl(module, cls): restrict the CPU implementation list of a kind to one."""
    def restrict(module, cls):
        monkeypatch.setattr(module, "IMPLS", [cls])
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
    """engine_for(module, impl) -> (engine, stream) that runs `impl`: the OpenCL engine
    for an ocl: implementation, else the CPU engine restricted to that implementation."""
    def pick(module, impl):
        if impl.name.startswith("ocl:"):
            return request.getfixturevalue("ocl")
        only_impl(module, impl)
        return eng, strm
    return pick
