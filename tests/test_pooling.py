"""Forward pooling against a float64 numpy reference: max and both averages, 1D/2D/3D,
odd sizes, padding, strides, dilation, global pooling, several layouts, NaN and inf, on
every implementation (CPU, and OpenCL when a device is there); bad input; a blob round
trip; the primitive cache key."""
import numpy as np
import pytest
from helpers import CHANNELS_LAST, PLAIN, ocl_impls, tag, to_memory
from reference import assert_close

import dnnl_py as dnnl
from dnnl_py.cpu import pooling as cpu_pool

IMPLS = [cpu_pool.PoolDirect, *ocl_impls("pooling", "PoolRef")]
ALGS = [dnnl.algorithm.pooling_max, dnnl.algorithm.pooling_avg_include_padding,
        dnnl.algorithm.pooling_avg_exclude_padding]
md, f32 = dnnl.memory.desc, dnnl.memory.data_type.f32


def out_dims(i, k, s, d, pl, pr) -> list:
    return [(i[j] + pl[j] + pr[j] - ((k[j] - 1) * (d[j] + 1) + 1)) // s[j] + 1
            for j in range(len(i))]


def pool_ref(src, alg, k, s, d, pl, pr):
    """float64 pooling; dilation as oneDNN (0 = dense); max propagates NaN."""
    x = src.astype(np.float64)
    o = out_dims(src.shape[2:], k, s, d, pl, pr)
    pad = [(a, b) for a, b in zip(pl, pr)]
    is_max = alg == dnnl.algorithm.pooling_max
    xp = np.pad(x, [(0, 0), (0, 0)] + pad, constant_values=-np.inf if is_max else 0.0)
    inside = np.pad(np.ones(src.shape[2:]), pad)
    taps, counts = [], []
    for tap in np.ndindex(*k):
        sl = tuple(slice(t * (dd + 1), t * (dd + 1) + ss * (oo - 1) + 1, ss)
                   for t, dd, ss, oo in zip(tap, d, s, o))
        taps.append(xp[(slice(None),) * 2 + sl])
        counts.append(inside[sl])
    stack = np.stack(taps)
    if is_max:
        return stack.max(0)
    if alg == dnnl.algorithm.pooling_avg_include_padding:
        return stack.sum(0) / np.prod(k)
    return stack.sum(0) / np.sum(counts, 0)


def run_pool(eng, strm, src, alg, k, s, d, pl, pr, src_tag=tag.any, dst_tag=tag.any,
             prop=dnnl.prop_kind.forward_inference):
    if src_tag == tag.any:
        src_tag = PLAIN[src.ndim]
    o = out_dims(src.shape[2:], k, s, d, pl, pr)
    pd = dnnl.pooling_forward.primitive_desc(
        eng, prop, alg, md(src.shape, f32, src_tag), md([*src.shape[:2], *o], f32, dst_tag),
        s, k, d, pl, pr)
    dst = dnnl.memory(pd.dst_desc(), eng)
    dnnl.pooling_forward(pd).execute(strm, {dnnl.ARG_SRC: to_memory(eng, strm, src,
                                                                    pd.src_desc()),
                                            dnnl.ARG_DST: dst})
    strm.wait()
    return dst.to_numpy(), pd


# (n, c, i, k, s, d, pl, pr): odd sizes, padding on either side, stride > kernel,
# overlapping windows, dilation, 1D/2D/3D, a unit image, global pooling
SHAPES = [
    (2, 3, (7, 7), (3, 3), (2, 2), (0, 0), (1, 1), (1, 1)),
    (1, 5, (13,), (4,), (3,), (0,), (2,), (3,)),
    (3, 2, (11,), (2,), (2,), (0,), (0,), (1,)),
    (1, 4, (9, 10), (2, 3), (1, 1), (0, 0), (0, 2), (1, 0)),
    (2, 3, (8, 9), (3, 2), (4, 3), (0, 0), (0, 1), (0, 1)),
    (1, 2, (12, 11), (3, 3), (2, 1), (1, 2), (2, 3), (1, 2)),
    (1, 3, (5, 6, 7), (2, 3, 2), (1, 2, 2), (0, 0, 0), (1, 1, 0), (1, 0, 1)),
    (2, 2, (7, 5, 6), (3, 2, 3), (2, 1, 3), (1, 0, 1), (2, 1, 0), (0, 1, 2)),
    (1, 7, (1, 1), (1, 1), (1, 1), (0, 0), (0, 0), (0, 0)),
    (2, 5, (6, 7), (6, 7), (1, 1), (0, 0), (0, 0), (0, 0)),      # global pooling
    (1, 3, (4, 5, 6), (4, 5, 6), (1, 1, 1), (0, 0, 0), (0, 0, 0), (0, 0, 0)),
    (1, 1, (17,), (17,), (1,), (0,), (0,), (0,)),
    (3, 17, (15, 13), (5, 4), (3, 2), (0, 1), (2, 3), (4, 2)),
    (1, 2, (10,), (3,), (1,), (3,), (5,), (4,)),
]
LAYOUTS = ["plain", "channels_last", "any"]


