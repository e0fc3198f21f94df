"""CPU binary: one C kernel (csrc/binary.c) over any plain layouts, src_1 broadcast by
zero strides, post-ops in the epilogue's loops."""
from __future__ import annotations

from ..impl import Decline, Impl
from ..kernel_abi import BINARY_ID
from ..kinds import ARG_DST, ARG_SRC_0, ARG_SRC_1
from ..layout import broadcast_strides, elementwise_walk
from . import _kernels
from .eltwise import decline_blocked


class BinarySimple(Impl):
    """Any plain strides; src_0 and dst may be one memory (in place)."""
    name = f"cpu:simple:{_kernels.cpu_isa()}"

    @classmethod
    def create(cls, rt, p, post_ops):
        decline_blocked(src_0=p.src0, src_1=p.src1, dst=p.dst)
        if len(post_ops) > _kernels.MAX_POST_OPS:
            raise Decline(f"{len(post_ops)} post-ops (the kernel takes at most "
                          f"{_kernels.MAX_POST_OPS})")
        return cls(rt, p, {ARG_SRC_0: p.src0, ARG_SRC_1: p.src1, ARG_DST: p.dst}, post_ops)

    def make_kernel(self, params: tuple):
        p = self.problem
        dims, (s0, s1, ds) = elementwise_walk(p.dst.dims, broadcast_strides(p.src0),
                                              broadcast_strides(p.src1), p.dst.strides)
        return _kernels.BinaryKernel(BINARY_ID[p.alg], dims, s0, s1, ds, self.post_ops)
