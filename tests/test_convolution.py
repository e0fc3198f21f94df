"""Forward convolution against tests/reference.py: benchdnn's resnet_50 shapes, generated
odd shapes, every post-op, every implementation (CPU, and OpenCL when a device is
there), several layouts."""
import numpy as np
import pytest
from conftest import INPUTS
from helpers import CHANNELS_LAST, PLAIN, ocl_impls, run_conv, tag, to_memory
from reference import assert_close, conv_fwd, post_ops

import dnnl_py as dnnl
from dnnl_py.benchdnn.problems import parse_conv, read_batch
from dnnl_py.cpu import _kernels
from dnnl_py.cpu import convolution as cpu_conv
from dnnl_py.cpu.impl_list import IMPLS as CPU_LISTS
from dnnl_py.kinds import primitive_kind
from dnnl_py.layout import oc_inner_order
from dnnl_py.memory_desc import WINO_2X3, plain_desc

dt = dnnl.memory.data_type
md = dnnl.memory.desc
RESNET = list(read_batch(INPUTS / "shapes_resnet_50", parse_conv))
CPU_IMPLS = CPU_LISTS[primitive_kind.convolution]
OCL_IMPLS = ocl_impls("gemm", "ConvIgemm", "ConvRef")


def alg_of(impl):
    """The algorithm an implementation runs: cpu:wino_2x3 takes convolution_winograd
    only, the others convolution_direct (and auto)."""
    return (dnnl.algorithm.convolution_winograd if impl.winograd
            else dnnl.algorithm.convolution_direct)


