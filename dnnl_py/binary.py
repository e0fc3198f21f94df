"""dnnl::binary: dst = op(src0, src1) elementwise, src1 broadcast numpy-style over any
dim where it has 1; comparisons give 1.0 or 0.0."""
from __future__ import annotations

from typing import Optional

from ._errors import invalid, unimplemented
from .attr import primitive_attr
from .engine import engine
from .kernel_abi import BINARY_ID
from .kinds import ARG_DST, ARG_SRC_0, ARG_SRC_1, algorithm, primitive_kind
from .layout import check_dst, follow_layout
from .memory_desc import data_type, desc, plain_desc, plain_order
from .primitive import primitive, primitive_desc, validated
from .record import record


@record(frozen=True)
class BinaryProblem:
    """What a binary primitive computes: the primitive cache's key and the blob's."""
    alg: algorithm
    src0: desc
    src1: desc
    dst: desc

    def __str__(self) -> str:
        """benchdnn's syntax: 2x64x56x56:1x64x1x1."""
        return ":".join("x".join(map(str, md.dims)) for md in (self.src0, self.src1))


def make_problem(aalgorithm, src0: desc, src1: desc, dst: desc) -> BinaryProblem:
    if not isinstance(aalgorithm, algorithm) or not aalgorithm.name.startswith("binary_"):
        raise invalid(f"binary: algorithm: {aalgorithm!r} is not a binary algorithm")
    if aalgorithm not in BINARY_ID:
        raise unimplemented(f"binary: algorithm {aalgorithm.name} is not implemented")
    for name, md in (("src_0", src0), ("src_1", src1), ("dst", dst)):
        if not isinstance(md, desc) or md.is_zero():
            raise invalid(f"binary: {name} descriptor is missing")
    nd = src0.get_ndims()
    for name, md in (("src_1", src1), ("dst", dst)):
        if md.get_ndims() != nd:
            raise invalid(f"{name}: {md.get_ndims()} dims, src_0 has {nd}")
    if any(b not in (1, a) for a, b in zip(src0.dims, src1.dims)):
        raise invalid(f"src_1: dims {list(src1.dims)} do not broadcast to src_0's "
                      f"{list(src0.dims)} (each must be 1 or equal)")
    if dst.dims != src0.dims:
        raise invalid(f"dst: dims {list(dst.dims)} do not match src_0's {list(src0.dims)}")
    for name, md in (("src_0", src0), ("src_1", src1), ("dst", dst)):
        if md.data_type != data_type.f32:
            raise unimplemented(f"{name}: data type {md.data_type.name} (f32 only)")
    if src0.is_any():
        src0 = plain_desc(src0.dims, src0.data_type, plain_order(nd))
    src1, dst = follow_layout(src1, src0), follow_layout(dst, src0)
    check_dst(dst)
    return BinaryProblem(aalgorithm, src0, src1, dst)


class binary(primitive):
    """dnnl::binary."""

    class primitive_desc(primitive_desc):
        """binary.primitive_desc(engine, algorithm, src0_desc, src1_desc, dst_desc,
        attr=None)."""
        kind = primitive_kind.binary
        _arg_order = (ARG_SRC_0, ARG_SRC_1, ARG_DST)
        # oneDNN's verbose names both sources `src`
        _verbose_names = {ARG_SRC_0: "src", ARG_SRC_1: "src", ARG_DST: "dst"}

        def __init__(self, aengine: engine, aalgorithm: algorithm, src0_desc: desc,
                     src1_desc: desc, dst_desc: desc,
                     attr: Optional[primitive_attr] = None):
            super().__init__(aengine, validated(make_problem, aalgorithm, src0_desc,
                                                src1_desc, dst_desc), attr)

        def _aux(self) -> str:
            return f"alg:{self._problem.alg.name}"

        def get_algorithm(self) -> algorithm:
            return self._problem.alg

        def src_desc(self, idx: int = 0) -> desc:
            """The layout of src_0 (idx 0) or src_1 (idx 1), as oneDNN's src_desc(idx)."""
            if idx not in (0, 1):
                raise invalid(f"binary: src_desc index {idx} (0 or 1)")
            return self.query_md(ARG_SRC_1 if idx else ARG_SRC_0)
