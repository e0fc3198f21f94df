"""CPU reorder: one strided copy between the layouts, or two through a zero-padded
plain buffer when their padding differs (layout.reorder_steps); and the transform of 3x3
weights into Winograd's (opaque layout wino_2x3_aaio)."""
from __future__ import annotations

import math

import numpy as np

from ..impl import Decline, Impl
from ..kinds import ARG_DST, ARG_SRC
from ..layout import oc_inner_order, reorder_steps, wei_strides
from ..memory_desc import WINO_2X3, plain_desc
from . import _kernels


class ReorderWinoWeights(Impl):
    """3x3 weights of any strided layout -> Winograd F(2x2, 3x3)'s transformed weights,
    U[4][4][ic][oc] (cpu:wino_2x3's own format, as oneDNN's wino reorder): a strided
    copy to oc innermost, then the transform the convolution makes on a call given 3x3
    weights (csrc/conv_winograd.c), so both give the same U."""
    name = "cpu:reorder:wino_2x3"

    @classmethod
    def create(cls, rt, p, post_ops):
        if p.dst.opaque != WINO_2X3:
            raise Decline("not to Winograd's weights")
        if p.src.opaque:
            raise Decline(f"from opaque layout {p.src.opaque}")
        dims = p.src.dims
        # (oc, ic, h, w), grouped (1, oc, ic, h, w), 3D (oc, ic, 1, h, w), both (1, oc, ic,
        # 1, h, w); a 5-dim one with a leading 1 is read as grouped (where oc or ic is 1
        # both readings give the same U)
        grouped = len(dims) == 6 or len(dims) == 5 and dims[0] == 1
        sp = len(dims) - (3 if grouped else 2)
        oc, ic = dims[1:3] if grouped else dims[0:2]
        if math.prod(dims) != oc * ic * 9 or oc % 16 or ic < 1:
            raise Decline(f"weights {list(dims)}: one group, depth 1, oc a multiple of 16")
        impl = cls(rt, p, {ARG_SRC: p.src, ARG_DST: p.dst}, post_ops)
        impl.oc, impl.ic = oc, ic
        # 3x3 weights, oc innermost: the layout the kernel's transform reads
        impl.tmp = plain_desc(dims, p.src.data_type, oc_inner_order(sp, grouped))
        impl.steps = reorder_steps(p.src, impl.tmp)
        impl.wei_s = wei_strides(impl.tmp, sp, grouped)
        return impl

    def make_kernel(self, params: tuple):
        oc, ic, wei_s, threads = self.oc, self.ic, self.wei_s, self.runtime.threads()
        to_oc_inner = _strided_copy(*self.steps)

        def run(src_buf, dst_buf):
            wei = np.zeros(self.tmp.nelems_spanned(), np.float32)
            to_oc_inner(src_buf, wei)
            _kernels.wino_weights(ic, oc, wei_s, wei, dst_buf, threads)
        return run


def _strided_copy(tmp, plans):
    """run(src_buf, dst_buf) of layout.reorder_steps's (tmp, plans)."""
    def run(src_buf, dst_buf):
        bufs = [src_buf, dst_buf] if tmp is None else \
            [src_buf, np.zeros(tmp.nelems_spanned(), np.float32), dst_buf]
        for (dims, src_s, dst_s), a, b in zip(plans, bufs, bufs[1:]):
            if 0 not in dims:
                _kernels.copy_strided(dims, a, 0, src_s, b, 0, dst_s)
    return run


class ReorderStrided(Impl):
    name = "cpu:reorder:strided"

    @classmethod
    def create(cls, rt, p, post_ops):
        impl = cls(rt, p, {ARG_SRC: p.src, ARG_DST: p.dst}, post_ops)
        impl.tmp, impl.plans = reorder_steps(p.src, p.dst)
        return impl

    def make_kernel(self, params: tuple):
        return _strided_copy(self.tmp, self.plans)
