"""OpenCL forward pooling: one scalar kernel (kernels/pool.cl), specialised per problem
by -D macros, one work-item per output element. Built as ocl/gemm.py builds its
programs: in the build worker, launched once with the real launch shape, and the program
binary kept in the cache blob."""
from __future__ import annotations

import pyopencl as cl

from ..kinds import ARG_DST, ARG_SRC, algorithm
from . import program as ocl_program
from .program_impl import OclProgramImpl

LOCAL = 64  # work-items per work-group
ALG_ID = {algorithm.pooling_max: 0, algorithm.pooling_avg_include_padding: 1,
          algorithm.pooling_avg_exclude_padding: 2}


class PoolKernel:
    def __init__(self, total: int):
        self.grid = (-(-total // LOCAL) * LOCAL,)
        self.total = total

    def launches(self, src_bytes: int, dst_bytes: int) -> list:
        if not self.total:
            return []
        return [["pool_fwd", list(self.grid), [LOCAL],
                 [["buffer", src_bytes], ["buffer", dst_bytes]]]]

    def bind(self, program, binary) -> "PoolKernel":
        self.program, self._binary = program, binary
        self.kernel = cl.Kernel(program, "pool_fwd")
        return self

    def __call__(self, queue, src, dst):
        if self.total:
            self.kernel(queue, self.grid, (LOCAL,), src, dst)

    def binary(self) -> bytes:
        if self._binary is None:
            self._binary = ocl_program.binary(self.program)
        return self._binary


class PoolRef(OclProgramImpl):
    """Any plain layouts; scalar loops over the window's taps in the source."""
    name = "ocl:ref:any"
    reference = True
    program_sources = ("pool.cl",)

    @classmethod
    def create(cls, rt, p, post_ops):
        return cls(rt, p, p.layouts(), post_ops)

    def _options(self) -> str:
        p, d = self.problem, self.descs
        # no channels launches nothing; C 1 keeps the kernel's index divisions defined
        m = {"ALG": ALG_ID[p.alg], "MB": p.mb, "C": max(p.c, 1)}
        for name, md in (("SRC", d[ARG_SRC]), ("DST", d[ARG_DST])):
            m.update(zip((f"{name}_{x}" for x in "NCDHW"), p.act_strides(md)))
        for j, axis in enumerate("DHW"):
            m.update({f"I{axis}": p.i[j], f"O{axis}": p.o[j], f"K{axis}": p.k[j],
                      f"S{axis}": p.s[j], f"D{axis}": p.dil[j] + 1, f"P{axis}": p.pl[j]})
        return " ".join(f"-D{name}={value}" for name, value in m.items())

    def _kernel(self) -> PoolKernel:
        p = self.problem
        return PoolKernel(p.mb * p.c * p.o[0] * p.o[1] * p.o[2])

    def program_options(self, params: tuple) -> str:
        return self._options()

    def new_kernel(self, params: tuple) -> PoolKernel:
        return self._kernel()

    def launch_args(self) -> tuple:
        return self.descs[ARG_SRC].get_size(), self.descs[ARG_DST].get_size()
