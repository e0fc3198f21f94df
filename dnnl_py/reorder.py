"""dnnl::reorder: copies memory from one layout to another."""
from __future__ import annotations

from typing import Optional

from ._errors import invalid, unimplemented
from .attr import primitive_attr
from .kinds import ARG_DST, ARG_SRC, primitive_kind
from .layout import check_dst
from .memory import memory
from .memory_desc import data_type, desc
from .primitive import primitive, primitive_desc, validated
from .record import record


@record(frozen=True)
class ReorderProblem:
    """What a reorder computes: the primitive cache's key and the blob's."""
    src: desc
    dst: desc

    def __str__(self) -> str:
        return "x".join(map(str, self.src.dims))


def make_problem(src_md: desc, dst_md: desc) -> ReorderProblem:
    for name, md in (("src", src_md), ("dst", dst_md)):
        if not isinstance(md, desc) or md.is_zero() or md.is_any():
            raise invalid(f"reorder: {name} needs a concrete memory descriptor")
        if md.data_type != data_type.f32:
            raise unimplemented(f"reorder: {name} data type {md.data_type.name} (f32 only)")
    if src_md.dims != dst_md.dims:
        raise invalid(f"reorder: dst dims {list(dst_md.dims)} differ from src's "
                      f"{list(src_md.dims)}")
    check_dst(dst_md)
    return ReorderProblem(src_md, dst_md)


class reorder(primitive):
    """dnnl::reorder(src_mem, dst_mem) or reorder(reorder.primitive_desc)."""

    class primitive_desc(primitive_desc):
        """reorder.primitive_desc(src_engine, src_desc, dst_engine, dst_desc, attr=None)
        or reorder.primitive_desc(src_mem, dst_mem, attr=None)."""
        kind = primitive_kind.reorder
        _arg_order = (ARG_SRC, ARG_DST)
        _persistent = False  # a copy loop: nothing to save

        def __init__(self, *args, attr: Optional[primitive_attr] = None):
            args = list(args)
            if args and isinstance(args[-1], primitive_attr):
                attr = args.pop()
            if len(args) == 2 and all(isinstance(a, memory) for a in args):
                src, dst = args
                args = [src.get_engine(), src.get_desc(), dst.get_engine(), dst.get_desc()]
            if len(args) != 4:
                raise invalid("reorder: expected (src_engine, src_desc, dst_engine, dst_desc) "
                              "or (src_memory, dst_memory)")
            src_engine, src_md, dst_engine, dst_md = args
            if src_engine is not dst_engine:
                raise unimplemented("reorder: between engines")
            problem = validated(make_problem, src_md, dst_md)
            if attr is not None and attr._post_ops.len():
                raise unimplemented("reorder: post-ops")
            super().__init__(src_engine, problem, attr)

    def __init__(self, *args, attr: Optional[primitive_attr] = None):
        """reorder(pd), reorder(pd, cache_blob), or reorder(src_mem, dst_mem[, attr])."""
        if args and isinstance(args[0], reorder.primitive_desc) and len(args) <= 2:
            super().__init__(*args)
        else:
            super().__init__(reorder.primitive_desc(*args, attr=attr))

    def execute(self, astream, *args) -> None:
        """execute(stream, {DNNL_ARG_FROM: src, DNNL_ARG_TO: dst}) or, as oneDNN's
        reorder overload, execute(stream, src_memory, dst_memory)."""
        if len(args) == 2:
            args = ({ARG_SRC: args[0], ARG_DST: args[1]},)
        elif len(args) != 1:
            raise invalid(f"reorder: execute takes (stream, args) or (stream, src, dst), got "
                          f"{len(args) + 1} arguments")
        super().execute(astream, *args)
