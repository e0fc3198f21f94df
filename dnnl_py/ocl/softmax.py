"""OpenCL softmax (kernels/norm.cl, which layer and batch normalization share): scalar kernels, one
work-item per row or channel, over any plain layout with at most MAX_DIMS parallel and
MAX_DIMS reduced dims. Correctness first: these are the engine's references.

Creation builds the program with the real launch shape (ocl/program.py's build worker),
so that PoCL compiles the work-group function then; a cache blob carries the binary."""
from __future__ import annotations

import functools

import pyopencl as cl

from ..impl import Decline
from ..kinds import ARG_DST, ARG_SRC
from . import program as ocl_program
from .program_impl import OclProgramImpl

MAX_DIMS = 6
LOCAL = 16  # work-items per work-group


class _Kernel:
    """One launch of `name` over the problem's points; kernel(queue, *buffers)."""

    def __init__(self, name: str, points: int, args: tuple):
        self.name, self.args, self.program, self._binary = name, args, None, None
        self.grid = (-(-points // LOCAL) * LOCAL,)

    def launches(self, sizes: dict) -> list:
        if 0 in self.grid:
            return []
        return [[self.name, list(self.grid), [LOCAL],
                 [["null"] if sizes.get(a) is None else ["buffer", sizes[a]]
                  for a in self.args]]]

    def bind(self, program, binary) -> "_Kernel":
        self.program, self._binary = program, binary
        self.kernel = cl.Kernel(program, self.name)
        return self

    def __call__(self, queue, *buffers):
        if 0 not in self.grid:
            self.kernel(queue, self.grid, (LOCAL,), *buffers)

    def binary(self) -> bytes:
        if self._binary is None:
            self._binary = ocl_program.binary(self.program)
        return self._binary


class _OclReduce(OclProgramImpl):
    reference = True
    program_sources = ("norm.cl",)
    kernel_name = "?"
    kernel_args: tuple = ()

    @classmethod
    def create(cls, rt, p, post_ops):
        if post_ops:
            raise Decline(f"{len(post_ops)} post-ops (none supported)")
        impl = cls(rt, p, p.layouts(), post_ops)
        s = impl.split
        if len(s.par) > MAX_DIMS or len(s.red) > MAX_DIMS:
            raise Decline(f"{len(s.par)} parallel and {len(s.red)} reduced dims (at most "
                          f"{MAX_DIMS} each)")
        return impl

    @functools.cached_property
    def split(self):
        return self.problem.split(self.descs)

    def _kind_macros(self) -> dict:
        raise NotImplementedError

    @functools.cached_property
    def macros(self) -> dict:
        s = self.split
        m = {"POINTS": s.points, "LENGTH": s.length, **self._kind_macros()}
        par = list(s.par) + [(1, 0, 0, 0, 0)] * (MAX_DIMS - len(s.par))
        red = list(s.red) + [(1, 0, 0, 0)] * (MAX_DIMS - len(s.red))
        for i, (dim, src, dst, stat, ss) in enumerate(par):
            m.update({f"P{i}_DIM": dim, f"P{i}_SRC": src, f"P{i}_DST": dst,
                      f"P{i}_STAT": stat, f"P{i}_SS": ss})
        for i, (dim, src, dst, ss) in enumerate(red):
            m.update({f"R{i}_DIM": dim, f"R{i}_SRC": src, f"R{i}_DST": dst, f"R{i}_SS": ss})
        return m

    def _options(self) -> str:
        return " ".join(f"-D{k}={v}" for k, v in self.macros.items())

    def _new_kernel(self) -> _Kernel:
        return _Kernel(self.kernel_name, self.split.points, self.kernel_args)

    def program_options(self, params: tuple) -> str:
        return self._options()

    def new_kernel(self, params: tuple) -> _Kernel:
        return self._new_kernel()

    def launch_args(self) -> tuple:
        return ({a: md.get_size() for a, md in self.descs.items() if md is not None},)


class SoftmaxRef(_OclReduce):
    name = "ocl:softmax:ref"
    kernel_name = "softmax_fwd"
    kernel_args = (ARG_SRC, ARG_DST)

    def _kind_macros(self) -> dict:
        return {"LOG_SOFTMAX": int(self.problem.log)}

