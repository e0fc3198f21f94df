"""CPU reorder: one strided copy between the layouts, or two through a zero-padded
plain buffer when their padding differs (layout.reorder_steps)."""
from __future__ import annotations

import numpy as np

from ..impl import Impl
from ..kinds import ARG_DST, ARG_SRC
from ..layout import reorder_steps
from . import _kernels


class ReorderStrided(Impl):
    name = "cpu:reorder:strided"

    @classmethod
    def create(cls, rt, p, post_ops):
        impl = cls(rt, p, {ARG_SRC: p.src, ARG_DST: p.dst}, post_ops)
        impl.tmp, impl.plans = reorder_steps(p.src, p.dst)
        return impl

    def make_kernel(self, params: tuple):
        plans, tmp = self.plans, self.tmp

        def run(src_buf, dst_buf):
            bufs = [src_buf, dst_buf] if tmp is None else \
                [src_buf, np.zeros(tmp.nelems_spanned(), np.float32), dst_buf]
            for (dims, src_s, dst_s), a, b in zip(plans, bufs, bufs[1:]):
                if 0 not in dims:
                    _kernels.copy_strided(dims, a, 0, src_s, b, 0, dst_s)
        return run