def shape_id(shape) -> str:
    n, c, i, k, s, d, pl, pr = shape
    return f"i{'x'.join(map(str, i))}k{'x'.join(map(str, k))}s{s[0]}d{d[0]}p{pl[0]}{pr[0]}"


def tags(layout: str, nd: int) -> dict:
    return {"plain": dict(src_tag=PLAIN[nd], dst_tag=PLAIN[nd]),
            "channels_last": dict(src_tag=CHANNELS_LAST[nd], dst_tag=CHANNELS_LAST[nd]),
            "any": dict(src_tag=CHANNELS_LAST[nd])}[layout]


@pytest.mark.parametrize("impl", IMPLS, ids=lambda c: c.name)
@pytest.mark.parametrize("alg", ALGS, ids=lambda a: a.name)
@pytest.mark.parametrize("n_shape", list(enumerate(SHAPES)), ids=lambda t: shape_id(t[1]))
def test_shapes(engine_for, rng, impl, alg, n_shape):
    index, (n, c, i, k, s, d, pl, pr) = n_shape
    eng, strm = engine_for(impl)
    layout = LAYOUTS[index % 3]
    src = rng.standard_normal((n, c, *i)).astype(np.float32)
    out, pd = run_pool(eng, strm, src, alg, k, s, d, pl, pr, **tags(layout, len(i) + 2))
    ref = pool_ref(src, alg, k, s, d, pl, pr)
    assert pd.impl_info_str() == impl.name
    assert out.shape == ref.shape
    if alg == dnnl.algorithm.pooling_max:
        np.testing.assert_array_equal(out, ref.astype(np.float32))  # max is exact
    else:
        assert_close(out, ref, int(np.prod(k)))


@pytest.mark.parametrize("impl", IMPLS, ids=lambda c: c.name)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_any_dst_follows_src(engine_for, impl, layout):
    eng, _ = engine_for(impl)
    src_tag = tags(layout, 4)["src_tag"]
    pd = dnnl.pooling_forward.primitive_desc(
        eng, dnnl.prop_kind.forward_training, dnnl.algorithm.pooling_max,
        md([2, 3, 6, 6], f32, src_tag), md([2, 3, 3, 3], f32, tag.any), [2, 2], [2, 2],
        [0, 0], [0, 0], [0, 0])
    assert pd.src_desc() == md([2, 3, 6, 6], f32, src_tag)
    assert pd.dst_desc() == md([2, 3, 3, 3], f32, src_tag)
    assert pd.workspace_desc().is_zero()
    assert pd.get_kernel() == [2, 2] and pd.get_strides() == [2, 2]
    assert pd.get_dilations() == [0, 0] and pd.get_padding_r() == [0, 0]
    assert pd.get_algorithm() == dnnl.algorithm.pooling_max


