"""OpenCL binary: one work-item per element over any plain strides, src_1 broadcast by
zero strides, post-ops from post_ops.cl (kernels/walk.cl, binary.cl)."""
from __future__ import annotations

from ..kernel_abi import BINARY_ID
from ..kinds import ARG_DST, ARG_SRC_0, ARG_SRC_1
from ..layout import broadcast_strides, elementwise_walk
from .eltwise import _OclElementwise, decline_blocked, walk_macros
from .gemm import post_op_macros


class BinaryRef(_OclElementwise):
    """Any plain strides; src_0 may be dst (in place)."""
    name = "ocl:ref:any"
    reference = True
    kernel_name = "binary"
    program_sources = ("post_ops.cl", "walk.cl", "binary.cl")
    _arg_order = (ARG_SRC_0, ARG_SRC_1, ARG_DST)

    @classmethod
    def create(cls, rt, p, post_ops):
        decline_blocked(src_0=p.src0, src_1=p.src1, dst=p.dst)
        post_op_macros(post_ops)  # declines what the kernel cannot take
        return cls(rt, p, {ARG_SRC_0: p.src0, ARG_SRC_1: p.src1, ARG_DST: p.dst}, post_ops)

    def _macros(self) -> dict:
        p = self.problem
        dims, (s0, s1, ds) = elementwise_walk(p.dst.dims, broadcast_strides(p.src0),
                                              broadcast_strides(p.src1), p.dst.strides)
        return {**walk_macros(dims, s0, s1, ds), **post_op_macros(self.post_ops),
                "BIN_OP": BINARY_ID[p.alg]}


