"""dnnl::eltwise_forward: dst = f(src) elementwise, f one of the eltwise algorithms
(those the post-ops take), with alpha and beta as oneDNN's formulas use them."""
from __future__ import annotations

from typing import Optional

from ._errors import invalid, unimplemented
from .attr import _number, primitive_attr
from .engine import engine
from .kernel_abi import ELTWISE_ID
from .kinds import ARG_DST, ARG_SRC, algorithm, primitive_kind, prop_kind
from .layout import check_dst, follow_layout
from .memory_desc import data_type, desc
from .primitive import primitive, primitive_desc, validated
from .record import record


@record(frozen=True)
class EltwiseProblem:
    """What an eltwise primitive computes: the primitive cache's key and the blob's."""
    prop_kind: prop_kind
    alg: algorithm
    src: desc
    dst: desc
    alpha: float
    beta: float

    def __str__(self) -> str:
        """benchdnn's syntax: the dims, 2x16x7x7."""
        return "x".join(map(str, self.src.dims))


def make_problem(aprop_kind, aalgorithm, src: desc, dst: Optional[desc], alpha,
                 beta) -> EltwiseProblem:
    if not isinstance(aprop_kind, prop_kind):
        raise invalid(f"eltwise: prop_kind: expected a prop_kind, got {aprop_kind!r}")
    if aprop_kind not in (prop_kind.forward_training, prop_kind.forward_inference):
        raise unimplemented(f"eltwise: prop_kind {aprop_kind.name} (forward only)")
    if not isinstance(aalgorithm, algorithm) or not aalgorithm.name.startswith("eltwise_"):
        raise invalid(f"eltwise: algorithm: {aalgorithm!r} is not an eltwise algorithm")
    if aalgorithm not in ELTWISE_ID:
        raise unimplemented(f"eltwise: algorithm {aalgorithm.name} is not implemented")
    alpha, beta = _number("eltwise: alpha", alpha), _number("eltwise: beta", beta)
    if not isinstance(src, desc) or src.is_zero():
        raise invalid("eltwise: src descriptor is missing")
    if src.is_any():
        raise invalid("src: format_tag.any: an eltwise source needs a concrete layout")
    if dst is None or (isinstance(dst, desc) and dst.is_zero()):
        dst = src  # oneDNN's overload without dst_desc: dst as src
    if not isinstance(dst, desc):
        raise invalid(f"dst: expected a memory.desc, got {type(dst).__name__}")
    if dst.dims != src.dims:
        raise invalid(f"dst: dims {list(dst.dims)} do not match src's {list(src.dims)}")
    dst = follow_layout(dst, src)
    check_dst(dst)
    for name, md in (("src", src), ("dst", dst)):
        if md.data_type != data_type.f32:
            raise unimplemented(f"{name}: data type {md.data_type.name} (f32 only)")
    if aalgorithm == algorithm.eltwise_clip and beta < alpha:
        raise invalid(f"eltwise: clip needs beta >= alpha, got alpha={alpha:g} beta={beta:g}")
    return EltwiseProblem(aprop_kind, aalgorithm, src, dst, alpha, beta)


class eltwise_forward(primitive):
    """dnnl::eltwise_forward."""

    class primitive_desc(primitive_desc):
        """eltwise_forward.primitive_desc(engine, prop_kind, algorithm, src_desc, dst_desc,
        alpha=0, beta=0, attr=None); dst_desc may be left out (then it is src_desc)."""
        kind = primitive_kind.eltwise
        _arg_order = (ARG_SRC, ARG_DST)

        def __init__(self, aengine: engine, aprop_kind: prop_kind, aalgorithm: algorithm,
                     src_desc: desc, *args, dst_desc: Optional[desc] = None,
                     alpha: float = 0.0, beta: float = 0.0,
                     attr: Optional[primitive_attr] = None):
            args = list(args)
            if args and isinstance(args[-1], primitive_attr):
                attr = args.pop()
            if args and isinstance(args[0], desc):
                dst_desc = args.pop(0)
            if len(args) > 2:
                raise invalid(f"eltwise: expected [dst_desc,] [alpha, [beta]], got "
                              f"{len(args)} more arguments")
            if args:
                alpha = args[0]
            if len(args) == 2:
                beta = args[1]
            super().__init__(aengine, validated(make_problem, aprop_kind, aalgorithm,
                                                src_desc, dst_desc, alpha, beta), attr)

        def _prop_kind_name(self) -> str:
            return self._problem.prop_kind.name

        def _aux(self) -> str:
            p = self._problem
            return f"alg:{p.alg.name} alpha:{p.alpha:g} beta:{p.beta:g}"

        def get_prop_kind(self) -> prop_kind:
            return self._problem.prop_kind

        def get_algorithm(self) -> algorithm:
            return self._problem.alg

        def get_alpha(self) -> float:
            return self._problem.alpha

        def get_beta(self) -> float:
            return self._problem.beta
