"""dnnl::layer_normalization_forward: dst = (src - mean) / sqrt(variance + epsilon) * scale
+ shift, with mean and variance over the last dim of each row (computed, or given with
use_global_stats), scale and shift over that dim (use_scale, use_shift)."""
from __future__ import annotations

import math
from typing import Optional

from ._errors import invalid, unimplemented
from .attr import primitive_attr
from .engine import engine
from .impl import plain_or_decline
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
from .memory_desc import data_type, desc, plain_desc, plain_order
from .primitive import primitive, primitive_desc, validated
from .record import record
from .reduction import Split, resolve_data, split
from .softmax import check_data, check_forward
from .verbose import md_str

_LNORM_FLAGS = (normalization_flags.use_global_stats | normalization_flags.use_scale
                | normalization_flags.use_shift)
_FLAG_LETTERS = ((normalization_flags.use_global_stats, "G"),
                 (normalization_flags.use_scale, "C"), (normalization_flags.use_shift, "H"),
                 (normalization_flags.fuse_norm_relu, "R"))


def check_epsilon(epsilon) -> float:
    try:
        value = float(epsilon)
    except (TypeError, ValueError):
        raise invalid(f"epsilon: expected a number, got {type(epsilon).__name__}") from None
    if not math.isfinite(value) or value < 0:
        raise invalid(f"epsilon: {epsilon} (a finite number >= 0)")
    return value


def check_flags(kind: str, flags, allowed: int) -> int:
    """flags as the int the cache key holds (an IntFlag's name is not stable across
    Python versions)."""
    if isinstance(flags, bool) or not isinstance(flags, int):
        raise invalid(f"flags: expected dnnl.normalization_flags, got {flags!r}")
    if flags & ~int(allowed):
        raise unimplemented(f"flags: {normalization_flags(flags & ~int(allowed))!r} "
                            f"({kind} takes {normalization_flags(allowed)!r})")
    return int(flags)


def flags_str(flags: int) -> str:
    """oneDNN's verbose letters: G global stats, C scale, H shift, R fused ReLU."""
    return "".join(letter for flag, letter in _FLAG_LETTERS if flags & flag)


class NormFlags:
    """The normalization_flags both normalization problems read from their `flags`."""
    flags: int

    @property
    def global_stats(self) -> bool:
        return bool(self.flags & normalization_flags.use_global_stats)

    @property
    def use_scale(self) -> bool:
        return bool(self.flags & normalization_flags.use_scale)

    @property
    def use_shift(self) -> bool:
        return bool(self.flags & normalization_flags.use_shift)


@record(frozen=True)
class LayerNormProblem(NormFlags):
    """What a layer normalization computes: the primitive cache's key and the blob's."""
    prop_kind: prop_kind
    src: desc
    dst: desc
    stat: desc  # mean/variance layout (row-major when the user gave none)
    epsilon: float
    flags: int


    relu = False  # fuse_norm_relu is batch normalization's

    @property
    def save_stats(self) -> bool:
        """Training without global statistics writes the computed ones, as oneDNN."""
        return self.prop_kind == prop_kind.forward_training and not self.global_stats

    @property
    def channels(self) -> int:
        return self.src.dims[-1]

    def layouts(self) -> dict:
        """{DNNL_ARG_*: layout} of every engine's implementation (raises Decline): mean
        and variance only where they are read or written, row-major unless given."""
        src, dst = resolve_data(self.src, self.dst)
        nd = src.get_ndims()
        stat = None
        if self.global_stats or self.save_stats:
            stat = plain_or_decline(self.stat, plain_order(nd - 1))
        vector = plain_desc([self.channels], data_type.f32, "a")
        return {ARG_SRC: src, ARG_MEAN: stat, ARG_VARIANCE: stat,
                ARG_SCALE: vector if self.use_scale else None,
                ARG_SHIFT: vector if self.use_shift else None, ARG_DST: dst}

    def split(self, descs: dict) -> Split:
        src, dst, stat = descs[ARG_SRC], descs[ARG_DST], descs[ARG_MEAN]
        last = src.get_ndims() - 1
        return split(src.dims, src.strides, dst.strides, {last},
                     dict(enumerate(stat.strides)) if stat is not None else {}, {last: 1})

    def __str__(self) -> str:
        return "x".join(map(str, self.src.dims))


