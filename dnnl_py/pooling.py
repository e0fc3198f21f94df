"""dnnl::pooling_forward: the problem, its primitive descriptor, the primitive."""
from __future__ import annotations

from typing import Optional

from ._errors import invalid, unimplemented
from .attr import primitive_attr
from .engine import engine
from .impl import plain_or_decline
from .kinds import ARG_DST, ARG_SRC, algorithm, primitive_kind, prop_kind
from .layout import check_dst
from .memory_desc import data_type, desc, plain_order
from .primitive import primitive, primitive_desc, validated
from .record import record
from .spatial import act_strides, ints, pad3, window_str

ALGORITHMS = (algorithm.pooling_max, algorithm.pooling_avg_include_padding,
              algorithm.pooling_avg_exclude_padding)


@record(frozen=True)
class PoolProblem:
    """A validated forward pooling. Spatial tuples are (d, h, w), unit-padded for 1D/2D
    problems (dilation 0, padding 0)."""
    prop_kind: prop_kind
    alg: algorithm
    src: desc
    dst: desc
    mb: int
    c: int
    i: tuple
    o: tuple
    k: tuple
    s: tuple
    dil: tuple
    pl: tuple
    pr: tuple

    @property
    def ndims_spatial(self) -> int:
        return self.src.get_ndims() - 2

    def act_strides(self, md: desc) -> tuple:
        """(n, c, d, h, w) strides of src or dst (spatial.act_strides)."""
        return act_strides(md, self.ndims_spatial)

    def layouts(self) -> dict:
        """{ARG_SRC, ARG_DST: layout} every engine's implementation takes: `any` src is
        ncdhw, `any` dst follows src's plain order; blocked layouts decline (reorder
        first)."""
        nd = self.src.get_ndims()
        src = plain_or_decline(self.src, plain_order(nd))
        letters = plain_order(nd)
        order = "".join(letters[d] for d in sorted(range(nd),
                                                   key=lambda d: (-src.strides[d], d)))
        return {ARG_SRC: src, ARG_DST: plain_or_decline(self.dst, order)}

    def __str__(self) -> str:
        """benchdnn's pool problem syntax, as oneDNN's verbose prints it:
        mb2ic16_ih10oh5kh2sh2dh0ph0_iw10ow5kw2sw2dw0pw0."""
        parts = [f"mb{self.mb}ic{self.c}"]
        return "_".join(parts + window_str(self))


