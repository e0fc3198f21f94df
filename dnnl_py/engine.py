"""dnnl::engine and dnnl::stream. An engine carries its runtime: the object that
allocates memory and lists the implementations of each primitive kind (cpu/runtime.py,
ocl/runtime.py). GPU engines are OpenCL devices (pyopencl); ocl_interop makes an engine
of any OpenCL device, PoCL's CPU device included."""
from __future__ import annotations

import enum

from . import verbose
from ._errors import invalid


def _cpu_runtime(index: int):
    if index != 0:
        raise invalid(f"engine: cpu index {index} out of range [0, 1)")
    from .cpu.runtime import CPU_RUNTIME
    return CPU_RUNTIME


def _gpu_runtime(index: int):
    devices = _gpu_devices()
    if not 0 <= index < len(devices):
        raise invalid(f"engine: gpu index {index} out of range [0, {len(devices)}): no such "
                      "OpenCL GPU device (dnnl.ocl_interop.make_engine takes any OpenCL device)")
    from .ocl.runtime import OclRuntime, cl
    return OclRuntime(devices[index], cl.Context([devices[index]]))


def _gpu_devices() -> list:
    try:
        from .ocl.runtime import gpu_devices
    except ImportError:  # no pyopencl: no GPU engines
        return []
    return gpu_devices()


class engine:
    """dnnl::engine(kind, index)."""

    class kind(enum.IntEnum):
        any = 0
        cpu = 1
        gpu = 2

    # each kind's runtime factory (index -> Runtime) and device count; a runtime module
    # is imported on first use, so a CPU-only user never imports pyopencl
    _RUNTIMES = {kind.cpu: (_cpu_runtime, lambda: 1),
                 kind.gpu: (_gpu_runtime, lambda: len(_gpu_devices()))}

    def __init__(self, akind: "engine.kind", index: int = 0):
        if akind not in engine._RUNTIMES:
            raise invalid(f"engine: kind {akind!r} is not cpu or gpu")
        factory, _ = engine._RUNTIMES[akind]
        self._init(akind, index, factory(index))

    def _init(self, akind: "engine.kind", index: int, runtime) -> None:
        self._kind, self._index, self._runtime = akind, index, runtime
        self._kind_name = akind.name  # for _cache_key(), read by every primitive descriptor
        if id(runtime) not in _ANNOUNCED:  # the verbose header lists the engines in use
            _ANNOUNCED.add(id(runtime))
            for line in runtime.info_lines():
                verbose.engine_info(line)

    @classmethod
    def _of_runtime(cls, runtime, index: int) -> "engine":
        """A gpu engine over an existing OpenCL runtime (ocl_interop.make_engine)."""
        self = cls.__new__(cls)
        self._init(engine.kind.gpu, index, runtime)
        return self

    @staticmethod
    def get_count(akind: "engine.kind") -> int:
        return engine._RUNTIMES[akind][1]() if akind in engine._RUNTIMES else 0

    def get_kind(self) -> "engine.kind":
        return self._kind

    def _cache_key(self) -> tuple:
        """What tells this engine's primitives apart from another engine's."""
        return (self._kind_name, self._index) + self._runtime.key()

    def __repr__(self) -> str:
        return f"engine({self._kind.name}, {self._index})"


_ANNOUNCED: set = set()  # ids of the runtimes whose info lines verbose has


class stream:
    """dnnl::stream. CPU primitives run to completion inside execute(); on an OpenCL
    engine a stream is an in-order command queue, execute() enqueues and wait() waits."""

    class flags(enum.IntFlag):
        in_order = 1
        out_of_order = 2
        default_flags = 1

    def __init__(self, aengine: engine, aflags: "stream.flags" = flags.default_flags):
        if not isinstance(aengine, engine):
            raise invalid(f"stream: expected an engine, got {type(aengine).__name__}")
        if aflags & stream.flags.out_of_order:
            raise invalid("stream: out-of-order streams are not supported")
        self._engine = aengine
        self._flags = aflags
        self._queue = aengine._runtime.new_queue(self)  # None on the CPU

    def get_engine(self) -> engine:
        return self._engine

    def wait(self) -> "stream":
        if self._queue is not None:
            self._queue.finish()
        return self
