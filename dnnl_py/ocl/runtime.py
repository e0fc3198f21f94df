"""The OpenCL runtime: an engine's device and context, memory as cl.Buffer objects, and
the programs every primitive builds (from source, or from a cache blob's binaries).

Engine set-up builds the utility program (the strided copy that reorders run on),
runs it once on a probe that checks the device computes it right, and keeps the
result; its cache blob holds the program binary taken after that launch, since PoCL
compiles a kernel's work-group function lazily, at the first launch.
Programs are built with pyopencl's disk cache off: the library's blobs are the only
cache in play, so a cache miss costs what it really costs.
"""
from __future__ import annotations

import weakref

import numpy as np
import pyopencl as cl

from .. import blob, layout
from .._build_info import GIT_HASH, VERSION
from .._errors import error, invalid, status
from ..memory_desc import _NUMPY_DTYPE
from ..runtime import Runtime
from . import program, strided_copy
from .impl_list import IMPLS


def device_identity(device) -> dict:
    """What a program binary (and an engine blob) is valid for."""
    return {"library": f"dnnl_py {VERSION}", "git hash": GIT_HASH,
            "platform": device.platform.name.strip(), "device": device.name.strip(),
            "driver": device.driver_version.strip()}


def gpu_devices() -> list:
    """OpenCL GPU devices of every platform, in platform order (engine(gpu, i))."""
    try:
        platforms = cl.get_platforms()
    except cl.Error:
        return []
    found = []
    for platform in platforms:
        try:
            found += platform.get_devices(device_type=cl.device_type.GPU)
        except cl.Error:  # a platform without GPUs raises DEVICE_NOT_FOUND
            continue
    return found