@pytest.mark.parametrize("impl", IMPLS, ids=lambda c: c.name)
@pytest.mark.parametrize("layout", LAYOUTS[:2])
def test_max_nan_and_inf(engine_for, rng, impl, layout):
    """NaN wins the max of any window that holds one; +inf and -inf are values like
    others (a window of -inf gives -inf; the padding is never taken). The CPU kernel
    has a channels-last path of its own."""
    eng, strm = engine_for(impl)
    lay = tags(layout, 4)
    src = rng.standard_normal((1, 2, 8, 8)).astype(np.float32)
    src[0, 0, 0, 0] = np.nan
    src[0, 0, 5, 5] = np.inf
    src[0, 1, :2, :2] = -np.inf
    src[0, 1, 7, 7] = np.nan
    src[0, 1, 4, 3] = np.inf
    out, _ = run_pool(eng, strm, src, dnnl.algorithm.pooling_max, (3, 3), (2, 2), (0, 0),
                      (1, 1), (1, 1), **lay)
    ref = pool_ref(src, dnnl.algorithm.pooling_max, (3, 3), (2, 2), (0, 0), (1, 1), (1, 1))
    np.testing.assert_array_equal(out, ref.astype(np.float32))  # NaN == NaN here
    assert np.isnan(out[0, 0, 0, 0]) and np.isposinf(out[0, 0, 3, 3])
    src = np.full((1, 3, 4, 4), -np.inf, np.float32)
    out, _ = run_pool(eng, strm, src, dnnl.algorithm.pooling_max, (2, 2), (2, 2), (0, 0),
                      (1, 1), (1, 1), **lay)
    assert np.isneginf(out).all()


@pytest.mark.parametrize("impl", IMPLS, ids=lambda c: c.name)
@pytest.mark.parametrize("alg", ALGS[1:], ids=lambda a: a.name)
def test_avg_inf_and_nan_stay_in_their_windows(engine_for, rng, impl, alg):
    eng, strm = engine_for(impl)
    src = rng.standard_normal((1, 1, 10, 10)).astype(np.float32)
    src[0, 0, 0, 0], src[0, 0, 9, 9] = np.inf, np.nan
    out, _ = run_pool(eng, strm, src, alg, (3, 3), (3, 3), (0, 0), (1, 1), (1, 1))
    with np.errstate(invalid="ignore"):
        ref = pool_ref(src, alg, (3, 3), (3, 3), (0, 0), (1, 1), (1, 1))
    np.testing.assert_array_equal(np.isnan(out), np.isnan(ref))
    np.testing.assert_array_equal(np.isinf(out), np.isinf(ref))
    assert np.isinf(out).sum() == 1 and np.isnan(out).sum() == 1


# (w, k, s, d, pl, pr) along w, in a 1x2x3xw nchw image: rows wider than the CPU kernel's
# block of 256 outputs, strides 1 and 2 (compiled as constants) and 3 (any stride),
# dilation, no outputs whose window lies inside the source
INTERIOR = [(600, 3, 2, 0, 1, 1), (530, 4, 1, 0, 2, 1), (800, 2, 3, 1, 0, 2), (3, 3, 1, 0, 2, 2)]


