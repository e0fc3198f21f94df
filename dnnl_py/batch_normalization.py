"""dnnl::batch_normalization_forward (inference): dst = (src - mean) / sqrt(variance +
epsilon) * scale + shift per channel (dim 1), then max(dst, 0) with fuse_norm_relu; mean
and variance over every other dim, computed or given (use_global_stats)."""
from __future__ import annotations

from typing import Optional

from ._errors import invalid, unimplemented
from .attr import primitive_attr
from .engine import engine
from .kinds import (
    ARG_DST,
    ARG_MEAN,
    ARG_SCALE,
    ARG_SHIFT,
    ARG_SRC,
    ARG_VARIANCE,
    normalization_flags,
    primitive_kind,
    prop_kind,
)
from .layer_normalization import NormFlags, NormQueries, check_epsilon, check_flags, flags_str
from .memory_desc import data_type, desc, plain_desc
from .primitive import primitive, primitive_desc, validated
from .record import record
from .reduction import Split, resolve_data, split
from .softmax import check_data, check_forward
from .verbose import md_str

_BNORM_FLAGS = (normalization_flags.use_global_stats | normalization_flags.use_scale
                | normalization_flags.use_shift | normalization_flags.fuse_norm_relu)


@record(frozen=True)
class BatchNormProblem(NormFlags):
    """What a batch normalization computes: the primitive cache's key and the blob's."""
    prop_kind: prop_kind
    src: desc
    dst: desc
    epsilon: float
    flags: int


    @property
    def relu(self) -> bool:
        return bool(self.flags & normalization_flags.fuse_norm_relu)

    save_stats = False  # inference only

    @property
    def channels(self) -> int:
        return self.src.dims[1]

    def layouts(self) -> dict:
        """{DNNL_ARG_*: layout} of every engine's implementation (raises Decline)."""
        src, dst = resolve_data(self.src, self.dst)
        vector = plain_desc([self.channels], data_type.f32, "a")
        return {ARG_SRC: src, ARG_MEAN: vector if self.global_stats else None,
                ARG_VARIANCE: vector if self.global_stats else None,
                ARG_SCALE: vector if self.use_scale else None,
                ARG_SHIFT: vector if self.use_shift else None, ARG_DST: dst}

    def split(self, descs: dict) -> Split:
        src, dst = descs[ARG_SRC], descs[ARG_DST]
        others = set(range(src.get_ndims())) - {1}
        return split(src.dims, src.strides, dst.strides, others, {1: 1}, {1: 1})

    def __str__(self) -> str:
        """benchdnn's syntax: mb2ic16ih7iw7 (spatial dims as id/ih/iw)."""
        dims = self.src.dims
        spatial = "".join(f"i{a}{n}" for a, n in zip("dhw"[3 - len(dims[2:]):], dims[2:]))
        return f"mb{dims[0]}ic{dims[1]}{spatial}"


def make_problem(aprop_kind, src: desc, dst: desc, epsilon, flags) -> BatchNormProblem:
    check_forward("batch_normalization", aprop_kind)
    flags = check_flags("batch_normalization", flags, _BNORM_FLAGS)
    if aprop_kind != prop_kind.forward_inference:
        raise unimplemented("prop_kind: forward_training (batch_normalization: inference "
                            "only, no statistics outputs or ReLU workspace)")
    check_data("batch_normalization", src, dst)
    if not 2 <= src.get_ndims() <= 5:
        raise invalid(f"src: {src.get_ndims()} dims, a batch normalization takes 2 to 5 "
                      "(N, C, spatial)")
    return BatchNormProblem(aprop_kind, src, dst, check_epsilon(epsilon), flags)


class batch_normalization_forward(primitive):
    """dnnl::batch_normalization_forward."""

    class primitive_desc(NormQueries, primitive_desc):
        """batch_normalization_forward.primitive_desc(engine, prop_kind, src_desc,
        dst_desc, epsilon, flags, attr=None)."""
        kind = primitive_kind.batch_normalization
        _arg_order = (ARG_SRC, ARG_MEAN, ARG_VARIANCE, ARG_SCALE, ARG_SHIFT, ARG_DST)
        _verbose_names = {ARG_SRC: "src", ARG_DST: "dst", ARG_MEAN: "mean",
                          ARG_VARIANCE: "var", ARG_SCALE: "scale", ARG_SHIFT: "shift"}

        def __init__(self, aengine: engine, aprop_kind: prop_kind, src_desc: desc,
                     dst_desc: desc, epsilon: float, flags: normalization_flags,
                     attr: Optional[primitive_attr] = None):
            problem = validated(make_problem, aprop_kind, src_desc, dst_desc, epsilon, flags)
            super().__init__(aengine, problem, attr)

        def _verbose_info(self) -> list:
            """oneDNN's descriptors: src, dst."""
            if self._verbose is None:
                info = super()._verbose_info()
                q = self.query_md
                info[4] = " ".join([md_str("src", q(ARG_SRC)), md_str("dst", q(ARG_DST))])
            return self._verbose

        def _prop_kind_name(self) -> str:
            return self._problem.prop_kind.name

        def _aux(self) -> str:
            return f"flags:{flags_str(self._problem.flags)}"