def make_problem(aprop_kind, src: desc, dst: desc, stat: Optional[desc], epsilon,
                 flags) -> LayerNormProblem:
    check_forward("layer_normalization", aprop_kind)
    check_data("layer_normalization", src, dst)
    if src.get_ndims() < 2:
        raise invalid(f"src: {src.get_ndims()} dims, a layer normalization takes at least 2")
    if stat is not None and not isinstance(stat, desc):
        raise invalid(f"stat_desc: expected a memory.desc, got {type(stat).__name__}")
    if stat is not None and stat.is_zero():
        stat = None
    if stat is not None:
        if list(stat.dims) != list(src.dims[:-1]):
            raise invalid(f"stat_desc: dims {list(stat.dims)} do not match src's without "
                          f"the last dim, {list(src.dims[:-1])}")
        if stat.data_type != data_type.f32:
            raise unimplemented(f"stat_desc: data type {stat.data_type.name} (f32 only)")
    if stat is None:  # as oneDNN fills a zero stat_desc in: one key for both spellings
        stat = plain_desc(src.dims[:-1], data_type.f32, plain_order(src.get_ndims() - 1))
    return LayerNormProblem(aprop_kind, src, dst, stat, check_epsilon(epsilon),
                            check_flags("layer_normalization", flags, _LNORM_FLAGS))


class NormQueries:
    """The queries both normalization primitive descriptors answer alike (mixed into
    primitive_desc, whose _problem is a NormFlags problem)."""

    def get_prop_kind(self) -> prop_kind:
        return self._problem.prop_kind

    def get_epsilon(self) -> float:
        return self._problem.epsilon

    def get_flags(self) -> normalization_flags:
        return normalization_flags(self._problem.flags)

    def mean_desc(self) -> desc:
        return self.query_md(ARG_MEAN)

    def variance_desc(self) -> desc:
        return self.query_md(ARG_VARIANCE)


class layer_normalization_forward(primitive):
    """dnnl::layer_normalization_forward."""

    class primitive_desc(NormQueries, primitive_desc):
        """layer_normalization_forward.primitive_desc(engine, prop_kind, src_desc,
        dst_desc, [stat_desc,] epsilon, flags, attr=None)."""
        kind = primitive_kind.layer_normalization
        _arg_order = (ARG_SRC, ARG_MEAN, ARG_VARIANCE, ARG_SCALE, ARG_SHIFT, ARG_DST)
        _verbose_names = {ARG_SRC: "src", ARG_DST: "dst", ARG_MEAN: "mean",
                          ARG_VARIANCE: "var", ARG_SCALE: "scale", ARG_SHIFT: "shift"}

        def __init__(self, aengine: engine, aprop_kind: prop_kind, src_desc: desc,
                     dst_desc: desc, *args, attr: Optional[primitive_attr] = None):
            args = list(args)
            if len(args) in (3, 4) and (args[-1] is None or isinstance(args[-1], primitive_attr)):
                attr = args.pop()  # attr=None given by position after flags
            if len(args) == 3:
                stat_desc, epsilon, flags = args
            elif len(args) == 2:
                stat_desc, (epsilon, flags) = None, args
            else:
                raise invalid("layer_normalization: expected [stat_desc,] epsilon, flags")
            problem = validated(make_problem, aprop_kind, src_desc, dst_desc, stat_desc,
                                epsilon, flags)
            super().__init__(aengine, problem, attr)

        def _verbose_info(self) -> list:
            """oneDNN's descriptors: src, dst and stats (undef when the
            statistics are neither read nor written)."""
            if self._verbose is None:
                info = super()._verbose_info()
                q = self.query_md
                info[4] = " ".join([md_str("src", q(ARG_SRC)), md_str("dst", q(ARG_DST)),
                                    md_str("stats", q(ARG_MEAN))])
            return self._verbose

        def _prop_kind_name(self) -> str:
            return self._problem.prop_kind.name

        def _aux(self) -> str:
            return f"flags:{flags_str(self._problem.flags)}"
