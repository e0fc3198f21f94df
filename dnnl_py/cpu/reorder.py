"""CPU reorder: one strided copy between the layouts, or two through a zero-padded
plain buffer when their padding differs (plain nchw <-> nChw16c with C % 16 != 0)."""
from __future__ import annotations

import numpy as np

from ..kinds import ARG_DST, ARG_SRC
from ..memory import plain_desc
from ..primitive import Decline, Impl
from . import layout


class ReorderStrided(Impl):
    name = "cpu:reorder:strided"

    @classmethod
    def create(cls, p, post_ops):
        impl = cls(p, {ARG_SRC: p.src, ARG_DST: p.dst}, post_ops)
        src, dst = p.src, p.dst
        if src.padded_dims == dst.padded_dims:
            impl.steps = [(src.padded_dims, src, dst)]
            impl.tmp = None
        else:  # via a plain buffer padded as the larger of the two
            impl.tmp = plain_desc([max(a, b) for a, b in zip(src.padded_dims, dst.padded_dims)],
                                  src.data_type, "abcdefghijkl"[:src.get_ndims()])
            impl.steps = [(src.padded_dims, src, impl.tmp), (dst.padded_dims, impl.tmp, dst)]
        for box, a, b in impl.steps:
            if layout.copy_plan(box, a, b) is None:
                raise Decline(f"blockings of {a.tag_str()} and {b.tag_str()} do not nest")
        return impl

    def make_kernel(self):
        steps, tmp = self.steps, self.tmp

        def run(src_buf, dst_buf):
            if tmp is None:
                layout.copy(steps[0][0], steps[0][1], src_buf, steps[0][2], dst_buf)
                return
            tmp_buf = np.zeros(tmp.nelems_spanned(), np.float32)
            (box1, a, _), (box2, _, b) = steps
            layout.copy(box1, a, src_buf, tmp, tmp_buf)
            layout.copy(box2, tmp, tmp_buf, b, dst_buf)
        return run


IMPLS = [ReorderStrided]
