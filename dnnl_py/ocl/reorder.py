"""OpenCL reorder: the engine's strided-copy kernel over layout.reorder_steps' plans (one
copy, or two through a zero-padded plain buffer when the layouts' padding differs)."""
from __future__ import annotations

from ..impl import Decline, Impl
from ..kinds import ARG_DST, ARG_SRC
from ..layout import reorder_steps
from .strided_copy import MAX_DIMS


class ReorderStrided(Impl):
    name = "ocl:reorder:strided"

    @classmethod
    def create(cls, rt, p, post_ops):
        impl = cls(rt, p, {ARG_SRC: p.src, ARG_DST: p.dst}, post_ops)
        impl.tmp, impl.plans = reorder_steps(p.src, p.dst)
        if any(len(dims) > MAX_DIMS for dims, _, _ in impl.plans):
            raise Decline(f"more than {MAX_DIMS} dims to copy")
        return impl

    def make_kernel(self, params: tuple):
        copies = [self.runtime.copier(plan) for plan in self.plans]
        # tmp's padding is zeroed once and never written
        tmp = None if self.tmp is None else self.runtime.alloc(self.tmp)

        def run(queue, src, dst):
            bufs = [src, dst] if tmp is None else [src, tmp, dst]
            for copy, a, b in zip(copies, bufs, bufs[1:]):
                copy(queue, a, b)
        return run
