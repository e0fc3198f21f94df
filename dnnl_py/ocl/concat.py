"""OpenCL concat: the engine's strided copy (kernels/util.cl) once per source, into its
slice of dst."""
from __future__ import annotations

from ..impl import Decline, Impl
from .strided_copy import MAX_DIMS


class ConcatStrided(Impl):
    name = "ocl:simple:any"

    @classmethod
    def create(cls, rt, p, post_ops):
        descs, plans = p.resolved()
        impl = cls(rt, p, descs, post_ops)
        impl.plans = plans
        if any(len(dims) > MAX_DIMS for (dims, _, _), _ in impl.plans):
            raise Decline(f"more than {MAX_DIMS} dims to copy")
        return impl

    def make_kernel(self, params: tuple):
        copies = [(n, self.runtime.copier(plan), off) for n, (plan, off) in enumerate(self.plans)
                  if 0 not in plan[0]]

        def run(queue, *bufs):
            dst = bufs[-1]
            for n, copy, off in copies:
                copy(queue, bufs[n], dst, dst_offset=off)
        return run
