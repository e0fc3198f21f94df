"""dnnl::post_ops and dnnl::primitive_attr."""
from __future__ import annotations

import numbers
from typing import Optional

from ._errors import invalid, unimplemented
from .kernel_abi import BINARY_ID, ELTWISE_ID, POST_OP_BINARY, POST_OP_ELTWISE, POST_OP_SUM
from .kinds import ARG_ATTR_MULTIPLE_POST_OP, ARG_SRC_1, algorithm, primitive_kind
from .memory_desc import data_type, desc


def _number(what: str, value) -> float:
    if isinstance(value, (bool, str, bytes)):
        raise invalid(f"{what}: expected a number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise invalid(f"{what}: expected a number, got {value!r}") from None


class post_ops:
    """dnnl::post_ops: operations applied, in order, to a primitive's result."""

    def __init__(self):
        self._ops: list[tuple] = []

    def append_eltwise(self, aalgorithm: algorithm, alpha: float = 0.0, beta: float = 0.0):
        if not isinstance(aalgorithm, algorithm) or not aalgorithm.name.startswith("eltwise_"):
            raise invalid(f"append_eltwise: {aalgorithm!r} is not an eltwise algorithm")
        self._ops.append((primitive_kind.eltwise, aalgorithm,
                          _number("append_eltwise: alpha", alpha),
                          _number("append_eltwise: beta", beta)))

    def append_sum(self, scale: float = 1.0, zero_point: int = 0,
                   dt: data_type = data_type.undef):
        if isinstance(zero_point, bool) or not isinstance(zero_point, numbers.Integral):
            raise invalid(f"append_sum: zero_point: expected an integer, got {zero_point!r}")
        if not isinstance(dt, data_type):
            raise invalid(f"append_sum: expected a memory.data_type, got {dt!r}")
        self._ops.append((primitive_kind.sum, _number("append_sum: scale", scale),
                          int(zero_point), dt))

    def append_binary(self, aalgorithm: algorithm, src1_desc: desc):
        """dnnl::post_ops::append_binary: dst = aalgorithm(dst, src1), src1 given at
        execution as ARG_ATTR_MULTIPLE_POST_OP(index) | ARG_SRC_1 and broadcast over
        every dim where it has 1 (checked against the primitive's dst)."""
        if not isinstance(aalgorithm, algorithm) or not aalgorithm.name.startswith("binary_"):
            raise invalid(f"append_binary: {aalgorithm!r} is not a binary algorithm")
        if not isinstance(src1_desc, desc) or src1_desc.is_zero():
            raise invalid(f"append_binary: src1_desc: expected a memory.desc, got "
                          f"{src1_desc!r}")
        self._ops.append((primitive_kind.binary, aalgorithm, src1_desc))

    def len(self) -> int:
        return len(self._ops)

    __len__ = len

    def kind(self, index: int) -> primitive_kind:
        return self._op(index)[0]

    def get_params_eltwise(self, index: int):
        op = self._op(index)
        if op[0] != primitive_kind.eltwise:
            raise invalid(f"post-op {index} is not an eltwise")
        return op[1:]

    def get_params_sum(self, index: int):
        op = self._op(index)
        if op[0] != primitive_kind.sum:
            raise invalid(f"post-op {index} is not a sum")
        return op[1:]

    def get_params_binary(self, index: int):
        """(algorithm, src1_desc) of binary post-op `index`."""
        op = self._op(index)
        if op[0] != primitive_kind.binary:
            raise invalid(f"post-op {index} is not a binary")
        return op[1:]

    def _op(self, index: int):
        if not 0 <= index < len(self._ops):
            raise invalid(f"post-op index {index} out of range [0, {len(self._ops)})")
        return self._ops[index]

    def key(self) -> tuple:
        """The post-ops as plain data for the primitive cache key (a src1 by its whole
        descriptor: dims, layout, data type)."""
        return tuple((k.name,) + tuple(p._key if isinstance(p, desc) else
                                       p.name if hasattr(p, "name") else p for p in rest)
                     for k, *rest in self._ops)

    def binary_args(self) -> list:
        """(execute argument, index, algorithm, src1_desc) of each binary post-op."""
        return [(ARG_ATTR_MULTIPLE_POST_OP(i) | ARG_SRC_1, i, op[1], op[2])
                for i, op in enumerate(self._ops) if op[0] == primitive_kind.binary]

    def check_binary(self, kind: str, dst: desc) -> None:
        """Each binary post-op's src1 against the primitive's dst: the same number of
        dims, each 1 (broadcast) or dst's; f32 and a plain layout (or any)."""
        for _, i, alg, md in self.binary_args():
            if alg not in BINARY_ID:
                raise unimplemented(f"{kind}: post-op {i}: {alg.name} is not implemented")
            if md.get_ndims() != dst.get_ndims() or any(
                    s not in (1, d) for s, d in zip(md.dims, dst.dims)):
                raise invalid(f"{kind}: post-op {i} ({alg.name}): src1 dims {list(md.dims)} "
                              f"do not broadcast to dst's {list(dst.dims)} (each dim 1 or "
                              "equal)")
            if md.data_type != data_type.f32:
                raise unimplemented(f"{kind}: post-op {i} ({alg.name}): src1 data type "
                                    f"{md.data_type.name} (f32 only)")
            if not (md.is_any() or md.is_plain()):
                raise unimplemented(f"{kind}: post-op {i} ({alg.name}): src1 layout "
                                    f"{md.tag_str()} (plain layouts only)")

    def verbose_str(self) -> str:
        """oneDNN's verbose spelling: `attr-post-ops:eltwise_relu:0.1+sum:0.5`, or ''."""
        ops = []
        for kind, *params in self._ops:
            if kind == primitive_kind.sum:
                scale = params[0]
                ops.append("sum" + (f":{scale:g}" if scale != 1.0 else ""))
            elif kind == primitive_kind.binary:
                ops.append(_binary_verbose(*params))
            else:
                alg, alpha, beta = params
                extra = (f":{alpha:g}:{beta:g}" if beta else f":{alpha:g}" if alpha else "")
                ops.append(alg.name + extra)
        return "attr-post-ops:" + "+".join(ops) if ops else ""

    def kernel_ops(self) -> list:
        """(kind, alg, alpha, beta, scale, src1) per op, as the kernels take them (src1:
        a binary post-op's src1_desc, None for the others; implementations resolve it,
        impl.Impl); raises unimplemented for an op the kernels lack."""
        out = []
        for kind, *params in self._ops:
            if kind == primitive_kind.sum:
                scale, zero_point, dt = params
                if zero_point != 0 or dt not in (data_type.undef, data_type.f32):
                    raise unimplemented("sum post-op: only f32 without a zero point")
                out.append((POST_OP_SUM, 0, 0.0, 0.0, scale, None))
            elif kind == primitive_kind.binary:
                alg, md = params
                if alg not in BINARY_ID:
                    raise unimplemented(f"post-op {alg.name} is not implemented")
                out.append((POST_OP_BINARY, BINARY_ID[alg], 0.0, 0.0, 0.0, md))
            else:
                alg, alpha, beta = params
                if alg not in ELTWISE_ID:
                    raise unimplemented(f"post-op {alg.name} is not implemented")
                out.append((POST_OP_ELTWISE, ELTWISE_ID[alg], alpha, beta, 0.0, None))
        return out


def _binary_verbose(alg: algorithm, md: desc) -> str:
    """oneDNN's spelling of a binary post-op: `binary_add:f32:2` (alg, src1 data type,
    the mask of its non-broadcast dims), then src1's layout when it has more than one
    non-unit dim (`binary_add:f32:15:acdb`), or `any`."""
    mask = sum(1 << d for d, n in enumerate(md.dims) if n != 1)
    text = f"{alg.name}:{md.data_type.name}:{mask}"
    if md.is_any():
        return text + ":any"
    if sum(n != 1 for n in md.dims) > 1:
        return text + ":" + md.tag_str()
    return text


class primitive_attr:
    """dnnl::primitive_attr: here, the post-ops."""

    def __init__(self):
        self._post_ops = post_ops()

    def set_post_ops(self, ops: post_ops) -> None:
        if not isinstance(ops, post_ops):
            raise invalid(f"set_post_ops: expected post_ops, got {type(ops).__name__}")
        copy = post_ops()
        copy._ops = list(ops._ops)  # the attribute owns its post-ops, as in oneDNN
        self._post_ops = copy

    def get_post_ops(self) -> post_ops:
        copy = post_ops()
        copy._ops = list(self._post_ops._ops)
        return copy


def resolve(attr: Optional[primitive_attr]) -> primitive_attr:
    """The primitive descriptor's own copy of `attr`, as in oneDNN: later changes to
    the caller's object do not reach it."""
    own = primitive_attr()
    if attr is None:
        return own
    if not isinstance(attr, primitive_attr):
        raise invalid(f"attr: expected primitive_attr, got {type(attr).__name__}")
    own.set_post_ops(attr._post_ops)
    return own
