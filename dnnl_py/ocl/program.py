"""OpenCL programs: from source (first time: in the build worker, see build_worker.py), from
a binary (cache blobs and the worker's answers), and their binaries.

    program, binary = build(device, context, "igemm.cl", options, launches, what)

The first build of a (source, options, device, driver) runs in the build worker, which
returns the binary after `launches`; the program is then made here from that binary. A
worker that crashes, aborts or runs past DNNL_PY_OCL_BUILD_TIMEOUT seconds (default 60)
gives a dnnl.error (runtime_error) naming the kernel and the compiler's last lines, and
the combination is not tried again in this process. set_build_isolation(False), or
DNNL_PY_OCL_BUILD_ISOLATION=0, builds in this process instead (no worker; a compiler
crash then takes the process with it).
"""
from __future__ import annotations

import atexit
import functools
import hashlib
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pyopencl as cl

from .._errors import error, invalid, status
from . import build_worker

KERNELS = Path(__file__).parent / "kernels"
# mad: a*b+c in one instruction (PoCL does not inline fma(); measured 2x on sgemm)
BUILD_OPTIONS = "-cl-mad-enable"
DEFAULT_TIMEOUT_S = 60.0
LOG_LINES = 12  # of the worker's stderr, in the error of a build that killed it


@functools.lru_cache(maxsize=None)
def source(*names: str) -> str:
    """The kernel files' text, concatenated (shared macros first)."""
    return "\n".join((KERNELS / name).read_text() for name in names)


def _env_flag(name: str, default: bool) -> bool:
    value = os.environ.get(name, "").strip()
    if value in ("", "0", "1"):
        return default if value == "" else value == "1"
    warnings.warn(f"{name}={value!r} ignored: expected 0 or 1", stacklevel=3)
    return default


def _timeout_s() -> float:
    value = os.environ.get("DNNL_PY_OCL_BUILD_TIMEOUT", "").strip()
    try:
        seconds = float(value) if value else DEFAULT_TIMEOUT_S
        if seconds > 0:
            return seconds
    except ValueError:
        pass
    warnings.warn(f"DNNL_PY_OCL_BUILD_TIMEOUT={value!r} ignored: expected seconds > 0",
                  stacklevel=3)
    return DEFAULT_TIMEOUT_S


class _State:
    isolated = _env_flag("DNNL_PY_OCL_BUILD_ISOLATION", True)
    failed: dict = {}  # build key -> the error it gave: not retried in this process


def set_build_isolation(enabled: bool) -> None:
    """Whether first builds run in the build worker (the default) or in this process."""
    _State.isolated = bool(enabled)


def get_build_isolation() -> bool:
    return _State.isolated


def build(device, context, text: str, options: str, launches: list, what: str):
    """(program, binary) for `text`, its work-group functions compiled for `launches`
    (build_worker.run_launches' format). The binary is None when built in this process
    (reading it costs a compile on PoCL: binary() does it on demand)."""
    options = f"{BUILD_OPTIONS} {options}"
    if not _State.isolated:
        try:
            program = cl.Program(context, text).build(options=options, devices=[device],
                                                      cache_dir=False)
        except cl.Error as e:
            raise error(status.runtime_error, f"{what}: OpenCL build failed: {e}") from None
        queue = cl.CommandQueue(context, device)
        build_worker.run_launches(cl, np, context, queue, program, launches)
        return program, None
    key = hashlib.sha256("\0".join([*_where(device), text, options]).encode()).digest()
    if key in _State.failed:
        raise error(status.runtime_error, f"{what}: not built again, an earlier build in "
                    f"this process failed: {_State.failed[key]}")
    try:
        data = _WORKER.build(device, text, options, launches, what)
    except error as e:
        _State.failed[key] = str(e)
        raise
    try:
        return from_binary(context, device, data, options, what), data
    except error as e:
        raise error(status.runtime_error, f"{what}: the build worker's binary: {e}") from None


def from_binary(context, device, data: bytes, options: str, what: str):
    """A program from a device binary; one the driver rejects is invalid_arguments."""
    try:
        program = cl.Program(context, [device], [data])
        return program.build(options=_option_list(f"{BUILD_OPTIONS} {options}"),
                             devices=[device], cache_dir=False)
    except (cl.Error, RuntimeError, ValueError) as e:
        raise invalid(f"{what}: the driver rejected the program binary ({e})") from None


