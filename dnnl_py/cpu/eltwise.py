"""CPU eltwise: one C kernel (csrc/eltwise_fwd.c) over any plain layouts; the algorithm
runs as the first post-op, in the epilogue's vectorised loops."""
from __future__ import annotations

from ..impl import Decline, Impl
from ..kernel_abi import ELTWISE_ID, POST_OP_ELTWISE
from ..kinds import ARG_DST, ARG_SRC
from ..layout import elementwise_walk
from . import _kernels


def decline_blocked(**mds) -> None:
    for name, md in mds.items():
        if not md.is_plain():
            raise Decline(f"{name}: {md.tag_str()} layout (plain layouts only)")


class EltwiseSimple(Impl):
    """Any plain strides; src and dst may be one memory (in place)."""
    name = f"cpu:simple:{_kernels.cpu_isa()}"

    @classmethod
    def create(cls, rt, p, post_ops):
        decline_blocked(src=p.src, dst=p.dst)
        ops = [(POST_OP_ELTWISE, ELTWISE_ID[p.alg], p.alpha, p.beta, 0.0, None), *post_ops]
        if len(ops) > _kernels.MAX_POST_OPS:
            raise Decline(f"{len(post_ops)} post-ops (the kernel takes at most "
                          f"{_kernels.MAX_POST_OPS - 1} after the algorithm)")
        impl = cls(rt, p, {ARG_SRC: p.src, ARG_DST: p.dst}, post_ops)
        impl.ops = ops
        return impl

    def make_kernel(self, params: tuple):
        p = self.problem
        dims, (ss, ds) = elementwise_walk(p.src.dims, p.src.strides, p.dst.strides)
        return _kernels.EltwiseKernel(dims, ss, ds, self.ops)
