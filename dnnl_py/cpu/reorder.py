"""CPU reorder: one strided copy between the layouts, or two through a zero-padded
plain buffer when their padding differs (plain nchw <-> nChw16c with C % 16 != 0)."""
from __future__ import annotations

import numpy as np

from ..kinds import ARG_DST, ARG_SRC
from ..memory import plain_desc
from ..primitive import Decline, Impl
from . import _kernels, layout


class ReorderStrided(Impl):
    name = "cpu:reorder:strided"

    @classmethod
    def create(cls, p, post_ops):
        impl = cls(p, {ARG_SRC: p.src, ARG_DST: p.dst}, post_ops)
        src, dst = p.src, p.dst
        impl.tmp = None
        if src.padded_dims == dst.padded_dims:
            steps = [(src.padded_dims, src, dst)]
        else:  # via a plain buffer padded as the larger of the two
            impl.tmp = plain_desc([max(a, b) for a, b in zip(src.padded_dims, dst.padded_dims)],
                                  src.data_type, "abcdefghijkl"[:src.get_ndims()])
            steps = [(src.padded_dims, src, impl.tmp), (dst.padded_dims, impl.tmp, dst)]
        impl.plans = []
        for box, a, b in steps:
            plan = layout.copy_plan(box, a, b)
            if plan is None:
                raise Decline(f"blockings of {a.tag_str()} and {b.tag_str()} do not nest")
            impl.plans.append(plan)
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


IMPLS = [ReorderStrided]