def check(eng, strm, rng, n, g, ic, oc, i, k, s, d, pl, pr, bias=True, ops=(), **tags):
    sp = len(i)
    src = rng.standard_normal((n, ic, *i)).astype(np.float32)
    wei = rng.standard_normal((g, oc // g, ic // g, *k)).astype(np.float32)
    if g == 1 and rng.random() < 0.5:
        wei = wei[0]  # the no-groups form
    b = rng.standard_normal(oc).astype(np.float32) if bias else None
    wei_g = wei if wei.ndim == sp + 3 else wei[None]
    ref = conv_fwd(src, wei_g, b, s, d, pl, pr, g)
    dst_init = rng.standard_normal(ref.shape).astype(np.float32)
    out, pd = run_conv(eng, strm, src, wei, b, s, d, pl, pr, ops, dst_init=dst_init, **tags)
    assert out.shape == ref.shape
    assert_close(out, post_ops(ref, dst_init, ops), ic // g * int(np.prod(k)))
    return pd


@pytest.mark.parametrize("impl", [cpu_conv.ConvDirect, cpu_conv.ConvGemm, *OCL_IMPLS],
                         ids=lambda c: c.name)
@pytest.mark.parametrize("p", RESNET, ids=lambda p: p.name)
def test_resnet50_shapes(engine_for, rng, impl, p):
    eng, strm = engine_for(impl)
    pd = check(eng, strm, rng, 1, p.g, p.ic, p.oc, p.i[1:], p.k[1:], p.s[1:], p.d[1:],
               p.p[1:], p.pr[1:], ops=[("eltwise", "eltwise_relu", 0.0, 0.0)])
    assert pd.impl_info_str() == impl.name


# (n, g, ic, oc, i, k, s, d, pl, pr): primes, 1x1, large padding, dilation, groups,
# stride > kernel, asymmetric and negative right padding, 1D and 3D
ODD = [
    (1, 1, 3, 5, (7, 11), (3, 3), (1, 1), (0, 0), (1, 1), (1, 1)),
    (2, 1, 7, 13, (13,), (5,), (2,), (0,), (2,), (3,)),
    (1, 1, 5, 3, (5, 7, 6), (3, 2, 3), (1, 2, 1), (0, 1, 0), (1, 0, 1), (1, 1, 0)),
    (3, 1, 1, 1, (9, 9), (1, 1), (1, 1), (0, 0), (0, 0), (0, 0)),
    (1, 1, 4, 6, (6, 6), (3, 3), (1, 1), (0, 0), (4, 4), (4, 4)),
    (1, 1, 6, 4, (17, 19), (3, 3), (1, 1), (2, 3), (2, 3), (2, 3)),
    (2, 3, 6, 9, (8, 8), (3, 3), (1, 1), (0, 0), (1, 1), (1, 1)),
    (1, 8, 8, 8, (10, 10), (3, 3), (2, 2), (1, 1), (2, 2), (2, 2)),
    (1, 16, 16, 16, (7, 9), (5, 5), (1, 1), (0, 0), (2, 2), (2, 2)),
    (2, 1, 5, 7, (11, 11), (2, 2), (4, 4), (0, 0), (0, 0), (0, 0)),
    (1, 1, 8, 8, (14, 14), (1, 1), (2, 2), (0, 0), (0, 0), (-1, -1)),
    (1, 2, 4, 6, (5, 5, 5), (3, 3, 3), (1, 1, 1), (0, 0, 0), (1, 1, 1), (1, 1, 1)),
    (1, 5, 5, 5, (9,), (3,), (1,), (1,), (2,), (2,)),
    (1, 4, 4, 4, (6, 6, 6), (3, 3, 3), (2, 1, 1), (0, 0, 0), (1, 1, 1), (1, 1, 1)),
    (1, 1, 2, 3, (1, 1), (1, 1), (1, 1), (0, 0), (3, 3), (3, 3)),
    # oc per group a multiple of 16, for the direct kernel: a 64 + 16 channel tail,
    # groups, padding wider than the kernel, 3D, conv1-like, partial pixel blocks
    (1, 1, 3, 80, (13, 17), (3, 3), (2, 1), (1, 0), (1, 2), (2, 0)),
    (2, 2, 10, 32, (9, 11), (5, 5), (1, 1), (0, 0), (2, 2), (2, 2)),
    (1, 1, 7, 64, (5,), (7,), (1,), (0,), (4,), (4,)),
    (1, 1, 4, 16, (4, 5, 6), (3, 3, 3), (1, 1, 2), (0, 0, 1), (1, 1, 1), (1, 0, 1)),
    (1, 1, 9, 128, (23, 23), (7, 7), (2, 2), (0, 0), (3, 3), (3, 3)),
    (3, 1, 16, 48, (3, 5), (1, 1), (1, 1), (0, 0), (0, 0), (0, 0)),
]


def _layouts(nd):
    return {"plain": dict(src_tag=PLAIN[nd], dst_tag=PLAIN[nd]),
            "channels_last": dict(src_tag=CHANNELS_LAST[nd], dst_tag=CHANNELS_LAST[nd]),
            "any": {}}


@pytest.mark.parametrize("impl", CPU_IMPLS + OCL_IMPLS, ids=lambda c: c.name)
@pytest.mark.parametrize("layout", ["any", "plain", "channels_last"])
@pytest.mark.parametrize("shape", ODD, ids=lambda s: "x".join(map(str, s[4])) + f"g{s[1]}")
def test_odd_shapes(engine_for, rng, impl, layout, shape):
    n, g, ic, oc, i, k, s, d, pl, pr = shape
    eng, strm = engine_for(impl)
    try:
        pd = check(eng, strm, rng, n, g, ic, oc, i, k, s, d, pl, pr, bias=rng.random() < 0.7,
                   alg=alg_of(impl), **_layouts(len(i) + 2)[layout])
    except dnnl.error as e:
        # an implementation may decline a problem or layout, never fail on one it took
        assert e.status == dnnl.status.unimplemented and impl.name in str(e)
        if impl is cpu_conv.ConvRef or impl in OCL_IMPLS or (impl is cpu_conv.ConvGemm
                                                              and layout == "any"):
            raise
        if impl is cpu_conv.ConvDirect and layout != "plain" and (oc // g) % 16 == 0:
            raise
        return
    assert pd.impl_info_str() == impl.name



# (n, g, ic, oc, i, k, s, d, pl, pr) with ic per group a multiple of 16 and several taps:
# cpu:direct's row blocks (csrc/conv_direct.c, conv_rows). Rows narrower than a block
# (5), one block (14), split into 2 (15 -> 7 + 8) and 3 (30 -> 10 each); padding on
# every side, asymmetric, wider than the kernel (rows and blocks wholly in padding),
# negative; strides 2 and 3 (phases of the blocked source), dilation, groups, 1D, 3D,
# two images, 32 input channels (two units per tap), a 16-channel oc tail.
ROW_BLOCKS = [
    (1, 1, 16, 32, (9, 5), (3, 3), (1, 1), (0, 0), (1, 2), (2, 0)),
    (2, 1, 32, 48, (14, 14), (3, 3), (1, 1), (0, 0), (1, 1), (1, 1)),
    (1, 1, 16, 16, (6, 15), (3, 3), (1, 1), (0, 0), (1, 1), (1, 1)),
    (1, 1, 16, 80, (4, 30), (1, 3), (1, 1), (0, 0), (0, 1), (0, 1)),
    (1, 1, 16, 16, (5, 5), (3, 3), (1, 1), (0, 0), (4, 4), (4, 4)),
    (1, 1, 16, 32, (11, 13), (3, 3), (2, 2), (0, 0), (1, 1), (1, 1)),
    (1, 1, 16, 16, (10, 17), (3, 5), (3, 3), (0, 1), (2, 3), (1, 0)),
    (1, 1, 16, 16, (12, 12), (3, 3), (1, 1), (2, 1), (2, 1), (-1, 0)),
    (2, 2, 32, 64, (7, 9), (3, 3), (1, 1), (0, 0), (1, 1), (1, 1)),
    (1, 1, 16, 32, (37,), (5,), (2,), (1,), (3,), (2,)),
    (1, 1, 16, 16, (4, 5, 17), (3, 3, 3), (1, 2, 1), (1, 0, 0), (1, 1, 1), (1, 0, 2)),
]


# relu and clip go into the row blocks' registers on their last pass (with the bias;
# fused.h), a sum or any other eltwise into a pass over the output
@pytest.mark.parametrize("ops", [(), (("eltwise", "eltwise_relu", 0.0, 0.0),),
                                 (("eltwise", "eltwise_clip", -0.5, 0.75),),
                                 (("sum", 0.5), ("eltwise", "eltwise_tanh", 0.0, 0.0))],
                         ids=lambda ops: ops_id(ops) or "none")
@pytest.mark.parametrize("shape", ROW_BLOCKS,
                         ids=lambda s: "x".join(map(str, s[4])) + f"k{s[5][-1]}s{s[6][-1]}g{s[1]}")
def test_direct_row_blocks(eng, strm, rng, only_impl, shape, ops):
    n, g, ic, oc, i, k, s, d, pl, pr = shape
    only_impl(cpu_conv.ConvDirect)
    pd = check(eng, strm, rng, n, g, ic, oc, i, k, s, d, pl, pr, bias=True, ops=ops)
    assert pd.impl_info_str() == cpu_conv.ConvDirect.name



@pytest.mark.parametrize("params", [(16, 1), (32, 48), (128, 160), (64, 5000)],
                         ids=lambda p: f"ocw{p[0]}kc{p[1]}")
def test_direct_row_blocks_blocking(eng, strm, rng, only_impl, monkeypatch, params):
    """Blockings tuning may pick: one unit of 16 channels per pass (every later pass
    adds to what the first stored), 16-channel work items, passes longer than the
    kernel's limit (64 units)."""
    only_impl(cpu_conv.ConvDirect)
    monkeypatch.setattr(cpu_conv.ConvDirect, "params", lambda self: params)
    dnnl.clear_primitive_cache()
    pd = check(eng, strm, rng, 1, 1, 32, 48, (6, 9), (3, 3), (1, 2), (0, 0), (1, 2), (2, 1),
               ops=[("sum", 0.5)])
    assert pd.impl_info_str() == cpu_conv.ConvDirect.name


@pytest.mark.parametrize("ocw", [16, 32])
def test_direct_row_blocks_oc_major(eng, strm, rng, only_impl, monkeypatch, ocw):
    """Weights over 4x the blocked source (64 -> 64 channels, 3x3, 20 rows of 3 pixels:
    147 KB against 28 KB an image): the work items go output-channel block first
    (conv_direct.c, oc_major), several blocks of rows to each channel block, two images,
    two groups, a sum."""
    only_impl(cpu_conv.ConvDirect)
    monkeypatch.setattr(cpu_conv.ConvDirect, "params", lambda self: (ocw, 96))
    dnnl.clear_primitive_cache()
    pd = check(eng, strm, rng, 2, 2, 64, 64, (20, 3), (3, 3), (1, 1), (0, 0), (1, 1), (1, 1),
               bias=True, ops=[("sum", 0.5)])
    assert pd.impl_info_str() == cpu_conv.ConvDirect.name


# (n, ic, oc, i, s, pl, params) 1x1s on cpu:direct's per-pixel path. Those whose src +
# dst exceed 16 MB (STREAM_BYTES) prefetch each next block's source and dst lines, one
# per step over its channel blocks (csrc/conv_direct.c, pixels): 13000 pixels an image
# (a last chunk of 8, short blocks), 48 output channels (a 32 and a 16 channel block:
# unequal shares), 20 input channels (rows starting mid-line), 160 -> 128 channels in
# one pass (more lines than MAX_PF). The small ones do not: a stride and padding
# (pixels apart, the padded copy), a reduction over several passes.
DIRECT_1X1 = [
    (3, 64, 48, (100, 130), (1, 1), (0, 0), (64, 96)),
    (2, 20, 16, (240, 245), (1, 1), (0, 0), (32, 96)),
    (1, 160, 128, (120, 125), (1, 1), (0, 0), (128, 160)),
    (2, 64, 48, (9, 17), (1, 1), (0, 0), (64, 96)),
    (1, 32, 32, (11, 13), (2, 2), (1, 0), (32, 48)),
    (1, 96, 32, (7, 7), (1, 1), (0, 0), (32, 48)),
]


@pytest.mark.parametrize("ops", [(), (("sum", 0.5),)], ids=lambda ops: ops_id(ops) or "none")
@pytest.mark.parametrize("shape", DIRECT_1X1, ids=lambda s: f"n{s[0]}ic{s[1]}oc{s[2]}s{s[4][0]}")
def test_direct_1x1_prefetch(eng, strm, rng, only_impl, monkeypatch, shape, ops):
    n, ic, oc, i, s, pl, params = shape
    only_impl(cpu_conv.ConvDirect)
    monkeypatch.setattr(cpu_conv.ConvDirect, "params", lambda self: params)
    monkeypatch.setattr(cpu_conv.ConvDirect, "defers", lambda self: False)
    dnnl.clear_primitive_cache()
    pd = check(eng, strm, rng, n, 1, ic, oc, i, (1, 1), s, (0, 0), pl, (0, 0), ops=ops)
    assert pd.impl_info_str() == cpu_conv.ConvDirect.name


@pytest.mark.parametrize("impl", [c for c in CPU_IMPLS + OCL_IMPLS  # 3x3: not the 1x1 GEMM
                                  if c not in (cpu_conv.ConvDepthwise, cpu_conv.ConvPacked1x1)],
                         ids=lambda c: c.name)
def test_inf_stays_in_its_windows(engine_for, rng, impl):
    """An inf (or NaN) in the source reaches only the outputs whose window covers it: the
    padding adds nothing, never 0 * the value at some other position. Winograd's
    transforms subtract, so there an inf may come out as NaN, but in the same places."""
    eng, strm = engine_for(impl)
    src = rng.standard_normal((1, 16, 8, 7)).astype(np.float32)
    src[0, :, 0, 0], src[0, :, 7, 6], src[0, :, 3, 4] = np.inf, np.nan, -np.inf
    wei = np.abs(rng.standard_normal((16, 16, 3, 3))).astype(np.float32) + 0.1  # inf stays inf
    out, pd = run_conv(eng, strm, src, wei, None, (1, 1), (0, 0), (1, 1), (1, 1),
                       alg=alg_of(impl))
    with np.errstate(invalid="ignore"):
        ref = conv_fwd(src, wei[None], None, (1, 1), (0, 0), (1, 1), (1, 1), 1)
    assert pd.impl_info_str() == impl.name
    np.testing.assert_array_equal(np.isfinite(out), np.isfinite(ref))
    if not impl.winograd:
        np.testing.assert_array_equal(np.isnan(out), np.isnan(ref))

# (n, ic, oc, i, pl, pr): 3x3 stride-1 problems for cpu:wino_2x3 (csrc/conv_winograd.c).
# Odd output sizes (a last tile row or column half outside), padding 0, 1, 2, asymmetric
# and negative, a single tile, more tiles than a block (28) and a partial block, 16 and
# 48 output channels (a 16-channel register block), two images, and 3D with kd = 1;
# with fewer blocks of tiles than two a thread (15 x 11 and 6 x 6, 64 and 80 channels)
# the threads split the channels (2 and 3 vectors of 16 on 2 threads).
WINO = [
    (1, 16, 32, (7, 9), (1, 1), (1, 1)),
    (2, 32, 48, (12, 13), (1, 1), (1, 1)),
    (1, 16, 16, (4, 4), (0, 0), (0, 0)),
    (1, 16, 16, (3, 3), (0, 0), (0, 0)),
    (1, 48, 32, (9, 16), (2, 0), (1, 2)),
    (1, 16, 64, (15, 11), (0, 1), (-1, 0)),
    (1, 32, 32, (21, 19), (1, 1), (1, 1)),
    (3, 16, 16, (2, 30), (1, 1), (1, 1)),
    (1, 16, 16, (3, 6, 7), (0, 1, 1), (0, 1, 1)),
    (1, 32, 80, (6, 6), (1, 1), (1, 1)),
]


# relu and clip, with the bias and a sum before them, go into the output transform's
# registers (fused.h); a tanh and a binary add through dnnl_epilogue_row
@pytest.mark.parametrize("ops", [(), (("eltwise", "eltwise_relu", 0.0, 0.0),),
                                 (("sum", 0.5), ("eltwise", "eltwise_clip", -0.5, 0.75)),
                                 (("sum", 0.5), ("eltwise", "eltwise_tanh", 0.0, 0.0))],
                         ids=lambda ops: ops_id(ops) or "none")
@pytest.mark.parametrize("shape", WINO, ids=lambda s: "x".join(map(str, s[3])) + f"p{s[4][-1]}")
def test_winograd_shapes(eng, strm, rng, only_impl, shape, ops):
    n, ic, oc, i, pl, pr = shape
    only_impl(cpu_conv.ConvWinograd)
    k = (1, 3, 3) if len(i) == 3 else (3,) * len(i)
    pd = check(eng, strm, rng, n, 1, ic, oc, i, k, (1,) * len(i), (0,) * len(i), pl, pr,
               ops=ops, alg=dnnl.algorithm.convolution_winograd)
    assert pd.impl_info_str() == cpu_conv.ConvWinograd.name


@pytest.mark.parametrize("ops", [(("binary", "binary_add", "residual"),
                                  ("eltwise", "eltwise_relu", 0.0, 0.0)),
                                 (("binary", "binary_mul", "per_channel"), ("sum", 1.5))],
                         ids=["add+relu", "mul+sum"])
def test_winograd_binary_post_ops(eng, strm, rng, only_impl, ops):
    """Binary post-ops go through dnnl_epilogue_row at each output pixel of a tile
    (a half-outside last tile row and column: 7 x 9 outputs)."""
    only_impl(cpu_conv.ConvWinograd)
    pd = check_with_binary(eng, strm, rng, 2, 32, 48, (7, 9), (3, 3), (1, 1), ops,
                           dnnl.algorithm.convolution_winograd)
    assert pd.impl_info_str() == cpu_conv.ConvWinograd.name


def test_winograd_is_asked_for_or_chosen(eng, strm, rng):
    """convolution_direct never runs Winograd; convolution_winograd on a problem it does
    not take is unimplemented; convolution_auto takes it on res2's 3x3 (3136 pixels, 64
    channels) and keeps the direct kernel where the weights outweigh the pixels (res5's:
    49 pixels, 512 channels)."""
    direct, wino, auto = (dnnl.algorithm.convolution_direct,
                          dnnl.algorithm.convolution_winograd, dnnl.algorithm.convolution_auto)
    res2 = (1, 1, 64, 64, (56, 56), (3, 3), (1, 1), (0, 0), (1, 1), (1, 1))
    assert check(eng, strm, rng, *res2, alg=direct).impl_info_str() == cpu_conv.ConvDirect.name
    if _kernels.cpu_isa() == "avx512":
        assert check(eng, strm, rng, *res2, alg=auto).impl_info_str() == \
            cpu_conv.ConvWinograd.name
    res5 = (1, 1, 512, 512, (7, 7), (3, 3), (1, 1), (0, 0), (1, 1), (1, 1))
    assert check(eng, strm, rng, *res5, alg=auto).impl_info_str() == cpu_conv.ConvDirect.name
    assert check(eng, strm, rng, *res5, alg=wino).impl_info_str() == \
        cpu_conv.ConvWinograd.name
    with pytest.raises(dnnl.error) as e:  # stride 2
        check(eng, strm, rng, 1, 1, 16, 16, (8, 8), (3, 3), (2, 2), (0, 0), (1, 1), (1, 1),
              alg=wino)
    assert e.value.status == dnnl.status.unimplemented and "cpu:wino_2x3" in str(e.value)


@pytest.mark.parametrize("wdims", [(48, 32, 3, 3), (1, 48, 32, 3, 3), (48, 32, 1, 3, 3),
                                   (1, 48, 32, 1, 3, 3)],
                         ids=["2D", "grouped", "3D", "grouped 3D"])
def test_winograd_weights_transformed_once(eng, strm, rng, wdims):
    """`any` weights resolve to Winograd's transformed ones (opaque wino_2x3_aaio), made
    by a reorder from any layout into the same bytes; with them the convolution gives
    bit for bit what it gives from 3x3 weights with oc innermost, which it transforms on
    every call (one transform, csrc/conv_winograd.c's), and both match the reference."""
    sp = (1, 7, 9) if len(wdims) == 6 or len(wdims) == 5 and wdims[0] != 1 else (7, 9)
    src = rng.standard_normal((2, 32, *sp)).astype(np.float32)
    wei = rng.standard_normal(wdims).astype(np.float32)
    bias = rng.standard_normal(48).astype(np.float32)
    nd = len(sp)
    one = [1] * nd

    def pd_with(wei_md):
        return dnnl.convolution_forward.primitive_desc(
            eng, dnnl.prop_kind.forward_inference, dnnl.algorithm.convolution_winograd,
            md(src.shape, dt.f32, tag.any), wei_md, md([48], dt.f32, tag.a),
            md((2, 48, *sp), dt.f32, tag.any), one, [0] * nd, [0] * (nd - 2) + [1, 1],
            [0] * (nd - 2) + [1, 1])
    transformed = pd_with(md(wdims, dt.f32, tag.any))
    w_md = transformed.weights_desc()
    assert w_md.tag_str() == WINO_2X3 and w_md.get_size() == 16 * 48 * 32 * 4
    grouped = len(wdims) == 6 or wdims[0] == 1
    order = oc_inner_order(len(wdims) - (3 if grouped else 2), grouped)
    oc_inner = plain_desc(wdims, dt.f32, order)
    per_call = pd_with(oc_inner)
    assert per_call.weights_desc() == oc_inner
    us = []  # U from three layouts of the same weights
    for order_of in ("abcdef"[:len(wdims)], order, order[::-1]):
        user = to_memory(eng, strm, wei, plain_desc(wdims, dt.f32, order_of))
        u = dnnl.memory(w_md, eng)
        dnnl.reorder(user, u).execute(strm, user, u)
        us.append(u)
    for u in us[1:]:
        assert np.array_equal(u.get_data_handle(), us[0].get_data_handle())
    outs = []
    for pd, w_mem in ((transformed, us[0]), (per_call, to_memory(eng, strm, wei, oc_inner))):
        assert pd.impl_info_str() == cpu_conv.ConvWinograd.name
        s_mem = to_memory(eng, strm, src, pd.src_desc())
        d_mem = dnnl.memory(pd.dst_desc(), eng)
        dnnl.convolution_forward(pd).execute(strm, {
            dnnl.ARG_SRC: s_mem, dnnl.ARG_WEIGHTS: w_mem, dnnl.ARG_DST: d_mem,
            dnnl.ARG_BIAS: dnnl.memory(md([48], dt.f32, tag.a), eng, bias)})
        outs.append(d_mem.to_numpy())
    assert np.array_equal(outs[0], outs[1])
    w5 = wei.reshape((1, 48, 32) + (1,) * (nd - 2) + (3, 3))
    ref = conv_fwd(src, w5, bias, one, [0] * nd, [0] * (nd - 2) + [1, 1],
                   [0] * (nd - 2) + [1, 1], 1)
    assert_close(outs[0], ref, 32 * 9)
    with pytest.raises(dnnl.error) as e:  # 3x3 weights where U is expected
        dnnl.convolution_forward(transformed).execute(strm, {
            dnnl.ARG_SRC: to_memory(eng, strm, src, transformed.src_desc()),
            dnnl.ARG_WEIGHTS: to_memory(eng, strm, wei, oc_inner),
            dnnl.ARG_DST: dnnl.memory(transformed.dst_desc(), eng)})
    assert e.value.status == dnnl.status.invalid_arguments
    with pytest.raises(dnnl.error) as e:  # no other implementation reads U
        dnnl.convolution_forward.primitive_desc(
            eng, dnnl.prop_kind.forward_inference, dnnl.algorithm.convolution_direct,
            md(src.shape, dt.f32, tag.any), w_md, None, md((2, 48, *sp), dt.f32, tag.any),
            one, [0] * nd, [0] * (nd - 2) + [1, 1], [0] * (nd - 2) + [1, 1])
    assert e.value.status == dnnl.status.unimplemented


@pytest.mark.parametrize("oc, iw", [(64, 7), (80, 5), (144, 15)])
def test_direct_short_rows(eng, strm, rng, oc, iw):
    """Row blocks of at most 7 pixels take 64 channels at a time (conv_direct.c's
    WIDE_NV), the rest of the channels 32 or 16: rows of 7 and 5 pixels, a row of 15
    cut into blocks of 7 and 8 (one of each kind), with a sum and a relu."""
    pd = check(eng, strm, rng, 2, 1, 32, oc, (6, iw), (3, 3), (1, 1), (0, 0), (1, 1), (1, 1),
               ops=[("sum", 0.5), ("eltwise", "eltwise_relu", 0.0, 0.0)])
    assert pd.impl_info_str() == cpu_conv.ConvDirect.name


ALL_OPS = [
    [("eltwise", "eltwise_relu", 0.0, 0.0)],
    [("eltwise", "eltwise_relu", 0.1, 0.0)],
    [("eltwise", "eltwise_gelu_tanh", 0.0, 0.0)],
    [("eltwise", "eltwise_gelu_erf", 0.0, 0.0)],
    [("eltwise", "eltwise_tanh", 0.0, 0.0)],
    [("eltwise", "eltwise_logistic", 0.0, 0.0)],
    [("eltwise", "eltwise_swish", 1.5, 0.0)],
    [("eltwise", "eltwise_linear", 0.5, -2.0)],
    [("eltwise", "eltwise_clip", -0.5, 0.75)],
    [("sum", 1.0)],
    [("sum", 0.5), ("eltwise", "eltwise_relu", 0.0, 0.0)],
    [("eltwise", "eltwise_tanh", 0.0, 0.0), ("sum", 2.0), ("eltwise", "eltwise_linear", 2.0, 1.0)],
]


def ops_id(ops) -> str:
    return "+".join(op[1] if op[0] != "sum" else "sum" for op in ops)


@pytest.mark.parametrize("impl", [c for c in CPU_IMPLS  # 1x1 only: test_packed_1x1;
                                  # 16-channel multiples: test_winograd_shapes
                                  if c not in (cpu_conv.ConvPacked1x1, cpu_conv.ConvWinograd)]
                         + OCL_IMPLS, ids=lambda c: c.name)
@pytest.mark.parametrize("ops", ALL_OPS, ids=ops_id)
def test_post_ops(engine_for, rng, impl, ops):
    eng, strm = engine_for(impl)
    g = 6 if impl is cpu_conv.ConvDepthwise else 1
    oc = 80 if impl is cpu_conv.ConvDirect or impl in OCL_IMPLS else 6  # full + partial blocks
    pd = check(eng, strm, rng, 2, g, 6, oc, (9, 10), (3, 3), (1, 1), (0, 0), (1, 1), (1, 1),
               ops=ops)
    assert pd.impl_info_str() == impl.name


def test_depthwise_is_chosen(eng, strm, rng):
    pd = check(eng, strm, rng, 1, 32, 32, 32, (12, 12), (3, 3), (1, 1), (0, 0), (1, 1), (1, 1))
    assert pd.impl_info_str().startswith("cpu:direct_dw:")


@pytest.mark.parametrize("n, c, i, k, s, d, pl, pr", [
    (2, 37, (9, 11), (3, 3), (2, 2), (0, 0), (1, 1), (1, 0)),   # 16-channel blocks + 5 left
    (1, 48, (7, 7), (5, 5), (1, 1), (1, 1), (4, 4), (4, 4)),    # dilated, padding > kernel/2
    (1, 16, (13,), (3,), (2,), (0,), (1,), (1,)),                # 1D
    (1, 20, (4, 5, 6), (3, 3, 3), (1, 2, 1), (0, 0, 0), (1, 1, 1), (1, 0, 1)),  # 3D
    (1, 32, (3, 3), (3, 3), (1, 1), (0, 0), (2, 2), (2, 2)),    # edge rows mostly padding
    (1, 40, (5, 43), (3, 3), (1, 1), (0, 0), (1, 1), (1, 1)),   # register blocks + the rest
    (2, 16, (6, 53), (3, 5), (2, 2), (1, 1), (1, 3), (0, 2)),   # ... strided, dilated
])
def test_depthwise_shapes(eng, strm, rng, n, c, i, k, s, d, pl, pr):
    """The depthwise kernel (a row at a time, padded taps skipped) against the float64
    reference: channel counts with and without a tail, strides, dilation, padding wider
    than the kernel's reach, 1D and 3D, with a sum and a relu6 clip."""
    for ops in ([], [("sum", 0.5), ("eltwise", "eltwise_clip", 0.0, 6.0)]):
        pd = check(eng, strm, rng, n, c, c, c, i, k, s, d, pl, pr, ops=ops)
        assert pd.impl_info_str().startswith("cpu:direct_dw:")


def test_user_layouts_keep(eng):
    """Explicit layouts are kept; `any` resolves to the implementation's choice."""
    md = dnnl.memory.desc
    f32 = dnnl.memory.data_type.f32
    pd = dnnl.convolution_forward.primitive_desc(
        eng, dnnl.prop_kind.forward_training, dnnl.algorithm.convolution_direct,
        md([1, 8, 5, 5], f32, tag.nchw), md([4, 8, 3, 3], f32, tag.oihw), None,
        md([1, 4, 5, 5], f32, tag.nchw), [1, 1], [1, 1], [1, 1])
    assert pd.src_desc() == md([1, 8, 5, 5], f32, tag.nchw)
    assert pd.weights_desc() == md([4, 8, 3, 3], f32, tag.oihw)
    assert pd.bias_desc().is_zero()
    assert pd.get_strides() == [1, 1] and pd.get_padding_l() == [1, 1]
    pd = dnnl.convolution_forward.primitive_desc(
        eng, dnnl.prop_kind.forward_inference, dnnl.algorithm.convolution_direct,
        md([1, 8, 5, 5], f32, tag.any), md([4, 8, 3, 3], f32, tag.any), None,
        md([1, 4, 5, 5], f32, tag.any), [1, 1], [0, 0], [1, 1], [1, 1])
    assert pd.src_desc() == md([1, 8, 5, 5], f32, tag.nhwc)
    assert pd.weights_desc() == md([4, 8, 3, 3], f32, tag.hwio)


def test_direct_defers_to_blas_on_expanding_1x1(eng, strm, rng, monkeypatch):
    """The direct kernel is first in the list but defers on a 1x1 that expands the
    channels over many pixels or with strides, not over few (ConvDirect.FEW_PIXELS);
    it is still used when nothing after it accepts (see test_resnet50_shapes). Without
    the packed 1x1 GEMM, which takes the unstrided expanding ones first when there is
    AVX-512 (test_packed_1x1_chosen)."""
    monkeypatch.setitem(CPU_LISTS, primitive_kind.convolution,
                        [c for c in CPU_IMPLS if c is not cpu_conv.ConvPacked1x1])
    pd = check(eng, strm, rng, 1, 1, 16, 64, (17, 17), (1, 1), (1, 1), (0, 0), (0, 0), (0, 0))
    assert pd.impl_info_str() == "cpu:gemm:blas"
    pd = check(eng, strm, rng, 2, 1, 16, 64, (12, 12), (1, 1), (1, 1), (0, 0), (0, 0), (0, 0))
    assert pd.impl_info_str() == "cpu:gemm:blas"  # 288 pixels over the two images
    pd = check(eng, strm, rng, 1, 1, 16, 64, (8, 8), (1, 1), (2, 2), (0, 0), (0, 0), (0, 0))
    assert pd.impl_info_str() == "cpu:gemm:blas"
    pd = check(eng, strm, rng, 1, 1, 16, 64, (8, 8), (1, 1), (1, 1), (0, 0), (0, 0), (0, 0))
    assert pd.impl_info_str().startswith("cpu:direct:")
    pd = check(eng, strm, rng, 3, 1, 20, 48, (7, 5), (1, 1), (1, 1), (0, 0), (0, 0), (0, 0))
    assert pd.impl_info_str().startswith("cpu:direct:")  # 105 pixels, odd ic and sizes
    pd = check(eng, strm, rng, 1, 1, 64, 16, (8, 8), (1, 1), (1, 1), (0, 0), (0, 0), (0, 0))
    assert pd.impl_info_str().startswith("cpu:direct:")
    pd = check(eng, strm, rng, 1, 1, 3, 32, (9, 9), (3, 3), (2, 2), (0, 0), (1, 1), (1, 1))
    assert pd.impl_info_str().startswith("cpu:direct:")


AVX512 = _kernels.cpu_isa() == "avx512"


@pytest.mark.skipif(not AVX512, reason="the packed GEMM needs AVX-512")
@pytest.mark.parametrize("n, ic, oc, i", [(1, 37, 70, (5, 7)), (2, 129, 33, (3, 5)),
                                          (3, 1, 32, (4, 3)), (1, 300, 5, (1, 13))])
@pytest.mark.parametrize("ops", [(), (("sum", 0.5),), (("eltwise", "eltwise_relu", 0.1, 0.0),),
                                 (("binary", "binary_add", "residual"),
                                  ("eltwise", "eltwise_relu", 0.0, 0.0)),
                                 (("binary", "binary_mul", "per_channel"), ("sum", 1.5))],
                         ids=lambda ops: "+".join(op[1] if op[0] != "sum" else "sum"
                                                  for op in ops) or "none")
def test_packed_1x1(eng, strm, rng, only_impl, n, ic, oc, i, ops):
    """A 1x1 stride-1 convolution with `any` layouts runs on the packed GEMM: nhwc
    activations, weights in its panels ([oc/32][ic][32]), a reorder packing them; tails
    in pixels (register blocks), ic (K blocks of 128) and oc (a partial panel); bias,
    eltwise, sum and binary post-ops (a residual nhwc tensor, a per-channel one), against
    float64 numpy. Alone in the list: where ic >= oc it defers (test_packed_1x1_chosen)."""
    only_impl(cpu_conv.ConvPacked1x1)
    md = dnnl.memory.desc
    pd = check_with_binary(eng, strm, rng, n, ic, oc, i, (1, 1), (0, 0), ops,
                           dnnl.algorithm.convolution_direct)
    assert pd.impl_info_str() == "cpu:gemm_packed_1x1:avx512"
    assert pd.src_desc() == md((n, ic, *i), dt.f32, tag.nhwc)
    assert pd.dst_desc() == md((n, oc, *i), dt.f32, tag.nhwc)
    assert not pd.weights_desc().is_plain()
    assert pd.weights_desc().get_size() == -(-oc // 32) * 32 * ic * 4


def check_with_binary(eng, strm, rng, n, ic, oc, i, k, pad, ops, alg):
    """check() for post-op lists that may hold binary ops (a residual tensor of dst's
    shape, or a per-channel one), with bias, `any` layouts, stride 1; the pd."""
    md = dnnl.memory.desc
    src = rng.standard_normal((n, ic, *i)).astype(np.float32)
    wei = rng.standard_normal((oc, ic, *k)).astype(np.float32)
    b = rng.standard_normal(oc).astype(np.float32)
    ref = conv_fwd(src, wei[None], b, (1, 1), (0, 0), pad, pad, 1)
    init = rng.standard_normal(ref.shape).astype(np.float32)
    po, src1 = dnnl.post_ops(), {}
    for j, op in enumerate(ops):
        if op[0] == "binary":
            dims = ref.shape if op[2] == "residual" else (1, oc, 1, 1)
            src1[j] = rng.standard_normal(dims).astype(np.float32)
            po.append_binary(getattr(dnnl.algorithm, op[1]), md(dims, dt.f32, tag.any))
            ref = (np.add if op[1] == "binary_add" else np.multiply)(ref, src1[j])
        else:
            ref = post_ops(ref, init, [op])
            if op[0] == "sum":
                po.append_sum(op[1])
            else:
                po.append_eltwise(getattr(dnnl.algorithm, op[1]), op[2], op[3])
    attr = dnnl.primitive_attr()
    attr.set_post_ops(po)
    pd = dnnl.convolution_forward.primitive_desc(
        eng, dnnl.prop_kind.forward_inference, alg, md(src.shape, dt.f32, tag.any),
        md(wei.shape, dt.f32, tag.any), md([oc], dt.f32, tag.a),
        md(init.shape, dt.f32, tag.any), [1, 1], list(pad), list(pad), attr=attr)
    args = {dnnl.ARG_SRC: to_memory(eng, strm, src, pd.src_desc()),
            dnnl.ARG_WEIGHTS: to_memory(eng, strm, wei, pd.weights_desc()),
            dnnl.ARG_BIAS: dnnl.memory(pd.bias_desc(), eng, b),
            dnnl.ARG_DST: to_memory(eng, strm, init, pd.dst_desc())}
    for j, a in src1.items():
        arg = dnnl.ARG_ATTR_MULTIPLE_POST_OP(j) | dnnl.ARG_SRC_1
        args[arg] = to_memory(eng, strm, a, pd.query_md(arg))
    dnnl.convolution_forward(pd).execute(strm, args)
    strm.wait()
    assert_close(args[dnnl.ARG_DST].to_numpy(), ref, ic * int(np.prod(k)))
    return pd


@pytest.mark.skipif(not AVX512, reason="the packed GEMM needs AVX-512")
def test_packed_1x1_chosen(eng, strm, rng):
    """The packed 1x1 GEMM is chosen for unpadded one-group 1x1s that expand or contract
    the channels, few pixels or many."""
    name = "cpu:gemm_packed_1x1:avx512"
    for n, ic, oc, i in [(1, 16, 64, (17, 17)), (2, 16, 64, (12, 12)), (1, 16, 64, (8, 8)),
                         (3, 20, 48, (7, 5))]:
        pd = check(eng, strm, rng, n, 1, ic, oc, i, (1, 1), (1, 1), (0, 0), (0, 0), (0, 0))
        assert pd.impl_info_str() == name
    for i in [(9,), (3, 4, 5)]:  # 1D and 3D (weights with or without the groups dim)
        pd = check(eng, strm, rng, 2, 1, 5, 40, i, (1,) * len(i), (1,) * len(i), (0,) * len(i),
                   (0,) * len(i), (0,) * len(i), ops=[("sum", 0.5)])
        assert pd.impl_info_str() == name
    for ic, oc in ((64, 16), (48, 48), (272, 48)):  # contracting, square, long reduction
        pd = check(eng, strm, rng, 1, 1, ic, oc, (8, 8), (1, 1), (1, 1), (0, 0), (0, 0), (0, 0))
        assert pd.impl_info_str() == name


@pytest.mark.skipif(not AVX512, reason="the packed GEMM needs AVX-512")
def test_packed_1x1_defers_when_streaming(eng):
    """Beyond the caches (src + dst over 16 MiB) a 1x1 with few FLOPs per byte goes to
    the direct kernel, which prefetches ahead (ConvPacked1x1.defers); a wide one stays."""
    def impl(mb, ic, oc, hw):
        pd = dnnl.convolution_forward.primitive_desc(
            eng, dnnl.prop_kind.forward_inference, dnnl.algorithm.convolution_direct,
            md([mb, ic, hw, hw], dt.f32, tag.any), md([oc, ic, 1, 1], dt.f32, tag.any),
            md([mb, oc, hw, hw], dt.f32, tag.any), [1, 1], [0, 0], [0, 0])
        return pd.impl_info_str()
    packed = "cpu:gemm_packed_1x1:avx512"
    assert impl(1, 64, 256, 56) == packed                    # 4 MB: in the caches
    assert impl(32, 64, 256, 56).startswith("cpu:direct:")   # 128 MB, 64 x 256 < 96 x 320
    assert impl(32, 256, 64, 56).startswith("cpu:direct:")
    assert impl(8, 128, 512, 28) == packed                   # 16 MB+, 128 x 512 > 96 x 640


def check_nonfinite(eng, strm, src, wei, bias, pad, ops, init=None):
    """A 2D convolution (stride 1, padding pad all round) against the reference when src
    holds NaN and inf: NaN and inf exactly where the reference has them, the finite
    outputs within tolerance. Returns the primitive descriptor."""
    pads = (pad, pad)
    out, pd = run_conv(eng, strm, src, wei, bias, (1, 1), (0, 0), pads, pads, ops,
                       dst_init=init)
    with np.errstate(invalid="ignore"):
        ref = post_ops(conv_fwd(src, wei[None], bias, (1, 1), (0, 0), pads, pads, 1), init,
                       ops)
    np.testing.assert_array_equal(np.isnan(out), np.isnan(ref))
    np.testing.assert_array_equal(np.isinf(out), np.isinf(ref))
    finite = np.isfinite(ref)
    assert_close(out[finite], ref[finite], wei[0].size)
    return pd


@pytest.mark.skipif(not AVX512, reason="the packed GEMM needs AVX-512")
@pytest.mark.parametrize("ops", [[("eltwise", "eltwise_relu", 0.0, 0.0)],
                                 [("eltwise", "eltwise_relu", 0.25, 0.0)],
                                 [("eltwise", "eltwise_clip", -0.5, 6.0)],
                                 [("sum", 1.0), ("eltwise", "eltwise_clip", 0.0, 6.0)],
                                 [("sum", 0.5), ("eltwise", "eltwise_relu", 0.0, 0.0)],
                                 [("sum", 1.0)]])
def test_packed_1x1_post_ops_in_registers(eng, strm, rng, ops):
    """Bias, sum and relu or clip applied in the register blocks (gemm_packed.c's
    fused_t) give the epilogue's results: NaN and inf where the reference has them, a
    negative slope, clip bounds, a partial panel (oc 40); a reduction longer than one K
    block (ic 1100) takes the sum through the separate epilogue and is as right."""
    for ic, oc in ((24, 40), (1100, 48)):
        src = rng.standard_normal((1, ic, 5, 6)).astype(np.float32)
        src[0, :, 1, 1], src[0, 3, 2, 4], src[0, :, 4, 0] = np.inf, np.nan, -np.inf
        wei = np.abs(rng.standard_normal((oc, ic, 1, 1))).astype(np.float32)
        bias = rng.standard_normal(oc).astype(np.float32)
        init = rng.standard_normal((1, oc, 5, 6)).astype(np.float32)
        pd = check_nonfinite(eng, strm, src, wei, bias, 0, ops, init)
        assert pd.impl_info_str() == "cpu:gemm_packed_1x1:avx512"


@pytest.mark.parametrize("ops", [[("eltwise", "eltwise_relu", 0.0, 0.0)],
                                 [("eltwise", "eltwise_relu", 0.25, 0.0)],
                                 [("eltwise", "eltwise_clip", -0.5, 6.0)]])
def test_direct_rows_post_ops_in_registers(eng, strm, rng, only_impl, ops):
    """The direct kernel's row blocks apply bias and relu or clip in registers on their
    last pass (conv_direct.c, fused.h) with the epilogue's results: NaN and inf where
    the reference has them, a negative slope, clip bounds, 64-, 32- and 16-channel
    blocks (oc 112, rows of 5 pixels)."""
    only_impl(cpu_conv.ConvDirect)
    src = rng.standard_normal((1, 16, 6, 5)).astype(np.float32)
    src[0, :, 1, 1], src[0, 3, 3, 4], src[0, :, 5, 0] = np.inf, np.nan, -np.inf
    wei = np.abs(rng.standard_normal((112, 16, 3, 3))).astype(np.float32)
    bias = rng.standard_normal(112).astype(np.float32)
    pd = check_nonfinite(eng, strm, src, wei, bias, 1, ops)
    assert pd.impl_info_str() == cpu_conv.ConvDirect.name


@pytest.mark.skipif(not AVX512, reason="the packed GEMM needs AVX-512")
@pytest.mark.parametrize("n, ic, oc, i, s, pr", [
    (1, 64, 128, (14, 14), (2, 2), (0, 0)),      # ResNet's downsample, smaller
    (2, 24, 48, (13, 11), (2, 3), (0, 0)),       # odd sizes, strides that do not divide
    (1, 8, 40, (14, 14), (2, 2), (-1, -1)),      # negative right padding: same pixels
    (3, 5, 33, (7, 9), (3, 1), (0, 0)),          # a partial panel, a stride on one axis
    (2, 6, 32, (5, 6, 7), (2, 1, 3), (0, 0, 0)),  # 3D
    (1, 16, 32, (9,), (4,), (0,)),               # 1D
])
def test_packed_1x1_strided(eng, strm, rng, n, ic, oc, i, s, pr):
    """A strided 1x1 runs on the packed GEMM, its rows every s-th source pixel, with
    bias and post-ops (a residual sum as ResNet's downsample has)."""
    sp = len(i)
    for ops in ([("sum", 1.0), ("eltwise", "eltwise_relu", 0.0, 0.0)], []):
        pd = check(eng, strm, rng, n, 1, ic, oc, i, (1,) * sp, s, (0,) * sp, (0,) * sp, pr,
                   ops=ops)
        assert pd.impl_info_str() == "cpu:gemm_packed_1x1:avx512"


def test_packed_1x1_declines(eng, strm, rng, monkeypatch):
    """Not taken: plain (user) weights, a 3x3, padding, groups; without AVX-512 it
    declines and the convolution still runs (and is correct)."""
    name = "cpu:gemm_packed_1x1:avx512"
    cases = [dict(wei_tag=tag.ohwi), dict(k=3, pad=1), dict(s=2, pad=1), dict(pad=1)]
    for c in cases:
        pd = check(eng, strm, rng, 1, 1, 16, 64, (6, 6), (c.get("k", 1),) * 2,
                   (c.get("s", 1),) * 2, (0, 0), (c.get("pad", 0),) * 2,
                   (c.get("pad", 0),) * 2, **({"wei_tag": c["wei_tag"]} if "wei_tag" in c else {}))
        assert pd.impl_info_str() != name, c
    pd = check(eng, strm, rng, 1, 2, 32, 64, (6, 6), (1, 1), (1, 1), (0, 0), (0, 0), (0, 0))
    assert pd.impl_info_str() != name
    monkeypatch.setattr(_kernels, "cpu_isa", lambda: "avx2")
    pd = check(eng, strm, rng, 1, 1, 16, 64, (6, 6), (1, 1), (1, 1), (0, 0), (0, 0), (0, 0),
               ops=[("eltwise", "eltwise_relu", 0.0, 0.0)])
    assert pd.impl_info_str() != name
