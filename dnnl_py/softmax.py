"""dnnl::softmax_forward: dst = exp(src - max) / sum(exp(src - max)) along one axis
(softmax_accurate), or src - max - log(sum(exp(src - max))) (softmax_log)."""
from __future__ import annotations

import operator
from typing import Optional

from ._errors import invalid, unimplemented
from .attr import primitive_attr
from .engine import engine
from .kinds import ARG_DST, ARG_SRC, algorithm, primitive_kind, prop_kind
from .layout import check_dst
from .memory_desc import data_type, desc
from .primitive import primitive, primitive_desc, validated
from .record import record
from .reduction import Split, resolve_data, split

_ALGORITHMS = (algorithm.softmax_accurate, algorithm.softmax_log)


@record(frozen=True)
class SoftmaxProblem:
    """What a softmax computes: the primitive cache's key and the blob's."""
    prop_kind: prop_kind
    alg: algorithm
    src: desc
    dst: desc
    axis: int

    @property
    def log(self) -> bool:
        return self.alg == algorithm.softmax_log

    def layouts(self) -> dict:
        """{DNNL_ARG_*: layout} of every engine's implementation (raises Decline)."""
        src, dst = resolve_data(self.src, self.dst)
        return {ARG_SRC: src, ARG_DST: dst}

    def split(self, descs: dict) -> Split:
        src, dst = descs[ARG_SRC], descs[ARG_DST]
        return split(src.dims, src.strides, dst.strides, {self.axis})

    def __str__(self) -> str:
        """benchdnn's syntax: the dims, 2x1000 (the axis is in the aux field)."""
        return "x".join(map(str, self.src.dims))


def check_data(kind: str, src: desc, dst: desc) -> None:
    """src and dst of a softmax or normalization: present, equal dims, f32, a dst that
    gives each element its own address."""
    for name, md in (("src", src), ("dst", dst)):
        if not isinstance(md, desc) or md.is_zero():
            raise invalid(f"{kind}: {name} descriptor is missing")
    if list(dst.dims) != list(src.dims):
        raise invalid(f"dst: dims {list(dst.dims)} do not match src's {list(src.dims)}")
    if not dst.is_any():
        check_dst(dst)
    for name, md in (("src", src), ("dst", dst)):
        if md.data_type != data_type.f32:
            raise unimplemented(f"{name}: data type {md.data_type.name} (f32 only)")


def check_forward(kind: str, aprop_kind) -> prop_kind:
    if not isinstance(aprop_kind, prop_kind):
        raise invalid(f"prop_kind: expected a dnnl.prop_kind, got {aprop_kind!r}")
    if aprop_kind not in (prop_kind.forward_training, prop_kind.forward_inference):
        raise unimplemented(f"prop_kind: {aprop_kind.name} ({kind} is forward only)")
    return aprop_kind


def make_problem(aprop_kind, aalgorithm, src: desc, dst: desc, axis) -> SoftmaxProblem:
    check_forward("softmax", aprop_kind)
    if aalgorithm not in _ALGORITHMS:
        raise invalid(f"algorithm: {aalgorithm!r}; softmax takes softmax_accurate or "
                      "softmax_log")
    check_data("softmax", src, dst)
    try:
        axis = operator.index(axis)
    except TypeError:
        raise invalid(f"axis: expected an int, got {type(axis).__name__}") from None
    if not 0 <= axis < src.get_ndims():
        raise invalid(f"axis: {axis} is not a dim of src {list(src.dims)} "
                      f"(0 to {src.get_ndims() - 1})")
    return SoftmaxProblem(aprop_kind, aalgorithm, src, dst, axis)


class softmax_forward(primitive):
    """dnnl::softmax_forward."""

    class primitive_desc(primitive_desc):
        """softmax_forward.primitive_desc(engine, prop_kind, algorithm, src_desc, dst_desc,
        axis, attr=None)."""
        kind = primitive_kind.softmax
        _arg_order = (ARG_SRC, ARG_DST)

        def __init__(self, aengine: engine, aprop_kind: prop_kind, aalgorithm: algorithm,
                     src_desc: desc, dst_desc: desc, axis: int,
                     attr: Optional[primitive_attr] = None):
            problem = validated(make_problem, aprop_kind, aalgorithm, src_desc, dst_desc, axis)
            super().__init__(aengine, problem, attr)

        def get_prop_kind(self) -> prop_kind:
            return self._problem.prop_kind

        def get_algorithm(self) -> algorithm:
            return self._problem.alg

        def get_axis(self) -> int:
            return self._problem.axis

        def _prop_kind_name(self) -> str:
            return self._problem.prop_kind.name

        def _aux(self) -> str:
            return f"alg:{self._problem.alg.name} axis:{self._problem.axis}"