def _empty_window(i: int, o: int, k: int, s: int, dil: int, pl: int) -> Optional[int]:
    """The first output position along one axis whose window (dilated taps) lands only
    in the padding, or None. Without dilation padding < kernel rules it out."""
    if dil == 0:
        return None
    step = dil + 1
    # a window that starts inside the source holds its first tap; with padding_r below
    # the dilated kernel none starts past the source, so only those in padding_l count
    for j in range(min(o, -(-pl // s))):
        base = j * s - pl
        first = (-base + step - 1) // step if base < 0 else 0  # first tap at or after 0
        if first >= k or base + first * step >= i:
            return j
    return None


def make_problem(aprop_kind, aalgorithm, src: desc, dst: desc, strides, kernel, dilation,
                 padding_l, padding_r) -> PoolProblem:
    if aprop_kind not in (prop_kind.forward_training, prop_kind.forward_inference):
        raise unimplemented(f"pooling: prop_kind {aprop_kind!r} (forward only)")
    if aalgorithm not in ALGORITHMS:
        raise invalid(f"pooling: algorithm {aalgorithm!r} (expected one of "
                      + ", ".join(a.name for a in ALGORITHMS) + ")")
    for name, md in (("src", src), ("dst", dst)):
        if not isinstance(md, desc) or md.is_zero():
            raise invalid(f"pooling: {name} descriptor is missing")
    nd = src.get_ndims()
    if not 3 <= nd <= 5:
        raise invalid(f"src: {nd} dims, pooling takes 3 to 5 (N, C, spatial)")
    sp = nd - 2
    if dst.get_ndims() != nd:
        raise invalid(f"dst: {dst.get_ndims()} dims, src has {nd}")
    s, k = ints("strides", strides, sp), ints("kernel", kernel, sp)
    dil = ints("dilation", dilation, sp)
    pl, pr = ints("padding_l", padding_l, sp), ints("padding_r", padding_r, sp)
    if any(v < 1 for v in s):
        raise invalid(f"strides: {list(s)} must be >= 1")
    if any(v < 1 for v in k):
        raise invalid(f"kernel: {list(k)} must be >= 1")
    if any(v < 0 for v in dil):
        raise invalid(f"dilation: {list(dil)} must be >= 0 (0 is a dense kernel)")
    if any(v < 0 for v in pl + pr):
        raise invalid(f"padding_l {list(pl)} and padding_r {list(pr)} must be >= 0")
    reach = tuple((k[j] - 1) * (dil[j] + 1) + 1 for j in range(sp))
    if any(pl[j] >= reach[j] or pr[j] >= reach[j] for j in range(sp)):
        raise invalid(f"padding_l {list(pl)}, padding_r {list(pr)}: each must be smaller than "
                      f"the dilated kernel {list(reach)} (oneDNN's rule)")
    mb, c = src.dims[0], src.dims[1]
    i = src.dims[2:]
    o = tuple((i[j] + pl[j] + pr[j] - reach[j]) // s[j] + 1 for j in range(sp))
    if any(v < 1 for v in o):
        raise invalid(f"pooling: kernel {list(k)} with dilation {list(dil)} does not fit "
                      f"src {list(i)} padded by {list(pl)}, {list(pr)}")
    expected_dst = [mb, c, *o]
    if list(dst.dims) != expected_dst:
        raise invalid(f"dst: dims {list(dst.dims)} do not match the problem's {expected_dst}")
    for j in range(sp):
        at = _empty_window(i[j], o[j], k[j], s[j], dil[j], pl[j])
        if at is not None:
            raise invalid(f"dilation: {list(dil)}: the window of output {at} along spatial "
                          f"dim {j} holds no source element, only padding")
    check_dst(dst)
    for name, md in (("src", src), ("dst", dst)):
        if md.data_type != data_type.f32:
            raise unimplemented(f"{name}: data type {md.data_type.name} (f32 only)")
    return PoolProblem(aprop_kind, aalgorithm, src, dst, mb, c, pad3(i, 1), pad3(o, 1),
                       pad3(k, 1), pad3(s, 1), pad3(dil, 0), pad3(pl, 0), pad3(pr, 0))


class pooling_forward(primitive):
    """dnnl::pooling_forward."""

    class primitive_desc(primitive_desc):
        """pooling_forward.primitive_desc(engine, prop_kind, algorithm, src_desc, dst_desc,
        strides, kernel, dilation, padding_l, padding_r, attr=None), as oneDNN's C++ API;
        keywords work too. dilation is 0 for a dense kernel. No workspace: forward only."""
        kind = primitive_kind.pooling
        _arg_order = (ARG_SRC, ARG_DST)

        def __init__(self, aengine: engine, aprop_kind: prop_kind, aalgorithm: algorithm,
                     src_desc: desc = None, dst_desc: desc = None, strides=None, kernel=None,
                     dilation=None, padding_l=None, padding_r=None,
                     attr: Optional[primitive_attr] = None):
            if isinstance(padding_r, primitive_attr) or isinstance(padding_l, primitive_attr):
                raise invalid("pooling: expected strides, kernel, dilation, padding_l, "
                              "padding_r before attr")
            for name, value in (("strides", strides), ("kernel", kernel),
                                ("dilation", dilation), ("padding_l", padding_l),
                                ("padding_r", padding_r)):
                if value is None:
                    raise invalid(f"pooling: {name} is required")
            if attr is not None and not isinstance(attr, primitive_attr):
                raise invalid(f"attr: expected a primitive_attr, got {type(attr).__name__}")
            if attr is not None and attr._post_ops.len():
                raise unimplemented("pooling: post-ops")
            problem = validated(make_problem, aprop_kind, aalgorithm, src_desc, dst_desc,
                                strides, kernel, dilation, padding_l, padding_r)
            super().__init__(aengine, problem, attr)

        def _spatial(self, values: tuple) -> list:
            return list(values[3 - self._problem.ndims_spatial:])

        def get_strides(self) -> list:
            return self._spatial(self._problem.s)

        def get_kernel(self) -> list:
            return self._spatial(self._problem.k)

        def get_dilations(self) -> list:
            return self._spatial(self._problem.dil)

        def get_padding_l(self) -> list:
            return self._spatial(self._problem.pl)

        def get_padding_r(self) -> list:
            return self._spatial(self._problem.pr)

        def get_prop_kind(self) -> prop_kind:
            return self._problem.prop_kind

        def get_algorithm(self) -> algorithm:
            return self._problem.alg

        def workspace_desc(self) -> desc:
            return desc()  # forward only: no indices kept for a backward pass

        def _prop_kind_name(self) -> str:
            return self._problem.prop_kind.name

        def _aux(self) -> str:
            return f"alg:{self._problem.alg.name}"
