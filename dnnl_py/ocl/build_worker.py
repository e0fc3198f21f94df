"""OpenCL program builds in a separate process: a driver's compiler that crashes, aborts
or hangs costs a dnnl.error, never the user's process.

Compiling an OpenCL program runs the driver's compiler inside the calling process (on
PoCL, LLVM, which aborts the process on some CPUs: docs/opencl.md). So the first build of
each (source, options, device, driver) happens here, in a worker process started once and
kept for the process's life: it builds the program, runs the launches the primitive
will run (PoCL compiles each kernel's work-group function at its first launch, per launch
shape) on zero-filled scratch buffers, and returns the program binary, which then carries
those work-group functions. The parent builds from that binary, the path cache blobs take:
no compiler runs in the parent.

This file is also the worker's program (run as a script: stdlib, numpy and pyopencl only,
no dnnl_py import, so the worker starts in the time pyopencl takes to import).

Messages on the worker's stdin/stdout, both ways: a 4-byte length and a JSON header, an
8-byte length and a payload (source text in, binary out). No pickle: the worker's answer
is input like any other.

A launch, as JSON: [kernel name, global size, local size, args], each arg one of
["buffer", bytes] (zero-filled scratch), ["null"], ["int32", v], ["int64", v].
"""
import json
import os
import struct
import sys

FRAME_HEADER = struct.Struct(">I")
FRAME_PAYLOAD = struct.Struct(">Q")


def write_frame(out, header: dict, payload: bytes = b"") -> None:
    text = json.dumps(header).encode()
    out.write(FRAME_HEADER.pack(len(text)) + text + FRAME_PAYLOAD.pack(len(payload)) + payload)
    out.flush()


def parse_frame(buf: bytearray):
    """(header, payload) of a complete frame at the start of buf, removed from it; None
    while buf holds less than a frame."""
    if len(buf) < FRAME_HEADER.size:
        return None
    (n,) = FRAME_HEADER.unpack_from(buf)
    if len(buf) < FRAME_HEADER.size + n + FRAME_PAYLOAD.size:
        return None
    (m,) = FRAME_PAYLOAD.unpack_from(buf, FRAME_HEADER.size + n)
    start = FRAME_HEADER.size + n + FRAME_PAYLOAD.size
    if len(buf) < start + m:
        return None
    header, payload = json.loads(bytes(buf[FRAME_HEADER.size:start - FRAME_PAYLOAD.size])), \
        bytes(buf[start:start + m])
    del buf[:start + m]
    return header, payload


def _requests(fd: int):
    """The frames arriving on fd, until it closes."""
    buf = bytearray()
    while True:
        frame = parse_frame(buf)
        if frame is not None:
            yield frame
            continue
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return
        buf += chunk


def run_launches(cl, np, context, queue, program, launches: list) -> None:
    """Enqueues each launch on scratch buffers and waits: what makes PoCL compile the
    work-group functions a later launch of the same shapes needs. The in-process build
    path runs it too."""
    scalars = {"int32": np.int32, "int64": np.int64}
    for name, global_size, local_size, args in launches:
        values = []
        for arg in args:
            if arg[0] == "buffer":
                buf = cl.Buffer(context, cl.mem_flags.READ_WRITE, max(int(arg[1]), 4))
                cl.enqueue_fill_buffer(queue, buf, np.uint8(0), 0, buf.size)
                values.append(buf)
            elif arg[0] == "null":
                values.append(None)
            else:
                values.append(scalars[arg[0]](arg[1]))
        cl.Kernel(program, name)(queue, tuple(global_size),
                                 None if local_size is None else tuple(local_size), *values)
    queue.finish()


def find_device(cl, platform: str, name: str, driver: str, ordinal: int):
    """The `ordinal`-th device with this platform, name and driver, in enumeration order."""
    found = [d for p in cl.get_platforms() for d in p.get_devices()
             if (p.name.strip(), d.name.strip(), d.driver_version.strip()) ==
             (platform, name, driver)]
    if ordinal >= len(found):
        raise LookupError(f"device '{name}' of '{platform}' (driver {driver}) is not "
                          "visible to the build worker")
    return found[ordinal]


def _serve(fd: int, out) -> None:
    import numpy as np
    import pyopencl as cl
    write_frame(out, {"ready": True})
    contexts = {}
    for header, payload in _requests(fd):
        try:
            where = (header["platform"], header["device"], header["driver"], header["ordinal"])
            if where not in contexts:
                device = find_device(cl, *where)
                context = cl.Context([device])
                contexts[where] = device, context, cl.CommandQueue(context, device)
            device, context, queue = contexts[where]
            program = cl.Program(context, payload.decode()).build(
                options=header["options"], devices=[device], cache_dir=False)
            run_launches(cl, np, context, queue, program, header["launches"])
            (binary,) = program.get_info(cl.program_info.BINARIES)
            write_frame(out, {"ok": True}, bytes(binary))
        except Exception as e:  # a build error is an answer; only a crash ends the worker
            write_frame(out, {"ok": False, "message": f"{type(e).__name__}: {e}"})


def main() -> None:
    # The protocol owns the original stdout; anything the driver prints goes to stderr.
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    _serve(sys.stdin.fileno(), out)


if __name__ == "__main__":
    main()
