"""dnnl::ocl_interop: engines, streams and memory over the user's pyopencl objects, and
the engine's cache blob (the utility program, built and probed once per device).

    eng = ocl_interop.make_engine(device, context)           # builds and probes
    key = ocl_interop.get_engine_cache_blob_id(device)
    value = ocl_interop.get_engine_cache_blob(eng)
    eng2 = ocl_interop.make_engine(device, context, value)   # from the program binary

With a cache directory set (dnnl.set_cache_dir), make_engine looks the blob up there
and stores it, as primitive creation does.

Programs are first built in a separate build worker process, so that a driver's compiler
that crashes or hangs gives a dnnl.error instead of ending this process;
set_build_isolation(False) (or DNNL_PY_OCL_BUILD_ISOLATION=0) builds in this process.
"""
from __future__ import annotations

from typing import Optional

from . import blob
from ._errors import error, invalid
from .engine import engine, stream
from .memory import memory
from .memory_desc import desc
from .ocl.program import get_build_isolation, set_build_isolation  # noqa: F401
from .ocl.runtime import OclRuntime, cl, device_identity
from .store import active_store


def _ocl_engine(aengine, what: str) -> OclRuntime:
    if not isinstance(aengine, engine) or not isinstance(aengine._runtime, OclRuntime):
        raise invalid(f"{what}: expected an OpenCL engine, got {aengine!r}")
    return aengine._runtime


def make_engine(device, context, cache_blob: Optional[bytes] = None) -> engine:
    """A gpu-kind engine on `device` of `context`; from `cache_blob` (an earlier
    get_engine_cache_blob() of the same device, driver and build) it skips the set-up."""
    store = active_store() if cache_blob is None else None
    if store is not None and isinstance(device, cl.Device):
        key = get_engine_cache_blob_id(device)
        data = store.get(key)
        if data is not None:
            try:
                return engine._of_runtime(OclRuntime(device, context, data), 0)
            except error as e:
                store.discard(key, str(e))
        runtime = OclRuntime(device, context)
        store.put(key, runtime.cache_blob())
        return engine._of_runtime(runtime, 0)
    return engine._of_runtime(OclRuntime(device, context, cache_blob), 0)


def get_engine_cache_blob_id(device) -> bytes:
    """32 bytes naming the platform, device, driver version and library build."""
    if not isinstance(device, cl.Device):
        raise invalid(f"get_engine_cache_blob_id: expected a pyopencl.Device, got "
                      f"{type(device).__name__}")
    return blob.identity_digest(device_identity(device))


def get_engine_cache_blob(aengine: engine) -> bytes:
    return _ocl_engine(aengine, "get_engine_cache_blob").cache_blob()


def get_device(aengine: engine):
    return _ocl_engine(aengine, "get_device").device


def get_context(aengine: engine):
    return _ocl_engine(aengine, "get_context").context


def make_stream(aengine: engine, queue) -> stream:
    """A stream over the user's in-order queue of the engine's context and device."""
    runtime = _ocl_engine(aengine, "make_stream")
    s = stream.__new__(stream)
    s._engine, s._flags = aengine, stream.flags.in_order
    s._queue = runtime.adopt_queue(queue, s)
    return s


def get_command_queue(astream: stream):
    _ocl_engine(astream.get_engine(), "get_command_queue")
    return astream._queue


def make_memory(md: desc, aengine: engine, buffer) -> memory:
    """A memory over the user's cl.Buffer (no copy); it must hold md.get_size() bytes."""
    _ocl_engine(aengine, "make_memory")
    if not isinstance(buffer, cl.Buffer):
        raise invalid(f"make_memory: expected a pyopencl.Buffer, got {type(buffer).__name__}")
    return memory(md, aengine, buffer)


def get_mem_object(mem: memory):
    _ocl_engine(mem.get_engine(), "get_mem_object")
    return mem.get_data_handle()
