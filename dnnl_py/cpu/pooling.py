"""CPU forward pooling: one C kernel (csrc/pooling.c) over any plain layouts."""
from __future__ import annotations

from ..impl import Impl
from ..kinds import ARG_DST, ARG_SRC, algorithm
from . import _kernels

ALG_ID = {algorithm.pooling_max: _kernels.POOL_MAX,
          algorithm.pooling_avg_include_padding: _kernels.POOL_AVG_INCLUDE,
          algorithm.pooling_avg_exclude_padding: _kernels.POOL_AVG_EXCLUDE}


class PoolDirect(Impl):
    """Loops over the window's taps in the source, parallel over rows of output (OpenMP),
    vectorised over the channels (channels last) or over ow (rows of NCHW); any plain
    strides."""
    name = "cpu:direct:any"

    @classmethod
    def create(cls, rt, p, post_ops):
        return cls(rt, p, p.layouts(), post_ops)

    def kernel_problem(self) -> dict:
        p = self.problem
        return dict(alg=ALG_ID[p.alg], mb=p.mb, c=p.c,
                    id=p.i[0], ih=p.i[1], iw=p.i[2], od=p.o[0], oh=p.o[1], ow=p.o[2],
                    kd=p.k[0], kh=p.k[1], kw=p.k[2], sd=p.s[0], sh=p.s[1], sw=p.s[2],
                    dd=p.dil[0], dh=p.dil[1], dw=p.dil[2], pd=p.pl[0], ph=p.pl[1], pw=p.pl[2],
                    src_s=p.act_strides(self.descs[ARG_SRC]),
                    dst_s=p.act_strides(self.descs[ARG_DST]))

    def make_kernel(self, params: tuple):
        return _kernels.PoolKernel(self.kernel_problem())
