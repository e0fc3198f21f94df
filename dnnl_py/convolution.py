"""dnnl::convolution_forward: the problem, its primitive descriptor, the primitive."""
from __future__ import annotations

from typing import Optional

from ._errors import invalid, unimplemented
from .attr import primitive_attr
from .engine import engine
from .kinds import ARG_BIAS, ARG_DST, ARG_SRC, ARG_WEIGHTS, algorithm, primitive_kind, prop_kind
from .layout import check_dst, oc_inner_order, wei_strides
from .memory_desc import data_type, desc, plain_order
from .primitive import primitive, primitive_desc, validated
from .record import record
from .spatial import act_strides, ints, pad3, window_str


@record(frozen=True)
class ConvProblem:
    """A validated forward convolution. Spatial tuples are (d, h, w), unit-padded for
    1D/2D problems; ic and oc count the channels of one group."""
    prop_kind: prop_kind
    alg: algorithm
    src: desc
    weights: desc
    bias: Optional[desc]
    dst: desc
    mb: int
    g: int
    ic: int
    oc: int
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

    @property
    def with_groups(self) -> bool:
        return self.weights.get_ndims() == self.src.get_ndims() + 1

    # layouts: facts about this problem every engine's implementations use

    def act_order(self, channels_last: bool) -> str:
        """The ncdhw / ndhwc order of src and dst, as format tag letters."""
        spatial = plain_order(self.ndims_spatial + 2)[2:]
        return "a" + spatial + "b" if channels_last else "ab" + spatial

    def oc_inner_order(self) -> str:
        """The weights' order with the output channel innermost (layout.oc_inner_order)."""
        return oc_inner_order(self.ndims_spatial, self.with_groups)

    @property
    def pixels(self) -> int:
        """Output pixels per image."""
        return self.o[0] * self.o[1] * self.o[2]

    def act_strides(self, md: desc) -> tuple:
        """(n, c, d, h, w) strides of an activation (spatial.act_strides)."""
        return act_strides(md, self.ndims_spatial)

    def wei_strides(self, md: desc) -> tuple:
        """(g, o, i, d, h, w) strides of the weights (layout.wei_strides)."""
        return wei_strides(md, self.ndims_spatial, self.with_groups)

    def __str__(self) -> str:
        """benchdnn's problem syntax as oneDNN's verbose prints it:
        mb1_ic64oc64_ih56oh56kh3sh1dh0ph1_iw56... (g<n> only with groups)."""
        groups = f"g{self.g}" if self.g > 1 else ""
        parts = [f"mb{self.mb}_{groups}ic{self.ic * self.g}oc{self.oc * self.g}"]
        return "_".join(parts + window_str(self))


def make_problem(aprop_kind, aalgorithm, src: desc, weights: desc, bias: Optional[desc],
                 dst: desc, strides, dilates, padding_l, padding_r) -> ConvProblem:
    if aprop_kind not in (prop_kind.forward_training, prop_kind.forward_inference):
        raise unimplemented(f"convolution: prop_kind {aprop_kind!r} (forward only)")
    if aalgorithm not in (algorithm.convolution_direct, algorithm.convolution_winograd,
                          algorithm.convolution_auto):
        raise unimplemented(f"convolution: algorithm {aalgorithm!r}")
    for name, md in (("src", src), ("weights", weights), ("dst", dst)):
        if not isinstance(md, desc) or md.is_zero():
            raise invalid(f"convolution: {name} descriptor is missing")
    if bias is not None and (not isinstance(bias, desc) or bias.is_zero()):
        bias = None
    nd = src.get_ndims()
    if not 3 <= nd <= 5:
        raise invalid(f"src: {nd} dims, a convolution takes 3 to 5 (N, C, spatial)")
    sp = nd - 2
    if dst.get_ndims() != nd:
        raise invalid(f"dst: {dst.get_ndims()} dims, src has {nd}")
    wd = list(weights.dims)
    if len(wd) == nd:
        wd = [1] + wd
    elif len(wd) != nd + 1:
        raise invalid(f"weights: {len(wd)} dims, expected {nd} (or {nd + 1} with groups)")
    g, oc, ic, k = wd[0], wd[1], wd[2], tuple(wd[3:])
    s, dil = ints("strides", strides, sp), ints("dilates", dilates, sp)
    pl, pr = ints("padding_l", padding_l, sp), ints("padding_r", padding_r, sp)
    # padding_r may be negative (oneDNN allows it: the last rows are not read)
    if any(v < 1 for v in s) or any(v < 0 for v in dil + pl):
        raise invalid(f"strides {list(s)} must be >= 1; dilates {list(dil)} and padding_l "
                      f"{list(pl)} >= 0")
    mb, c = src.dims[0], src.dims[1]
    if g < 1 or c != g * ic:
        raise invalid(f"weights: dims {wd if len(weights.dims) > nd else wd[1:]} take "
                      f"{g * ic} input channels, src has {c}")
    i = src.dims[2:]
    o = tuple((i[j] + pl[j] + pr[j] - (k[j] - 1) * (dil[j] + 1) - 1) // s[j] + 1
              for j in range(sp))
    if any(v < 1 for v in o):
        raise invalid(f"convolution: kernel {list(k)} with dilation {list(dil)} does not fit "
                      f"src {list(i)} padded by {list(pl)}, {list(pr)}")
    expected_dst = [mb, g * oc, *o]
    if list(dst.dims) != expected_dst:
        raise invalid(f"dst: dims {list(dst.dims)} do not match the problem's {expected_dst}")
    check_dst(dst)
    if bias is not None and list(bias.dims) != [g * oc]:
        raise invalid(f"bias: dims {list(bias.dims)} do not match the problem's [{g * oc}]")
    for name, md in (("src", src), ("weights", weights), ("bias", bias), ("dst", dst)):
        if md is not None and md.data_type != data_type.f32:
            raise unimplemented(f"{name}: data type {md.data_type.name} (f32 only)")
    return ConvProblem(aprop_kind, aalgorithm, src, weights, bias, dst, mb, g, ic, oc, pad3(i, 1),
                       pad3(o, 1), pad3(k, 1), pad3(s, 1), pad3(dil, 0), pad3(pl, 0),
                       pad3(pr, 0))