def _option_list(options: str):
    """The options as pyopencl's list: given a string, it splits it with shlex, ~1 ms for
    a GEMM's ~90 macros (a fifth of making a program from its binary; measured on a
    ResNet-50 cache hit). Ours are `-DNAME=number` tokens, which whitespace splits
    the same way; a string with quotes or backslashes is left to shlex."""
    if any(c in options for c in "\"'\\"):
        return options
    return options.split()


def binary(program) -> bytes:
    """The program's device binary (PoCL: includes work-group functions of past launches)."""
    (data,) = program.get_info(cl.program_info.BINARIES)
    return bytes(data)


@functools.lru_cache(maxsize=None)
def _where(device) -> tuple:
    """What the worker needs to find `device`: platform, name, driver, ordinal."""
    ident = (device.platform.name.strip(), device.name.strip(), device.driver_version.strip())
    same = [d for p in cl.get_platforms() for d in p.get_devices()
            if (p.name.strip(), d.name.strip(), d.driver_version.strip()) == ident]
    ordinal = next((i for i, d in enumerate(same) if d.int_ptr == device.int_ptr), None)
    if ordinal is None:
        raise error(status.runtime_error, f"device '{ident[1]}' is not a root device of its "
                    "platform: the build worker cannot find it (set_build_isolation(False) "
                    "builds in this process)")
    return (*ident, str(ordinal))


# Runs the worker script without its own folder (or the current one) first on sys.path: a
# module there (dnnl_py/ocl/*.py, a user's copy.py) would shadow the standard library's.
_BOOT = "import runpy, sys; del sys.path[0]; runpy.run_path(sys.argv[1], run_name='__main__')"


class _Worker:
    """The build worker process: started on first use, again after a crash or a timeout,
    and in a forked child (the parent's pipes are not its to use)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._proc = self._log = None
        self._pid = None

    def build(self, device, text: str, options: str, launches: list, what: str) -> bytes:
        platform, name, driver, ordinal = _where(device)
        header = {"platform": platform, "device": name, "driver": driver,
                  "ordinal": int(ordinal), "options": options, "launches": launches}
        with self._lock:
            deadline = time.monotonic() + _timeout_s()
            if self._proc is None or self._pid != os.getpid() or self._proc.poll() is not None:
                self._start(deadline, what)
            log_at = self._log.seek(0, os.SEEK_END)
            try:
                build_worker.write_frame(self._proc.stdin, header, text.encode())
            except OSError:
                pass  # died meanwhile: the read below says how
            answer, data = self._read(deadline, what, log_at)
        if not answer.get("ok"):
            raise error(status.runtime_error,
                        f"{what}: OpenCL build failed: {answer.get('message', '?')}")
        return data

    def _start(self, deadline: float, what: str) -> None:
        self._log = tempfile.TemporaryFile()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        self._proc = subprocess.Popen([sys.executable, "-c", _BOOT, build_worker.__file__],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=self._log, env=env, close_fds=True)
        self._pid = os.getpid()
        answer, _ = self._read(deadline, what, 0)
        if not answer.get("ready"):
            self._fail(what, "the build worker did not start", 0)

    def _read(self, deadline: float, what: str, log_at: int) -> tuple:
        """The next frame, or dnnl.error when the worker dies or the deadline passes."""
        fd, buf = self._proc.stdout.fileno(), bytearray()
        while True:
            frame = build_worker.parse_frame(buf)
            if frame is not None:
                return frame
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                self._fail(what, f"the OpenCL compiler did not finish in {_timeout_s():g} s "
                           "(DNNL_PY_OCL_BUILD_TIMEOUT)", log_at)
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                self._proc.wait()
                code = self._proc.returncode
                how = (f"killed by {signal.Signals(-code).name}" if code < 0
                       else f"exit status {code}")
                self._fail(what, f"the build worker died ({how})", log_at)
            buf += chunk

    def _fail(self, what: str, why: str, log_at: int):
        """Ends the worker (the next build starts another) and raises with its last lines."""
        self._proc.kill()
        self._proc.wait()
        self._proc.stdin.close()
        self._proc.stdout.close()
        self._proc = None
        self._log.seek(log_at)
        lines = self._log.read().decode(errors="replace").strip().splitlines()[-LOG_LINES:]
        self._log.close()
        tail = "\n".join(lines) if lines else "(nothing)"
        raise error(status.runtime_error, f"{what}: {why}; the compiler's last lines:\n{tail}")


    def close(self) -> None:
        """At exit: the worker ends when its input closes (its own, not a forked parent's)."""
        if self._proc is not None and self._pid == os.getpid():
            self._proc.stdin.close()
            try:
                self._proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc.stdout.close()
            self._log.close()
            self._proc = None


_WORKER = _Worker()
atexit.register(_WORKER.close)
