"""CPU softmax: one OpenMP loop over rows (csrc/softmax.c), any plain layout."""
from __future__ import annotations

from ..impl import Decline, Impl
from . import _kernels


class _ReduceImpl(Impl):
    """An implementation over any plain layout that the problem's split() walks; no
    post-ops (oneDNN's softmax and normalizations take none here)."""

    @classmethod
    def create(cls, rt, p, post_ops):
        if post_ops:
            raise Decline(f"{len(post_ops)} post-ops (none supported)")
        return cls(rt, p, p.layouts(), post_ops)


class SoftmaxPlain(_ReduceImpl):
    """Max, sum of exponentials, output: three passes per row (in cache between them);
    rows or, along a strided axis, blocks of adjacent rows (csrc/softmax.c)."""
    name = "cpu:softmax:plain"
    reference = True

    def make_kernel(self, params: tuple):
        s = self.problem.split(self.descs)
        return _kernels.SoftmaxKernel(s.par, s.red, self.problem.log)