@pytest.mark.parametrize("alg", ALGS, ids=lambda a: a.name)
@pytest.mark.parametrize("case", INTERIOR, ids=lambda c: "w{}k{}s{}d{}p{}{}".format(*c))
def test_nchw_interior_vectorised_over_width(eng, strm, rng, alg, case):
    """The CPU's nchw rows: border outputs one by one, the interior vectorised over ow;
    a NaN in the interior (max: redone with the NaN-propagating select) and at a
    border; +inf a value like others."""
    w, k, s, d, pl, pr = case
    src = rng.standard_normal((1, 2, 3, w)).astype(np.float32)
    src[0, 0, 1, w // 12 * 6], src[0, 1, 2, 0], src[0, 1, 0, w - 2] = np.nan, np.nan, np.inf
    args = (alg, (2, k), (1, s), (0, d), (0, pl), (1, pr))
    out, _ = run_pool(eng, strm, src, *args, src_tag=tag.abcd, dst_tag=tag.abcd)
    with np.errstate(invalid="ignore"):
        ref = pool_ref(src, *args)
    if alg == dnnl.algorithm.pooling_max:
        np.testing.assert_array_equal(out, ref.astype(np.float32))  # NaN == NaN here
    else:
        np.testing.assert_array_equal(np.isnan(out), np.isnan(ref))
        ok = ~np.isnan(ref) & ~np.isinf(ref)
        assert_close(out[ok], ref[ok], 2 * k)
    assert np.isnan(out[0, 0]).any() and np.isnan(out[0, 1]).any()


@pytest.mark.parametrize("alg", ALGS, ids=lambda a: a.name)
def test_nhwc_channel_blocks(eng, strm, rng, alg):
    """The CPU's channels-last pixels: channels in register blocks of 16 (37 leaves a
    partial one); max rows without a NaN take a plain max, a row with one (in the second
    block, at the image's border) the NaN-propagating select."""
    src = rng.standard_normal((2, 37, 9, 11)).astype(np.float32)
    src[1, 20, 8, 10], src[0, 36, 4, 5] = np.nan, np.inf
    args = (alg, (3, 3), (2, 2), (0, 0), (1, 1), (1, 1))
    out, _ = run_pool(eng, strm, src, *args, src_tag=tag.acdb, dst_tag=tag.acdb)
    with np.errstate(invalid="ignore"):
        ref = pool_ref(src, *args)
    np.testing.assert_array_equal(np.isnan(out), np.isnan(ref))
    assert np.isnan(out[1, 20, 4, 5]) and np.isnan(out).sum() == 1
    if alg == dnnl.algorithm.pooling_max:
        np.testing.assert_array_equal(out, ref.astype(np.float32))  # NaN == NaN here
    else:
        ok = ~np.isnan(ref) & ~np.isinf(ref)
        assert_close(out[ok], ref[ok], 9)


def pool_pd(eng, dims=(1, 2, 8, 8), odims=(1, 2, 4, 4), alg=dnnl.algorithm.pooling_max,
            strides=(2, 2), kernel=(2, 2), dilation=(0, 0), pl=(0, 0), pr=(0, 0),
            prop=dnnl.prop_kind.forward_inference, src_tag=tag.abcd, dst_tag=tag.abcd,
            dt=f32, **kw):
    return dnnl.pooling_forward.primitive_desc(
        eng, prop, alg, md(list(dims), dt, src_tag), md(list(odims), f32, dst_tag),
        list(strides), list(kernel), list(dilation), list(pl), list(pr), **kw)


BAD = {
    "dst dims": (dict(odims=(1, 2, 3, 3)), dnnl.status.invalid_arguments, "dst: dims"),
    "channels": (dict(odims=(1, 3, 4, 4)), dnnl.status.invalid_arguments, "dst: dims"),
    "stride 0": (dict(strides=(0, 2)), dnnl.status.invalid_arguments, "strides"),
    "kernel 0": (dict(kernel=(2, 0)), dnnl.status.invalid_arguments, "kernel"),
    "negative dilation": (dict(dilation=(-1, 0)), dnnl.status.invalid_arguments, "dilation"),
    "negative padding": (dict(pl=(-1, 0)), dnnl.status.invalid_arguments, "padding_l"),
    "padding_l past kernel": (dict(pl=(2, 0), odims=(1, 2, 5, 4)),
                              dnnl.status.invalid_arguments, "padding_l"),
    "padding_r past kernel": (dict(pr=(0, 2), odims=(1, 2, 4, 5)),
                              dnnl.status.invalid_arguments, "padding_r"),
    "kernel too big": (dict(kernel=(9, 2), odims=(1, 2, 0, 4)), dnnl.status.invalid_arguments,
                       "does not fit"),
    "strides length": (dict(strides=(2,)), dnnl.status.invalid_arguments, "strides"),
    "kernel length": (dict(kernel=(2, 2, 2)), dnnl.status.invalid_arguments, "kernel"),
    "kernel not ints": (dict(kernel=("a", 2)), dnnl.status.invalid_arguments, "kernel"),
    "algorithm": (dict(alg=dnnl.algorithm.convolution_direct), dnnl.status.invalid_arguments,
                  "algorithm"),
    "backward": (dict(prop=dnnl.prop_kind.backward_data), dnnl.status.unimplemented,
                 "prop_kind"),
    "2 dims": (dict(dims=(4, 8), odims=(4, 4), src_tag=tag.ab, dst_tag=tag.ab),
               dnnl.status.invalid_arguments, "src: 2 dims"),
    "ranks": (dict(odims=(1, 2, 4), dst_tag=tag.abc), dnnl.status.invalid_arguments,
              "dst: 3 dims"),
    "data type": (dict(dt=dnnl.memory.data_type.bf16), dnnl.status.unimplemented, "src"),
    # taps 3 apart from -2: the first window of an 1-pixel-high image holds only padding
    "empty window": (dict(dims=(1, 2, 1, 8), odims=(1, 2, 2, 4), kernel=(2, 2),
                          dilation=(2, 0), pl=(2, 0), pr=(2, 0), strides=(1, 2)),
                     dnnl.status.invalid_arguments, "holds no source element"),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_input(eng, case):
    kw, st, words = BAD[case]
    with pytest.raises(dnnl.error) as e:
        pool_pd(eng, **kw)
    assert e.value.status == st and words in str(e.value)


def test_bad_input_missing_and_attr(eng):
    with pytest.raises(dnnl.error, match="padding_r is required"):
        dnnl.pooling_forward.primitive_desc(
            eng, dnnl.prop_kind.forward_inference, dnnl.algorithm.pooling_max,
            md([1, 1, 4, 4], f32, tag.abcd), md([1, 1, 2, 2], f32, tag.abcd), [2, 2], [2, 2],
            [0, 0], [0, 0])
    with pytest.raises(dnnl.error, match="src descriptor is missing"):
        dnnl.pooling_forward.primitive_desc(
            eng, dnnl.prop_kind.forward_inference, dnnl.algorithm.pooling_max, None,
            md([1, 1, 2, 2], f32, tag.abcd), [2, 2], [2, 2], [0, 0], [0, 0], [0, 0])
    po = dnnl.post_ops()
    po.append_eltwise(dnnl.algorithm.eltwise_relu, 0.0, 0.0)
    attr = dnnl.primitive_attr()
    attr.set_post_ops(po)
    with pytest.raises(dnnl.error) as e:
        pool_pd(eng, attr=attr)
    assert e.value.status == dnnl.status.unimplemented and "post-ops" in str(e.value)


def test_blocked_layout_declines(eng):
    with pytest.raises(dnnl.error) as e:
        pool_pd(eng, dims=(1, 16, 8, 8), odims=(1, 16, 4, 4), src_tag=tag.aBcd16b)
    assert e.value.status == dnnl.status.unimplemented and "plain layouts only" in str(e.value)


def test_execute_checks_buffers(eng, strm):
    pd = pool_pd(eng)
    prim = dnnl.pooling_forward(pd)
    src = dnnl.memory(pd.src_desc(), eng)
    with pytest.raises(dnnl.error, match="dst"):
        prim.execute(strm, {dnnl.ARG_SRC: src})
    with pytest.raises(dnnl.error, match="expects"):
        prim.execute(strm, {dnnl.ARG_SRC: src, dnnl.ARG_DST: dnnl.memory(pd.src_desc(), eng)})
    from dnnl_py.cpu import _kernels
    kernel = prim._kernel
    with pytest.raises(ValueError, match="src: buffer holds"):
        kernel(np.zeros(10, np.float32), np.zeros(32, np.float32))
    with pytest.raises(ValueError, match="dst: buffer holds"):
        kernel(np.zeros(128, np.float32), np.zeros(31, np.float32))
    assert _kernels.POOL_MAX == 0


@pytest.mark.parametrize("impl", IMPLS, ids=lambda c: c.name)
def test_blob_round_trip(engine_for, rng, clean_caches, impl):
    eng, strm = engine_for(impl)
    pd = pool_pd(eng, dims=(2, 3, 9, 9), odims=(2, 3, 5, 5), kernel=(3, 3), pl=(1, 1),
                 pr=(1, 1), alg=dnnl.algorithm.pooling_avg_exclude_padding)
    blob = dnnl.pooling_forward(pd).get_cache_blob()
    dnnl.clear_primitive_cache()
    prim = dnnl.pooling_forward(pd, blob)
    assert prim.get_primitive_desc().impl_info_str() == impl.name
    src = rng.standard_normal((2, 3, 9, 9)).astype(np.float32)
    dst = dnnl.memory(pd.dst_desc(), eng)
    prim.execute(strm, {dnnl.ARG_SRC: dnnl.memory(pd.src_desc(), eng, src),
                        dnnl.ARG_DST: dst})
    strm.wait()
    ref = pool_ref(src, pd.get_algorithm(), (3, 3), (2, 2), (0, 0), (1, 1), (1, 1))
    assert_close(dst.to_numpy(), ref, 9)
    other = pool_pd(eng, dims=(2, 3, 9, 9), odims=(2, 3, 5, 5), kernel=(3, 3), pl=(1, 1),
                    pr=(1, 1), alg=dnnl.algorithm.pooling_avg_include_padding)
    dnnl.clear_primitive_cache()
    with pytest.raises(dnnl.error) as e:
        dnnl.pooling_forward(other, blob)
    assert e.value.status == dnnl.status.invalid_arguments


# each field of the problem, changed alone from pool_pd's defaults
VARIANTS = {
    "algorithm": dict(alg=dnnl.algorithm.pooling_avg_include_padding),
    "algorithm exclude": dict(alg=dnnl.algorithm.pooling_avg_exclude_padding),
    "prop_kind": dict(prop=dnnl.prop_kind.forward_training),
    "mb": dict(dims=(2, 2, 8, 8), odims=(2, 2, 4, 4)),
    "channels": dict(dims=(1, 3, 8, 8), odims=(1, 3, 4, 4)),
    "src": dict(dims=(1, 2, 9, 9)),
    "strides": dict(strides=(2, 1), odims=(1, 2, 4, 7)),
    "kernel": dict(kernel=(3, 2), odims=(1, 2, 3, 4)),
    "dilation": dict(dilation=(0, 1), odims=(1, 2, 4, 3)),
    "padding_l": dict(pl=(1, 0), odims=(1, 2, 4, 4)),
    "padding_r": dict(pr=(0, 1), odims=(1, 2, 4, 4)),
    "src layout": dict(src_tag=tag.acdb),
    "dst layout": dict(dst_tag=tag.acdb),
    "1D": dict(dims=(1, 2, 8), odims=(1, 2, 4), strides=(2,), kernel=(2,), dilation=(0,),
               pl=(0,), pr=(0,), src_tag=tag.abc, dst_tag=tag.abc),
}


def test_cache_key_tells_every_field_apart(eng, clean_caches):
    kernels = {id(dnnl.pooling_forward(pool_pd(eng))._kernel)}
    for kw in VARIANTS.values():
        kernels.add(id(dnnl.pooling_forward(pool_pd(eng, **kw))._kernel))
    assert len(kernels) == len(VARIANTS) + 1
    assert dnnl.primitive_cache_stats().misses == len(VARIANTS) + 1
    dnnl.pooling_forward(pool_pd(eng, **VARIANTS["dilation"]))
    assert dnnl.primitive_cache_stats().misses == len(VARIANTS) + 1  # a hit


def test_verbose_fields(eng):
    pd = pool_pd(eng, alg=dnnl.algorithm.pooling_avg_include_padding, pl=(1, 1), pr=(1, 1),
                 odims=(1, 2, 5, 5))
    info = pd._verbose_info()
    assert info[1] == "pooling" and info[3] == "forward_inference"
    assert info[6] == "alg:pooling_avg_include_padding"
    assert info[7] == "mb1ic2_ih8oh5kh2sh2dh0ph1_iw8ow5kw2sw2dw0pw1"
    assert "src:f32::blocked:abcd::f0 dst:f32::blocked:abcd::f0" == info[4]


@pytest.mark.parametrize("impl", IMPLS, ids=lambda c: c.name)
def test_empty_batch(engine_for, clean_caches, impl):
    """No images (mb 0) or no channels: nothing to compute, and the blob still works."""
    eng, strm = engine_for(impl)
    for dims in ((0, 3, 4, 4), (2, 0, 4, 4)):
        pd = pool_pd(eng, dims=dims, odims=(*dims[:2], 2, 2),
                     alg=dnnl.algorithm.pooling_avg_include_padding)
        prim = dnnl.pooling_forward(pd)
        prim.execute(strm, {dnnl.ARG_SRC: dnnl.memory(pd.src_desc(), eng),
                            dnnl.ARG_DST: dnnl.memory(pd.dst_desc(), eng)})
        strm.wait()
        blob = prim.get_cache_blob()
        dnnl.clear_primitive_cache()
        dnnl.pooling_forward(pd, blob)
