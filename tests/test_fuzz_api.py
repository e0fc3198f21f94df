"""Bad-input fuzz of the public API, with guard zones around every buffer.

Convolutions, matmuls and reorders on the CPU engine with drawn shapes (empty, mismatched,
huge), data types, layouts (format any, permuted, padded, overlapping and arbitrary
strides, blocked), post-ops (any algorithm, bad alphas, too many) and execute arguments
(missing, extra, of another layout, not a memory). Every call either raises a dnnl.error
or succeeds; a primitive that is created and executed must match the numpy reference,
write nothing but its destination's elements (fuzzing.Guarded: NaN guards before, after
and between them, and in the padding) and read nothing else (a guard read shows up as a
NaN in the result, which the reference never has).
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from fuzzing import Guarded, fuzz_settings, outcome, record, report
from helpers import dt, tag
from hypothesis import given
from hypothesis import strategies as st
from reference import conv_fwd, post_ops, relative_error, tolerance

import dnnl_py as dnnl
from dnnl_py.benchdnn.reference import ELTWISE
from dnnl_py.cpu import convolution as cpu_conv
from dnnl_py.cpu.impl_list import IMPLS as CPU_LISTS
from dnnl_py.kinds import primitive_kind

MAX_RUN_BYTES = 1 << 20  # a created primitive whose memories are larger is not executed
DTYPES = [dt.f32] * 60 + [d for d in dnnl.memory.data_type if d != dt.f32]
HUGE = [2**31, 2**40, 2**62, 2**63 - 1]


def layout(draw, dims, allow_any=True):
    """A descriptor for dims: format any, a permutation, padded, overlapping, arbitrary
    strides, or a format tag; its data type mostly f32."""
    dtype = draw(st.sampled_from(DTYPES))
    nd = len(dims)
    how = draw(st.sampled_from(["any"] * 3 * allow_any + ["dense"] * 3 + ["padded"] * 3
                               + ["overlap", "strides", "strides", "tag"]))
    if how == "any":
        return dnnl.memory.desc(dims, dtype, tag.any)
    if how == "tag":
        return dnnl.memory.desc(dims, dtype, draw(st.sampled_from(list(dnnl.memory.format_tag))))
    if how in ("overlap", "strides"):
        top = 3 if how == "overlap" else 64
        return dnnl.memory.desc(dims, dtype, draw(st.lists(st.integers(0, top), min_size=nd,
                                                           max_size=nd)))
    order = draw(st.permutations(range(nd)))
    strides, step = [0] * nd, 1
    for d in reversed(order):
        strides[d] = step
        extent = dims[d] + (draw(st.integers(0, 3)) if how == "padded" else 0)
        step *= max(extent, 1)
    return dnnl.memory.desc(dims, dtype, strides)


def rare(draw, n: int) -> bool:
    """True once in n draws (st.integers would favour its bounds)."""
    return draw(st.sampled_from([False] * (n - 1) + [True]))


def size(draw, lo=1, hi=5):
    """A dim: mostly small, sometimes 0 or huge."""
    if rare(draw, 20):
        return draw(st.sampled_from(HUGE))
    if rare(draw, 20):
        return 0
    return draw(st.integers(lo, hi))


# Near 0 (and near x.5 for round) these amplify a float32 accumulation's error without
# bound against the float64 reference; tests/test_eltwise.py checks them on exact inputs.
ILL_CONDITIONED = {"eltwise_log", "eltwise_sqrt", "eltwise_pow", "eltwise_round"}
ALGS = [a for a in dnnl.algorithm
        if a.name.startswith("eltwise_") and a.name not in ILL_CONDITIONED]
BAD_NUMBERS = ["1", None, b"1", object(), True, [1.0]]


def draw_post_ops(draw):
    """(attr, ops as the reference takes them); ops None when a bad one went in (then
    appending must have raised)."""
    po, ops = dnnl.post_ops(), []
    for _ in range(draw(st.sampled_from([0, 0, 1, 1, 2, 3, 9]))):
        if rare(draw, 4):
            scale = draw(st.sampled_from([1.0, 0.5, -2.0] * 3 + BAD_NUMBERS[:1]))
            po.append_sum(scale)
            ops.append(("sum", scale))
            continue
        alg = draw(st.sampled_from(ALGS))
        alpha, beta = sorted(draw(st.lists(st.sampled_from([0.0, 0.25, 1.0, -1.5, 2.0, 3.0]),
                                           min_size=2, max_size=2)))
        if rare(draw, 20):
            alpha = draw(st.sampled_from(BAD_NUMBERS))
        po.append_eltwise(alg, alpha, beta)
        ops.append(("eltwise", alg.name, alpha, beta))
    attr = dnnl.primitive_attr()
    attr.set_post_ops(po)
    return attr, ops


def attempt(family, fn):
    """fn() or None when it raised a dnnl.error (recorded); anything else fails the test."""
    try:
        return fn()
    except dnnl.error as e:
        assert isinstance(e.status, dnnl.status)
        record(family, "refused: " + outcome(e))
        return None


def bad_args(draw, args: dict, eng):
    """args, or (rarely) a mutation of them that execute must refuse."""
    if not rare(draw, 8):
        return args, False
    how = draw(st.integers(0, 5))
    args = dict(args)
    arg = draw(st.sampled_from(sorted(args)))
    if how == 0:
        del args[arg]
    elif how == 1:
        extra = [99, -1] + ([dnnl.ARG_BIAS] if dnnl.ARG_BIAS not in args else [])
        args[draw(st.sampled_from(extra))] = next(iter(args.values()))
    elif how == 2:
        args[arg] = np.zeros(4, np.float32)
    elif how == 3:
        other = dnnl.memory.desc([7, 1, 3], dt.f32, [5, 9, 2])  # no primitive here takes it
        args[arg] = dnnl.memory(other, eng)
    elif how == 4:
        return [args[a] for a in sorted(args)], True
    else:
        args[arg] = None
    return args, True


def run(family, draw, eng, strm, prim, pd, reference):
    """Executes prim inside guard zones on drawn values; checks guards and the result."""
    mds = {arg: md for arg, md in pd._args if md is not None}
    if (any(d > MAX_RUN_BYTES for md in mds.values() for d in md.dims) or
            sum(math.prod(md.dims) * 4 + md.get_size() for md in mds.values()) > MAX_RUN_BYTES):
        record(family, "created, too large to run")
        return
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    mems = {arg: Guarded(eng, md, rng.uniform(-1, 1, md.dims).astype(np.float32))
            for arg, md in mds.items()}
    args, bad = bad_args(draw, {arg: g.mem for arg, g in mems.items()}, eng)
    inputs = {arg: g.logical().astype(np.float64) for arg, g in mems.items()}
    try:
        prim.execute(strm, args)
    except dnnl.error as e:
        assert bad, f"execute refused well-formed arguments: {e}"
        record(family, "refused: " + outcome(e))
    strm.wait()
    for arg, g in mems.items():
        if arg == dnnl.ARG_DST:
            g.check_guards("dst")
        else:
            g.check_unchanged(dnnl.kinds.ARG_NAMES.get(arg, str(arg)))
    if bad:
        return
    ref, k = reference(inputs)
    out = mems[dnnl.ARG_DST].logical()
    if k is None:  # a copy
        np.testing.assert_array_equal(out, ref)
    else:
        err, at = relative_error(out, ref)
        assert err <= tolerance(max(k, 1)), f"{pd.impl_info_str()}: error {err:.3g} at {at}"
    record(family, f"executed ({pd.impl_info_str()})")


def with_post_ops(x, inputs, ops):
    return post_ops(x, inputs[dnnl.ARG_DST], ops)


def reject_unknown_ops(ops):
    """An accepted primitive has post-ops the reference knows."""
    assert all(op[0] == "sum" or op[1] in ELTWISE for op in ops), ops


@fuzz_settings(short=250, long_share=0.3)
@given(data=st.data())
def test_matmul_bad_inputs(data, eng, strm):
    draw, family = data.draw, "api matmul"
    m, n, k = size(draw, 0, 6), size(draw, 0, 6), size(draw, 0, 6)
    batch = draw(st.lists(st.integers(1, 3), max_size=2))
    src_b = [b if draw(st.booleans()) else 1 for b in batch]
    wei_b = [b if draw(st.booleans()) else 1 for b in batch]
    src_dims, wei_dims, dst_dims = src_b + [m, k], wei_b + [k, n], batch + [m, n]
    if rare(draw, 10):  # a mismatched dim somewhere
        which = draw(st.sampled_from([src_dims, wei_dims, dst_dims]))
        which[draw(st.integers(0, len(which) - 1))] += draw(st.sampled_from([-1, 1, 2]))
    bias_dims = draw(st.sampled_from([None] * 3 + [[1] * len(batch) + [1, n]] * 3 +
                                     [batch + [m, n], [n], [1] * len(batch) + [m, 1]]))
    descs = attempt(family, lambda: [layout(draw, d) if d is not None else None
                                     for d in (src_dims, wei_dims, bias_dims, dst_dims)])
    post = attempt(family, lambda: draw_post_ops(draw))
    if descs is None or post is None:
        return
    (attr, ops), (src, wei, bias, dst) = post, descs
    pd = attempt(family, lambda: dnnl.matmul.primitive_desc(eng, src, wei, bias, dst, attr))
    prim = pd and attempt(family, lambda: dnnl.matmul(pd))
    if prim is None:
        return
    reject_unknown_ops(ops)

    def reference(inputs):
        x = np.matmul(inputs[dnnl.ARG_SRC], inputs[dnnl.ARG_WEIGHTS])
        if dnnl.ARG_BIAS in inputs:
            x = x + inputs[dnnl.ARG_BIAS]
        return with_post_ops(x, inputs, ops), k
    run(family, draw, eng, strm, prim, pd, reference)


@fuzz_settings(short=250, long_share=0.3)
@given(data=st.data())
def test_convolution_bad_inputs(data, eng, strm):
    draw, family = data.draw, "api convolution"
    sp = draw(st.sampled_from([1, 1, 2, 2, 3]))
    g = draw(st.sampled_from([1, 1, 2, 3]))
    mb, icg, ocg = size(draw, 1, 2), size(draw, 1, 3), size(draw, 1, 3)
    i = [draw(st.integers(3, 7)) for _ in range(sp)]
    kk = [draw(st.integers(1, 3)) for _ in range(sp)]
    s = [draw(st.sampled_from([1, 1, 1, 2, 2, 3] * 4 + [0, -1])) for _ in range(sp)]
    dil = [draw(st.sampled_from([0, 0, 0, 1] * 5 + [-1])) for _ in range(sp)]
    pl = [draw(st.sampled_from([0, 0, 1, 2] * 5 + [-1])) for _ in range(sp)]
    pr = [draw(st.sampled_from([0, 0, 1, 2, -1])) for _ in range(sp)]
    grouped = g > 1 or draw(st.booleans())
    wei_dims = ([g] if grouped else []) + [ocg, icg, *kk]
    o = [(i[j] + pl[j] + pr[j] - (kk[j] - 1) * (dil[j] + 1) - 1) // max(s[j], 1) + 1
         for j in range(sp)]
    dst_dims = [mb, g * ocg, *o]
    if rare(draw, 10):
        dst_dims[draw(st.integers(0, len(dst_dims) - 1))] += draw(st.sampled_from([-1, 1]))
    bias_dims = draw(st.sampled_from([None, [g * ocg], [g * ocg], [g * ocg + 1]]))
    src_dims = [mb, g * icg, *i]
    if min(dst_dims) < 0:
        dst_dims = [max(d, 0) for d in dst_dims]
    descs = attempt(family, lambda: [layout(draw, d) if d is not None else None
                                     for d in (src_dims, wei_dims, bias_dims, dst_dims)])
    post = attempt(family, lambda: draw_post_ops(draw))
    if descs is None or post is None:
        return
    (attr, ops), (src, wei, bias, dst) = post, descs
    pd = attempt(family, lambda: dnnl.convolution_forward.primitive_desc(
        eng, dnnl.prop_kind.forward_inference, dnnl.algorithm.convolution_direct,
        src, wei, bias, dst, s, dil, pl, pr, attr))
    prim = pd and attempt(family, lambda: dnnl.convolution_forward(pd))
    if prim is None:
        return
    reject_unknown_ops(ops)

    def reference(inputs):
        w = inputs[dnnl.ARG_WEIGHTS]
        w = w if grouped else w[None]
        x = conv_fwd(inputs[dnnl.ARG_SRC], w, inputs.get(dnnl.ARG_BIAS), s, dil, pl, pr, g)
        return with_post_ops(x, inputs, ops), icg * math.prod(kk)
    run(family, draw, eng, strm, prim, pd, reference)


@fuzz_settings(short=150, long_share=0.3)
@given(data=st.data())
def test_reorder_bad_inputs(data, eng, strm):
    draw, family = data.draw, "api reorder"
    dims = [size(draw, 1, 5) for _ in range(draw(st.integers(1, 4)))]
    other = list(dims)
    if rare(draw, 10):
        other[0] += 1
    descs = attempt(family, lambda: (layout(draw, dims, False), layout(draw, other, False)))
    if descs is None:
        return
    src, dst = descs
    pd = attempt(family, lambda: dnnl.reorder.primitive_desc(eng, src, eng, dst))
    prim = pd and attempt(family, lambda: dnnl.reorder(pd))
    if prim is None:
        return
    run(family, draw, eng, strm, prim, pd, lambda inputs: (inputs[dnnl.ARG_SRC], None))


# what this fuzz found ---------------------------------------------------------------

@pytest.mark.parametrize("impl", CPU_LISTS[primitive_kind.convolution], ids=lambda c: c.name)
@pytest.mark.parametrize("stride", [0, 2], ids=["broadcast", "padded"])
def test_conv_strided_bias_declined(only_impl, eng, impl, stride):
    """Found by tests/test_fuzz_api.py: the kernels read bias[g * oc + c] whatever its
    stride, so a bias with stride 2 gave values of its padding (NaN in the guard zones)
    and one with stride 0 was refused at execute. Each implementation now declines it."""
    only_impl(impl)
    groups = impl is cpu_conv.ConvDepthwise
    md = dnnl.memory.desc
    src = md([1, 16, 5, 5], dt.f32, tag.any)
    wei = md([16, 1, 1, 3, 3] if groups else [16, 16, 3, 3], dt.f32, tag.any)
    dst = md([1, 16, 3, 3], dt.f32, tag.any)
    if impl is cpu_conv.ConvPacked1x1:  # 1x1s only, on AVX-512 only
        if cpu_conv._kernels.cpu_isa() != "avx512":
            pytest.skip("cpu:gemm_packed_1x1 needs AVX-512")
        src, wei = md([1, 8, 3, 3], dt.f32, tag.any), md([16, 8, 1, 1], dt.f32, tag.any)
    bias = md([16], dt.f32, [stride])
    auto = dnnl.algorithm.convolution_auto  # every implementation takes it
    with pytest.raises(dnnl.error, match=f"bias stride {stride}") as e:
        dnnl.convolution_forward.primitive_desc(
            eng, dnnl.prop_kind.forward_inference, auto, src, wei, bias, dst, [1, 1], [0, 0],
            [0, 0])
    assert e.value.status == dnnl.status.unimplemented
    dnnl.convolution_forward.primitive_desc(  # dense, it is taken
        eng, dnnl.prop_kind.forward_inference, auto, src, wei, md([16], dt.f32, [1]), dst,
        [1, 1], [0, 0], [0, 0])


def test_scratch_too_large_is_out_of_memory(eng):
    """Found by make fuzz: a kernel's scratch is allocated with the primitive; one that
    cannot be (im2col rows of 2^44 input channels, padded: 512 TiB) escaped creation as
    numpy's MemoryError."""
    md, icg = dnnl.memory.desc, 2**44
    pd = dnnl.convolution_forward.primitive_desc(
        eng, dnnl.prop_kind.forward_inference, dnnl.algorithm.convolution_direct,
        md([1, 2 * icg, 3], dt.f32, tag.any), md([2, 0, icg, 1], dt.f32, tag.any), None,
        md([1, 0, 4], dt.f32, tag.any), [1], [1], [0])
    try:
        dnnl.convolution_forward(pd)  # an implementation that needs no such scratch
    except dnnl.error as e:
        assert e.status == dnnl.status.out_of_memory, e
        assert "cannot allocate the scratch memory" in str(e)


def test_api_fuzz_report():
    for family in ("api matmul", "api convolution", "api reorder"):
        report(family)
