"""dnnl::concat: sources joined along one dimension into dst (a copy per source)."""
from __future__ import annotations

import operator
from typing import Optional, Sequence

from ._errors import invalid, unimplemented
from .attr import primitive_attr
from .engine import engine
from .impl import Decline, plain_or_decline
from .kinds import ARG_DST, ARG_MULTIPLE_SRC, primitive_kind
from .layout import check_dst, copy_plan
from .memory_desc import data_type, desc, format_tag, plain_order
from .primitive import primitive, primitive_desc, validated
from .record import record


@record(frozen=True)
class ConcatProblem:
    """Sources (in order) joined along `axis` into dst; dst None stands for `any`."""
    axis: int
    srcs: tuple
    dst: Optional[desc]

    @property
    def dst_dims(self) -> tuple:
        dims = list(self.srcs[0].dims)
        dims[self.axis] = sum(md.dims[self.axis] for md in self.srcs)
        return tuple(dims)

    def dst_layout(self) -> desc:
        """dst as given, or for `any` the first plain source's order, dense (plain
        layouts only: a blocked dst declines)."""
        nd = len(self.dst_dims)
        if self.dst is not None and not self.dst.is_any():
            return plain_or_decline(self.dst, plain_order(nd))
        first = next((md for md in self.srcs if md.is_plain()), None)
        letters = plain_order(nd)
        order = letters if first is None else "".join(
            letters[d] for d in sorted(range(nd), key=lambda d: (-first.strides[d], d)))
        return plain_or_decline(desc(self.dst_dims, self.srcs[0].data_type,
                                     format_tag.any), order)

    def resolved(self) -> tuple:
        """(descs by execute argument, copy plans): what every engine's implementation
        starts from."""
        dst = self.dst_layout()
        descs = {ARG_MULTIPLE_SRC + i: md for i, md in enumerate(self.srcs)}
        descs[ARG_DST] = dst
        return descs, self.copy_plans(dst)

    def copy_plans(self, dst: desc) -> list:
        """(plan, dst offset in elements) of each source's copy into dst (plain); a
        source whose blocking cannot be one strided copy declines."""
        out, at = [], 0
        for n, md in enumerate(self.srcs):
            plan = copy_plan(md.dims, md, dst)
            if plan is None:
                raise Decline(f"src {n}: {md.tag_str()} layout is not one strided copy "
                              "(padded blocks)")
            out.append((plan, at * dst.strides[self.axis]))
            at += md.dims[self.axis]
        return out

    def __str__(self) -> str:
        """oneDNN's verbose problem: the sources' dims, `:`-separated."""
        return ":".join("x".join(map(str, md.dims)) for md in self.srcs)


def make_problem(dst: Optional[desc], axis, srcs) -> ConcatProblem:
    if isinstance(srcs, desc) or not isinstance(srcs, Sequence):
        raise invalid(f"srcs: expected a list of memory descriptors, got {type(srcs).__name__}")
    srcs = tuple(srcs)
    if not srcs:
        raise invalid("srcs: concat needs at least one source")
    for n, md in enumerate(srcs):
        if not isinstance(md, desc) or md.is_zero() or md.is_any():
            raise invalid(f"srcs: source {n} needs a concrete memory descriptor")
    try:
        if isinstance(axis, bool):
            raise TypeError
        axis = operator.index(axis)
    except TypeError:
        raise invalid(f"concat_dimension: expected an integer, got {axis!r}") from None
    nd = srcs[0].get_ndims()
    if not 0 <= axis < nd:
        raise invalid(f"concat_dimension: {axis} is out of range for {nd} dims")
    for n, md in enumerate(srcs):
        if md.get_ndims() != nd:
            raise invalid(f"srcs: source {n} has {md.get_ndims()} dims, source 0 has {nd}")
        other = [d for j, d in enumerate(md.dims) if j != axis]
        first = [d for j, d in enumerate(srcs[0].dims) if j != axis]
        if other != first:
            raise invalid(f"srcs: source {n} dims {list(md.dims)} differ from source 0's "
                          f"{list(srcs[0].dims)} outside concat_dimension {axis}")
        if md.data_type != data_type.f32:
            raise unimplemented(f"srcs: source {n} data type {md.data_type.name} (f32 only)")
    if dst is not None and not isinstance(dst, desc):
        raise invalid(f"dst: expected a memory descriptor, got {type(dst).__name__}")
    if dst is not None and dst.is_zero():
        dst = None
    problem = ConcatProblem(axis, srcs, dst)
    if dst is not None:
        if dst.dims != problem.dst_dims:
            raise invalid(f"dst: dims {list(dst.dims)} do not match the problem's "
                          f"{list(problem.dst_dims)}")
        if dst.data_type != data_type.f32:
            raise unimplemented(f"dst: data type {dst.data_type.name} (f32 only)")
        if not dst.is_any():
            check_dst(dst)
    return problem


class concat(primitive):
    """dnnl::concat."""

    class primitive_desc(primitive_desc):
        """concat.primitive_desc(engine, dst_desc, concat_dimension, src_descs, attr=None),
        or without dst_desc (then `any`), as oneDNN's C++ overloads. Execute arguments:
        ARG_MULTIPLE_SRC + i for source i, ARG_DST."""
        kind = primitive_kind.concat
        _persistent = False  # copy loops: nothing to save

        def __init__(self, aengine: engine, *args, attr: Optional[primitive_attr] = None):
            args = list(args)
            if args and isinstance(args[-1], primitive_attr):
                attr = args.pop()
            if len(args) == 3:
                dst_md, axis, srcs = args
            elif len(args) == 2:
                (axis, srcs), dst_md = args, None
            else:
                raise invalid("concat: expected (engine, dst_desc, concat_dimension, "
                              "src_descs[, attr]) or (engine, concat_dimension, src_descs"
                              "[, attr])")
            if attr is not None and not isinstance(attr, primitive_attr):
                raise invalid(f"attr: expected a primitive_attr, got {type(attr).__name__}")
            if attr is not None and attr._post_ops.len():
                raise unimplemented("concat: post-ops")
            problem = validated(make_problem, dst_md, axis, srcs)
            n = len(problem.srcs)
            self._arg_order = tuple(ARG_MULTIPLE_SRC + i for i in range(n)) + (ARG_DST,)
            self._verbose_names = {**{ARG_MULTIPLE_SRC + i: "src" for i in range(n)},
                                   ARG_DST: "dst"}
            super().__init__(aengine, problem, attr)

        def src_desc(self, index: int = 0) -> desc:
            """The layout of source `index` (oneDNN's src_desc(int))."""
            return self.query_md(ARG_MULTIPLE_SRC + index)

        def _aux(self) -> str:
            return f"axis:{self._problem.axis}"
