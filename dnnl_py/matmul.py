"""dnnl::matmul: dst[b..., m, n] = src[b..., m, k] . weights[b..., k, n] (+ bias), with
batch dims broadcast where an operand has 1."""
from __future__ import annotations

from typing import Optional

from ._errors import invalid, unimplemented
from .attr import primitive_attr
from .engine import engine
from .kinds import ARG_BIAS, ARG_DST, ARG_SRC, ARG_WEIGHTS, primitive_kind
from .layout import check_dst
from .memory_desc import data_type, desc
from .primitive import primitive, primitive_desc, validated
from .record import record


@record(frozen=True)
class MatmulProblem:
    """What a matmul computes: the primitive cache's key and the blob's."""
    src: desc
    weights: desc
    bias: Optional[desc]
    dst: desc

    @property
    def batch(self) -> tuple:
        return self.dst.dims[:-2]

    @property
    def m(self) -> int:
        return self.dst.dims[-2]

    @property
    def n(self) -> int:
        return self.dst.dims[-1]

    @property
    def k(self) -> int:
        return self.src.dims[-1]

    def __str__(self) -> str:
        """benchdnn's syntax: 128x768:768x3072 (with the bias dims after a second colon)."""
        dims = [self.src.dims, self.weights.dims] + ([self.bias.dims] if self.bias else [])
        return ":".join("x".join(map(str, d)) for d in dims)


def make_problem(src: desc, weights: desc, bias: Optional[desc], dst: desc) -> MatmulProblem:
    for name, md in (("src", src), ("weights", weights), ("dst", dst)):
        if not isinstance(md, desc) or md.is_zero():
            raise invalid(f"matmul: {name} descriptor is missing")
    if bias is not None and (not isinstance(bias, desc) or bias.is_zero()):
        bias = None
    nd = src.get_ndims()
    if nd < 2:
        raise invalid(f"src: {nd} dims, a matmul takes at least 2")
    for name, md in (("weights", weights), ("dst", dst), ("bias", bias)):
        if md is not None and md.get_ndims() != nd:
            raise invalid(f"{name}: {md.get_ndims()} dims, src has {nd}")
    (m, k), (k2, n) = src.dims[-2:], weights.dims[-2:]
    if k != k2:
        raise invalid(f"weights: dims {list(weights.dims)} take K={k2}, src {list(src.dims)} "
                      f"has K={k}")
    batch = []
    for i, (a, b) in enumerate(zip(src.dims[:-2], weights.dims[:-2])):
        if a != b and 1 not in (a, b):
            raise invalid(f"weights: batch dim {i} is {b}, src's is {a}; they must match or "
                          "one must be 1")
        batch.append(max(a, b))
    expected = [*batch, m, n]
    if list(dst.dims) != expected:
        raise invalid(f"dst: dims {list(dst.dims)} do not match the problem's {expected}")
    check_dst(dst)
    if bias is not None and any(b not in (1, d) for b, d in zip(bias.dims, expected)):
        raise invalid(f"bias: dims {list(bias.dims)} do not broadcast to {expected}")
    for name, md in (("src", src), ("weights", weights), ("bias", bias), ("dst", dst)):
        if md is not None and md.data_type != data_type.f32:
            raise unimplemented(f"{name}: data type {md.data_type.name} (f32 only)")
    return MatmulProblem(src, weights, bias, dst)


class matmul(primitive):
    """dnnl::matmul."""

    class primitive_desc(primitive_desc):
        """matmul.primitive_desc(engine, src_desc, weights_desc, [bias_desc,] dst_desc,
        attr=None)."""
        kind = primitive_kind.matmul
        _arg_order = (ARG_SRC, ARG_WEIGHTS, ARG_BIAS, ARG_DST)
        _binary_post_ops = True

        def __init__(self, aengine: engine, src_desc: desc, weights_desc: desc, *args,
                     bias_desc: Optional[desc] = None, dst_desc: Optional[desc] = None,
                     attr: Optional[primitive_attr] = None):
            args = list(args)
            if args and isinstance(args[-1], primitive_attr):
                attr = args.pop()
            if len(args) == 1:
                dst_desc, = args
            elif len(args) == 2:
                bias_desc, dst_desc = args
            elif args:
                raise invalid(f"matmul: expected [bias_desc,] dst_desc, got {len(args)} more "
                              "arguments")
            super().__init__(aengine, validated(make_problem, src_desc, weights_desc,
                                               bias_desc, dst_desc), attr)