class OclRuntime(Runtime):
    """One engine's OpenCL state: device, context, a queue for transfers and the
    utility program."""
    name = "ocl"
    impl_lists = IMPLS

    def __init__(self, device, context, cache_blob=None):
        if not isinstance(device, cl.Device):
            raise invalid(f"ocl engine: expected a pyopencl.Device, got {type(device).__name__}")
        if not isinstance(context, cl.Context):
            raise invalid(f"ocl engine: expected a pyopencl.Context, got "
                          f"{type(context).__name__}")
        if device.int_ptr not in (d.int_ptr for d in context.devices):
            raise invalid(f"ocl engine: device '{device.name}' is not in the context")
        self.device, self.context = device, context
        self.identity = device_identity(device)
        self.queue = cl.CommandQueue(context, device)
        self._streams = weakref.WeakSet()  # their queues are finished before a read
        self.source = "cache_miss"
        if cache_blob is not None:
            self.util, self._util_binary = self._read_blob(cache_blob)
            self.source = "from_cache_blob"
        else:
            self.util, self._util_binary = program.build(
                device, context, program.source("util.cl"), "", strided_copy.WARM_UP,
                "ocl engine")
        self._copy = cl.Kernel(self.util, "copy_strided")
        if cache_blob is None:
            self._probe()

    # engine set-up and its cache blob --------------------------------------------------

    def _probe(self) -> None:
        """Runs the copy kernel on a reversal and checks the result: the first launch
        also makes PoCL compile its work-group function, which the blob then keeps."""
        values = np.arange(100, dtype=np.float32)
        mf = cl.mem_flags
        src = cl.Buffer(self.context, mf.READ_ONLY | mf.COPY_HOST_PTR, hostbuf=values)
        dst = cl.Buffer(self.context, mf.READ_WRITE, values.nbytes)
        self.copier(([100], [-1], [1]))(self.queue, src, dst, src_offset=99)
        out = np.empty_like(values)
        cl.enqueue_copy(self.queue, out, dst)
        if not np.array_equal(out, values[::-1]):
            raise error(status.runtime_error, f"ocl engine: device '{self.device.name}' "
                        "failed the copy probe")

    def info_lines(self) -> list:
        """The verbose header's line: which device code this engine gets. On PoCL the
        LLVM target closes the device version ("HSTR: pthread-x86_64-...-znver3")."""
        d = self.device
        target = d.version.rsplit("-", 1)[-1] if "HSTR:" in d.version else "n/a"
        return [f"info,gpu,engine,backend:OpenCL,name:{d.name.strip()},"
                f"driver_version:{d.driver_version.strip()},platform:{d.platform.name.strip()},"
                f"llvm_target:{target},vector_width:{d.native_vector_width_float},"
                "kernel_vectors:16 (built-ins 8-wide)"]

    def blob_id(self) -> bytes:
        return blob.identity_digest(self.identity)

    def cache_blob(self) -> bytes:
        records = {name: value.encode() for name, value in self.identity.items()}
        if self._util_binary is None:
            self._util_binary = program.binary(self.util)
        records["utility program"] = self._util_binary
        return blob.pack(blob.Kind.engine, self.blob_id(), records)

    def _read_blob(self, data):
        what = "ocl engine cache blob"
        digest, records = blob.unpack(data, blob.Kind.engine, what)
        blob.check_identity(records, self.identity, what)
        if digest != self.blob_id():
            raise invalid(f"{what}: made for another engine (id mismatch)")
        data = blob.get(records, "utility program", what)
        return program.from_binary(self.context, self.device, data, "", what), data

    # what every runtime offers (see cpu/runtime.py) ----------------------------------

    @staticmethod
    def threads() -> int:
        return 1  # the device schedules its own work; not part of a kernel's identity

    def device_id(self) -> str:
        i = self.identity
        return f"{i['platform']} / {i['device']} / driver {i['driver']}"

    def key(self) -> tuple:
        """Tells this engine's primitives apart: programs belong to one context."""
        return (self.name, self.context.int_ptr, self.device.int_ptr)

    def new_queue(self, owner):
        """An in-order queue for the stream `owner`."""
        self._streams.add(owner)
        return cl.CommandQueue(self.context, self.device)

    def adopt_queue(self, queue, owner):
        if not isinstance(queue, cl.CommandQueue):
            raise invalid(f"ocl stream: expected a pyopencl.CommandQueue, got "
                          f"{type(queue).__name__}")
        if queue.context.int_ptr != self.context.int_ptr or \
                queue.device.int_ptr != self.device.int_ptr:
            raise invalid("ocl stream: the queue belongs to another context or device")
        if queue.properties & cl.command_queue_properties.OUT_OF_ORDER_EXEC_MODE_ENABLE:
            raise invalid("ocl stream: the queue is out of order; primitives need in-order")
        self._streams.add(owner)
        return queue

    def alloc(self, md):
        return self.zeros(md.get_size())

    def empty(self, nbytes: int):
        """A buffer of at least nbytes (and 4), left as the driver gives it."""
        return cl.Buffer(self.context, cl.mem_flags.READ_WRITE, max(nbytes, 4))

    def zeros(self, nbytes: int):
        """A zero-filled buffer of at least nbytes (and 4)."""
        buf = self.empty(nbytes)
        cl.enqueue_fill_buffer(self.queue, buf, np.float32(0), 0, buf.size).wait()
        return buf

    def wrap(self, md, handle):
        """A cl.Buffer of this context and at least the descriptor's size, as it is; or
        a numpy array (see cpu/runtime.py's wrap for the shapes it takes), copied."""
        if isinstance(handle, cl.Buffer):
            if handle.context.int_ptr != self.context.int_ptr:
                raise invalid("memory: the buffer belongs to another OpenCL context")
            if handle.size < md.get_size():
                raise invalid(f"memory: buffer of {handle.size} bytes is smaller than the "
                              f"descriptor's {md.get_size()}")
            return handle
        if not isinstance(handle, np.ndarray):
            raise invalid(f"memory: handle must be a pyopencl.Buffer or a numpy array, got "
                          f"{type(handle).__name__}")
        flat = np.ascontiguousarray(layout.host_view(md, handle)[:max(md.nelems_spanned(), 1)])
        return cl.Buffer(self.context, cl.mem_flags.READ_WRITE | cl.mem_flags.COPY_HOST_PTR,
                         hostbuf=flat)

    def wrap_constant(self, md, handle):
        """On a device that shares memory with the host (PoCL's CPU device, integrated
        GPUs: CL_DEVICE_HOST_UNIFIED_MEMORY) a buffer over the host bytes themselves
        (CL_MEM_USE_HOST_PTR, read-only): no copy of a model's ~100 MB of weights at
        load. Elsewhere, or for bytes that are not a writable, contiguous array (the
        flag takes a host pointer the driver may write through), a copy as wrap makes."""
        if isinstance(handle, np.ndarray) and self.device.host_unified_memory:
            flat = layout.host_view(md, handle)[:max(md.nelems_spanned(), 1)]
            if flat.flags.c_contiguous and flat.flags.writeable:
                return cl.Buffer(self.context, cl.mem_flags.READ_ONLY |
                                 cl.mem_flags.USE_HOST_PTR, hostbuf=flat)
        return self.wrap(md, handle)

    def read(self, md, buf) -> np.ndarray:
        """The memory's contents once the work queued on every stream has finished."""
        return layout.to_numpy(md, self.read_raw(md, buf))

    def read_raw(self, md, buf) -> np.ndarray:
        for owner in list(self._streams):
            owner._queue.finish()
        host = np.empty(max(md.nelems_spanned(), 1), _NUMPY_DTYPE[md.data_type])
        cl.enqueue_copy(self.queue, host, buf, is_blocking=True)
        return host

    @staticmethod
    def launch(kernel, queue, buffers: list) -> None:
        kernel(queue, *buffers)  # enqueues; stream.wait() waits

    # the utility kernels -----------------------------------------------------------

    def copier(self, plan):
        """A callable (queue, src, dst) that enqueues dst[...] = src[...] over a copy plan
        (dims, src strides, dst strides; outermost first, as layout.copy_plan gives them;
        a negative stride needs src_offset; offsets in elements). The plan goes to the
        device once, here."""
        table, ndims, total = strided_copy.plan_table(plan)
        mf = cl.mem_flags
        plan_buf = cl.Buffer(self.context, mf.READ_ONLY | mf.COPY_HOST_PTR, hostbuf=table)
        size = -(-total // strided_copy.LOCAL) * strided_copy.LOCAL

        def run(queue, src, dst, src_offset: int = 0, dst_offset: int = 0):
            if total:
                self._copy(queue, (size,), (strided_copy.LOCAL,), src, dst, plan_buf,
                           np.int32(ndims), np.int64(total), np.int64(src_offset),
                           np.int64(dst_offset))
        return run
