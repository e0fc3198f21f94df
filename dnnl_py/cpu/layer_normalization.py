"""CPU layer normalization: one OpenMP loop over rows (csrc/normalization.c)."""
from __future__ import annotations

from . import _kernels
from .softmax import _ReduceImpl


class _NormImpl(_ReduceImpl):
    """Statistics per parallel point of the problem's split: one pass of shifted sums in
    double (csrc/normalization.c)."""

    def make_kernel(self, params: tuple):
        p = self.problem
        s = p.split(self.descs)
        return _kernels.NormKernel(s.par, s.red, p.epsilon, p.global_stats, p.save_stats,
                                   p.relu, p.use_scale, p.use_shift)


class LayerNormPlain(_NormImpl):
    name = "cpu:lnorm:plain"
    reference = True
