"""CPU concat: one strided copy (csrc/reorder.c, the reorder's kernel) per source into
its slice of dst."""
from __future__ import annotations

from ..impl import Impl
from . import _kernels


class ConcatStrided(Impl):
    name = "cpu:simple:any"

    @classmethod
    def create(cls, rt, p, post_ops):
        descs, plans = p.resolved()
        impl = cls(rt, p, descs, post_ops)
        impl.plans = plans
        return impl

    def make_kernel(self, params: tuple):
        plans = [(n, dims, ss, ds, off) for n, ((dims, ss, ds), off) in enumerate(self.plans)
                 if 0 not in dims]  # an empty source copies nothing

        def run(*bufs):
            dst = bufs[-1]
            for n, dims, ss, ds, off in plans:
                _kernels.copy_strided(dims, bufs[n], 0, ss, dst, off, ds)
        return run