class convolution_forward(primitive):
    """dnnl::convolution_forward."""

    class primitive_desc(primitive_desc):
        """convolution_forward.primitive_desc(engine, prop_kind, algorithm, src_desc,
        weights_desc, [bias_desc,] dst_desc, strides, [dilates,] padding_l, padding_r,
        attr=None), as oneDNN's C++ overloads; keywords work too. dilates are 0 for a
        dense kernel."""
        kind = primitive_kind.convolution
        _arg_order = (ARG_SRC, ARG_WEIGHTS, ARG_BIAS, ARG_DST)
        _binary_post_ops = True

        def __init__(self, aengine: engine, aprop_kind: prop_kind, aalgorithm: algorithm,
                     *args, src_desc=None, weights_desc=None, bias_desc=None, dst_desc=None,
                     strides=None, dilates=None, padding_l=None, padding_r=None,
                     attr: Optional[primitive_attr] = None):
            args = list(args)
            if args and isinstance(args[-1], primitive_attr):
                attr = args.pop()
            n_descs = 0
            while n_descs < len(args) and (args[n_descs] is None
                                           or isinstance(args[n_descs], desc)):
                n_descs += 1
            descs, lists = args[:n_descs], args[n_descs:]
            if n_descs == 3:
                descs.insert(2, None)  # the overload without bias
            elif n_descs not in (0, 4):
                raise invalid(f"convolution: expected 3 or 4 memory descriptors, got {n_descs}")
            if descs:
                src_desc, weights_desc, bias_desc, dst_desc = descs
            if len(lists) == 3:
                strides, padding_l, padding_r = lists
            elif len(lists) == 4:
                strides, dilates, padding_l, padding_r = lists
            elif lists:
                raise invalid(f"convolution: expected strides, [dilates,] padding_l, padding_r;"
                              f" got {len(lists)} lists")
            if strides is None or padding_l is None or padding_r is None:
                raise invalid("convolution: strides, padding_l and padding_r are required")
            if dilates is None:
                dilates = [0] * len(strides)
            problem = validated(make_problem, aprop_kind, aalgorithm, src_desc, weights_desc,
                                bias_desc, dst_desc, strides, dilates, padding_l, padding_r)
            super().__init__(aengine, problem, attr)

        def get_strides(self) -> list:
            return list(self._problem.s[3 - self._problem.ndims_spatial:])

        def get_dilations(self) -> list:
            return list(self._problem.dil[3 - self._problem.ndims_spatial:])

        def get_padding_l(self) -> list:
            return list(self._problem.pl[3 - self._problem.ndims_spatial:])

        def get_padding_r(self) -> list:
            return list(self._problem.pr[3 - self._problem.ndims_spatial:])

        def get_prop_kind(self) -> prop_kind:
            return self._problem.prop_kind

        def _prop_kind_name(self) -> str:
            return self._problem.prop_kind.name

        def get_algorithm(self) -> algorithm:
            """The algorithm that runs: convolution_auto resolves to the implementation's,
            convolution_winograd or convolution_direct, as oneDNN's descriptor reports
            (and its verbose lines print) it."""
            if self._problem.alg != algorithm.convolution_auto:
                return self._problem.alg
            return (algorithm.convolution_winograd if self._impl.winograd
                    else algorithm.convolution_direct)

        def _aux(self) -> str:
            return f"alg:{self.get_algorithm().name}"

