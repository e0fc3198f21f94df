"""layer_normalization_forward and batch_normalization_forward (inference) against float64
numpy references on both engines: every flag combination, odd sizes, permuted layouts,
statistics given and computed (and written in training), NaN; bad input; blob round
trips; cache keys.

Tolerances: data is N(0, 1) * 3 + 1 (a mean and a spread away from 0 and 1). Statistics
are summed in double (CPU) or Kahan-compensated float (OpenCL) from float inputs, so mean
and variance carry float32 rounding only (rtol 1e-5 against float64, atol 1e-6); dst is
(x - mean) / sqrt(var + eps) * scale + shift in float, a few ulp of values of a few units:
rtol 1e-5, atol 1e-5."""
import itertools
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import ocl_device
from helpers import PLAIN, dt, tag, to_memory

import dnnl_py as dnnl
from dnnl_py._errors import status

F = dnnl.normalization_flags
INF, TRAIN = dnnl.prop_kind.forward_inference, dnnl.prop_kind.forward_training
EPS = 1e-5
DST_TOL = dict(rtol=1e-5, atol=1e-5)
STAT_TOL = dict(rtol=1e-5, atol=1e-6)
PERMUTED = {3: "acb", 4: "acdb", 5: "acdeb"}


def flag_sets(*names):
    """Every combination of the named flags."""
    return [sum((getattr(F, n) for n in combo), F.none)
            for r in range(len(names) + 1) for combo in itertools.combinations(names, r)]


def flags_id(flags):
    return "+".join(f.name for f in F if f and flags & f) or "none"


def md_of(shape, order=None):
    if order is None:
        return dnnl.memory.desc(shape, dt.f32, PLAIN[len(shape)])
    return dnnl.memory.desc(shape, dt.f32, getattr(tag, order))


def normalize(x, mean, var, scale, shift, axes, relu=False):
    shape = [1 if d in axes else n for d, n in enumerate(x.shape)]
    out = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + EPS)
    return out, shape


def data(rng, shape):
    return (rng.standard_normal(shape) * 3 + 1).astype(np.float32)


def vectors(rng, c):
    return (rng.random(c) + 0.5).astype(np.float32), rng.standard_normal(c).astype(np.float32)


def execute(prim, pd, eng, strm, x, extra):
    src = to_memory(eng, strm, x, pd.src_desc())
    dst = dnnl.memory(pd.dst_desc(), eng)
    args = {dnnl.ARG_SRC: src, dnnl.ARG_DST: dst}
    for arg, value in extra.items():
        md = pd.query_md(arg)
        if not md.is_zero():
            args[arg] = (to_memory(eng, strm, value, md) if value is not None
                         else dnnl.memory(md, eng))
    prim(pd).execute(strm, args)
    strm.wait()
    return dst.to_numpy(), {a: m.to_numpy() for a, m in args.items()}


# --- layer normalization ------------------------------------------------------------

def lnorm_ref(x, flags, scale, shift, mean=None, var=None):
    x64 = x.astype(np.float64)
    if mean is None:
        mean, var = x64.mean(-1), x64.var(-1)
    y = (x64 - mean[..., None]) / np.sqrt(np.float64(var)[..., None] + EPS)
    if flags & F.use_scale:
        y = y * scale
    if flags & F.use_shift:
        y = y + shift
    return y, mean, var


def run_lnorm(eng, strm, rng, shape, flags, prop=INF, src_order=None, stat_md=None,
              dst_md=None):
    x = data(rng, shape)
    scale, shift = vectors(rng, shape[-1])
    given = {}
    if flags & F.use_global_stats:
        given = {"mean": rng.standard_normal(shape[:-1]).astype(np.float32),
                 "var": (rng.random(shape[:-1]) + 0.1).astype(np.float32)}
    src_md = md_of(shape, src_order)
    stat_md = stat_md if stat_md is not None else md_of(shape[:-1]) if len(shape) > 1 else None
    pd = dnnl.layer_normalization_forward.primitive_desc(
        eng, prop, src_md, dst_md or src_md, stat_md, EPS, flags)
    out, mems = execute(dnnl.layer_normalization_forward, pd, eng, strm, x, {
        dnnl.ARG_SCALE: scale, dnnl.ARG_SHIFT: shift,
        dnnl.ARG_MEAN: given.get("mean"), dnnl.ARG_VARIANCE: given.get("var")})
    ref, mean, var = lnorm_ref(x, flags, scale, shift, given.get("mean"), given.get("var"))
    np.testing.assert_allclose(out, ref, **DST_TOL)
    return pd, mems, mean, var


LN_SHAPES = [(1, 1), (3, 5), (2, 3, 17), (4, 1, 6, 33), (2, 3, 1, 4, 7), (1, 1000)]


@pytest.mark.parametrize("flags", flag_sets("use_global_stats", "use_scale", "use_shift"),
                         ids=flags_id)
@pytest.mark.parametrize("shape", LN_SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_lnorm(engines, rng, shape, flags):
    eng, strm = engines
    pd, mems, _, _ = run_lnorm(eng, strm, rng, shape, flags)
    assert pd.get_flags() == flags and pd.get_epsilon() == pytest.approx(EPS)
    wants_stats = bool(flags & F.use_global_stats)
    assert (not pd.mean_desc().is_zero()) == wants_stats


@pytest.mark.parametrize("shape", [(3, 5), (2, 3, 17), (4, 2, 3, 5)],
                         ids=lambda s: "x".join(map(str, s)))
def test_lnorm_training_writes_statistics(engines, rng, shape):
    eng, strm = engines
    pd, mems, mean, var = run_lnorm(eng, strm, rng, shape, F.use_scale | F.use_shift, TRAIN)
    np.testing.assert_allclose(mems[dnnl.ARG_MEAN], mean, **STAT_TOL)
    np.testing.assert_allclose(mems[dnnl.ARG_VARIANCE], var, **STAT_TOL)


@pytest.mark.parametrize("nd", [3, 4, 5])
def test_lnorm_permuted_layouts(engines, rng, nd):
    """A channels-last src (the normalized dim not innermost), a column-major stat
    layout, `any` dst following src."""
    eng, strm = engines
    shape = (3, 5, 4, 3, 2)[:nd]
    column_major = [int(np.prod(shape[:d])) for d in range(nd - 1)]
    stat_t = dnnl.memory.desc(shape[:-1], dt.f32, column_major)
    pd, mems, mean, var = run_lnorm(eng, strm, rng, shape, F.use_shift, TRAIN, PERMUTED[nd],
                                    stat_t, dnnl.memory.desc(shape, dt.f32, tag.any))
    assert pd.dst_desc() == md_of(shape, PERMUTED[nd])
    np.testing.assert_allclose(mems[dnnl.ARG_MEAN], mean, **STAT_TOL)
    np.testing.assert_allclose(mems[dnnl.ARG_VARIANCE], var, **STAT_TOL)


def test_lnorm_nan_stays_in_its_row(engines, rng):
    eng, strm = engines
    x = data(rng, (3, 6))
    x[1, 2] = np.nan
    md = md_of(x.shape)
    pd = dnnl.layer_normalization_forward.primitive_desc(eng, INF, md, md, EPS, F.none)
    out, _ = execute(dnnl.layer_normalization_forward, pd, eng, strm, x, {})
    assert np.isnan(out[1]).all() and np.isfinite(out[[0, 2]]).all()


# --- batch normalization ------------------------------------------------------------

def bnorm_ref(x, flags, scale, shift, mean=None, var=None):
    x64 = x.astype(np.float64)
    axes = tuple(d for d in range(x.ndim) if d != 1)
    if mean is None:
        mean, var = x64.mean(axes), x64.var(axes)
    shape = [1] * x.ndim
    shape[1] = x.shape[1]
    y = (x64 - np.reshape(mean, shape)) / np.sqrt(np.reshape(var, shape).astype(np.float64)
                                                 + EPS)
    if flags & F.use_scale:
        y = y * scale.reshape(shape)
    if flags & F.use_shift:
        y = y + shift.reshape(shape)
    if flags & F.fuse_norm_relu:
        y = np.maximum(y, 0)
    return y


def run_bnorm(eng, strm, rng, shape, flags, src_order=None, dst_md=None):
    x = data(rng, shape)
    c = shape[1]
    scale, shift = vectors(rng, c)
    mean = var = None
    if flags & F.use_global_stats:
        mean = rng.standard_normal(c).astype(np.float32)
        var = (rng.random(c) + 0.1).astype(np.float32)
    src_md = md_of(shape, src_order)
    pd = dnnl.batch_normalization_forward.primitive_desc(eng, INF, src_md, dst_md or src_md,
                                                         EPS, flags)
    out, _ = execute(dnnl.batch_normalization_forward, pd, eng, strm, x, {
        dnnl.ARG_SCALE: scale, dnnl.ARG_SHIFT: shift, dnnl.ARG_MEAN: mean,
        dnnl.ARG_VARIANCE: var})
    np.testing.assert_allclose(out, bnorm_ref(x, flags, scale, shift, mean, var), **DST_TOL)
    return pd


BN_SHAPES = [(1, 1), (5, 3), (2, 3, 17), (3, 7, 5, 3), (2, 3, 2, 3, 5), (1, 4, 67, 31)]


@pytest.mark.parametrize("flags", flag_sets("use_global_stats", "use_scale", "use_shift",
                                            "fuse_norm_relu"), ids=flags_id)
@pytest.mark.parametrize("shape", BN_SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_bnorm(engines, rng, shape, flags):
    eng, strm = engines
    pd = run_bnorm(eng, strm, rng, shape, flags)
    assert pd.get_flags() == flags
    assert (not pd.variance_desc().is_zero()) == bool(flags & F.use_global_stats)


@pytest.mark.parametrize("nd", [3, 4, 5])
def test_bnorm_channels_last(engines, rng, nd):
    eng, strm = engines
    shape = (3, 5, 4, 3, 2)[:nd]
    pd = run_bnorm(eng, strm, rng, shape, F.use_scale | F.use_shift | F.fuse_norm_relu,
                   PERMUTED[nd], md_of(shape))
    assert pd.src_desc() == md_of(shape, PERMUTED[nd])


@pytest.mark.parametrize("flags", [F.use_global_stats | F.use_scale | F.use_shift
                                   | F.fuse_norm_relu, F.use_global_stats,
                                   F.use_scale | F.use_shift | F.fuse_norm_relu, F.none],
                         ids=flags_id)
@pytest.mark.parametrize("shape", [(2, 37, 3, 5), (1, 1030, 2, 3)],
                         ids=lambda s: "x".join(map(str, s)))
def test_bnorm_nhwc_lane_blocks(eng, strm, rng, shape, flags):
    """src and dst nhwc: the CPU walks blocks of adjacent channels along the other dims
    (csrc/normalization.c's lanes: 16 channels computing statistics, 1024 with given
    ones); channel counts that leave a partial block."""
    run_bnorm(eng, strm, rng, shape, flags, "acdb", md_of(shape, "acdb"))


def test_bnorm_nhwc_nan_stays_in_its_channel(eng, strm, rng):
    x = data(rng, (2, 20, 3, 2))
    x[1, 17, 2, 1] = np.nan  # the second block of 16 channels
    md = md_of(x.shape, "acdb")
    pd = dnnl.batch_normalization_forward.primitive_desc(eng, INF, md, md, EPS, F.none)
    out, _ = execute(dnnl.batch_normalization_forward, pd, eng, strm, x, {})
    assert np.isnan(out[:, 17]).all() and np.isfinite(np.delete(out, 17, axis=1)).all()


@pytest.mark.parametrize("offset", [1e3, -3e4])
def test_statistics_far_from_zero(eng, strm, rng, offset):
    """One pass of sums shifted by each row's first element: a mean thousands of standard
    deviations from 0 keeps the variance (E[d^2] - E[d]^2 would cancel unshifted in float);
    a row whose first element is inf is NaN, as its variance."""
    x = (rng.standard_normal((4, 300)) + offset).astype(np.float32)
    x[3, 0] = np.inf
    md = md_of(x.shape)
    pd = dnnl.layer_normalization_forward.primitive_desc(eng, TRAIN, md, md, EPS, F.none)
    out, mems = execute(dnnl.layer_normalization_forward, pd, eng, strm, x,
                        {dnnl.ARG_MEAN: None, dnnl.ARG_VARIANCE: None})
    ref, mean, var = lnorm_ref(x[:3], F.none, None, None)
    np.testing.assert_allclose(mems[dnnl.ARG_MEAN][:3], mean, **STAT_TOL)
    np.testing.assert_allclose(mems[dnnl.ARG_VARIANCE][:3], var, **STAT_TOL)
    np.testing.assert_allclose(out[:3], ref, rtol=1e-3, atol=1e-3)
    assert np.isnan(out[3]).all() and np.isnan(mems[dnnl.ARG_VARIANCE][3])


def test_bnorm_nan_stays_in_its_channel(engines, rng):
    eng, strm = engines
    x = data(rng, (2, 3, 4))
    x[1, 1, 2] = np.nan
    md = md_of(x.shape)
    pd = dnnl.batch_normalization_forward.primitive_desc(eng, INF, md, md, EPS, F.none)
    out, _ = execute(dnnl.batch_normalization_forward, pd, eng, strm, x, {})
    assert np.isnan(out[:, 1]).all() and np.isfinite(out[:, [0, 2]]).all()


# --- bad input, blobs, cache keys ---------------------------------------------------

def lnorm_pd(eng, *args):
    return dnnl.layer_normalization_forward.primitive_desc(eng, *args)


def bnorm_pd(eng, *args):
    return dnnl.batch_normalization_forward.primitive_desc(eng, *args)


@pytest.mark.parametrize("make, match, code", [
    (lambda e, md: lnorm_pd(e, dnnl.prop_kind.backward, md, md, EPS, F.none), "prop_kind",
     status.unimplemented),
    (lambda e, md: lnorm_pd(e, INF, md, md_of((3, 4, 6)), EPS, F.none), "dst: dims",
     status.invalid_arguments),
    (lambda e, md: lnorm_pd(e, INF, md, md, md_of((3, 5)), EPS, F.none), "stat_desc: dims",
     status.invalid_arguments),
    (lambda e, md: lnorm_pd(e, INF, md, md, -1.0, F.none), "epsilon", status.invalid_arguments),
    (lambda e, md: lnorm_pd(e, INF, md, md, float("nan"), F.none), "epsilon",
     status.invalid_arguments),
    (lambda e, md: lnorm_pd(e, INF, md, md, EPS, "scale"), "flags", status.invalid_arguments),
    (lambda e, md: lnorm_pd(e, INF, md, md, EPS, F.fuse_norm_relu), "flags",
     status.unimplemented),
    (lambda e, md: lnorm_pd(e, INF, md, md, EPS), "epsilon, flags", status.invalid_arguments),
    (lambda e, md: lnorm_pd(e, INF, md_of((7,)), md_of((7,)), EPS, F.none), "at least 2",
     status.invalid_arguments),
    (lambda e, md: bnorm_pd(e, TRAIN, md, md, EPS, F.none), "inference only",
     status.unimplemented),
    (lambda e, md: bnorm_pd(e, INF, md_of((7,)), md_of((7,)), EPS, F.none), "2 to 5",
     status.invalid_arguments),
    (lambda e, md: bnorm_pd(e, INF, md, md, EPS, F.fuse_norm_add_relu), "flags",
     status.unimplemented),
    (lambda e, md: bnorm_pd(e, INF, dnnl.memory.desc([3, 4, 5], dt.bf16, tag.abc), md, EPS,
                            F.none), "src: data type", status.unimplemented),
    (lambda e, md: bnorm_pd(e, INF, md, dnnl.memory.desc(), EPS, F.none), "dst descriptor",
     status.invalid_arguments),
])
def test_bad_input(eng, make, match, code):
    with pytest.raises(dnnl.error, match=match) as e:
        make(eng, md_of((3, 4, 5)))
    assert e.value.status == code


def test_execute_checks_statistics(eng, strm):
    md = md_of((3, 4, 5))
    pd = bnorm_pd(eng, INF, md, md, EPS, F.use_global_stats)
    prim = dnnl.batch_normalization_forward(pd)
    args = {dnnl.ARG_SRC: dnnl.memory(md, eng), dnnl.ARG_DST: dnnl.memory(md, eng),
            dnnl.ARG_MEAN: dnnl.memory(pd.mean_desc(), eng)}
    with pytest.raises(dnnl.error, match="variance is missing"):
        prim.execute(strm, args)
    args[dnnl.ARG_VARIANCE] = dnnl.memory(md_of((5,)), eng)
    with pytest.raises(dnnl.error, match="variance: memory is"):
        prim.execute(strm, args)
    args[dnnl.ARG_VARIANCE] = dnnl.memory(pd.variance_desc(), eng)
    args[dnnl.ARG_SCALE] = dnnl.memory(pd.variance_desc(), eng)
    with pytest.raises(dnnl.error, match="unexpected argument.*scale"):
        prim.execute(strm, args)


@pytest.mark.parametrize("kind", ["lnorm", "bnorm"])
def test_blob_round_trip(engines, rng, clean_caches, kind):
    eng, strm = engines
    md = md_of((4, 3, 5))
    flags = F.use_scale | F.use_shift
    prim_cls = (dnnl.layer_normalization_forward if kind == "lnorm"
                else dnnl.batch_normalization_forward)

    def pd(eps=EPS):
        return (lnorm_pd(eng, TRAIN, md, md, None, eps, flags) if kind == "lnorm"
                else bnorm_pd(eng, INF, md, md, eps, flags))
    value = prim_cls(pd()).get_cache_blob()
    dnnl.clear_primitive_cache()
    again = prim_cls(pd(), value)
    assert again._built.source == "from_cache_blob"
    cpu = eng.get_kind() == dnnl.engine.kind.cpu
    assert again.get_primitive_desc().impl_info_str() == (f"cpu:{kind}:plain" if cpu
                                                          else f"ocl:{kind}:ref")
    x = data(rng, md.dims)
    scale, shift = vectors(rng, 5 if kind == "lnorm" else 3)
    out, _ = execute(lambda p: again, pd(), eng, strm, x,
                     {dnnl.ARG_SCALE: scale, dnnl.ARG_SHIFT: shift, dnnl.ARG_MEAN: None,
                      dnnl.ARG_VARIANCE: None})
    ref = (lnorm_ref(x, flags, scale, shift)[0] if kind == "lnorm"
           else bnorm_ref(x, flags, scale, shift))
    np.testing.assert_allclose(out, ref, **DST_TOL)
    other = prim_cls(pd(1e-3)).get_cache_blob()
    dnnl.clear_primitive_cache()
    with pytest.raises(dnnl.error, match="problem"):
        prim_cls(pd(), other)


def test_cache_keys_tell_every_field_apart(eng, clean_caches):
    md, md_t = md_of((4, 6)), dnnl.memory.desc([4, 6], dt.f32, tag.ba)
    stat_t = dnnl.memory.desc([4], dt.f32, [2])
    lnorm = [(INF, md, md, None, EPS, F.none), (TRAIN, md, md, None, EPS, F.none),
             (INF, md_t, md, None, EPS, F.none), (INF, md, md_t, None, EPS, F.none),
             (TRAIN, md, md, stat_t, EPS, F.none), (INF, md, md, None, 1e-3, F.none),
             (INF, md, md, None, EPS, F.use_scale), (INF, md, md, None, EPS, F.use_shift),
             (INF, md, md, None, EPS, F.use_global_stats)]
    bnorm = [(INF, md, md, EPS, F.none), (INF, md_t, md, EPS, F.none),
             (INF, md, md_t, EPS, F.none), (INF, md, md, 1e-3, F.none),
             (INF, md, md, EPS, F.use_scale), (INF, md, md, EPS, F.use_shift),
             (INF, md, md, EPS, F.use_global_stats), (INF, md, md, EPS, F.fuse_norm_relu)]
    keys = {lnorm_pd(eng, *v)._cache_key for v in lnorm}
    keys |= {bnorm_pd(eng, *v)._cache_key for v in bnorm}
    assert len(keys) == len(lnorm) + len(bnorm)
    for v in lnorm:
        dnnl.layer_normalization_forward(lnorm_pd(eng, *v))
    for v in bnorm:
        dnnl.batch_normalization_forward(bnorm_pd(eng, *v))
    assert dnnl.get_primitive_cache_size() == len(keys)
    dnnl.batch_normalization_forward(bnorm_pd(eng, *bnorm[0]))
    assert dnnl.get_primitive_cache_size() == len(keys)  # a hit


def test_verbose_lines_as_onednn_prints_them(eng, capsys, clean_caches):
    md = md_of((2, 3, 4, 5))
    dnnl.set_verbose(2)
    try:
        dnnl.batch_normalization_forward(
            bnorm_pd(eng, INF, md, md, EPS, F.use_global_stats | F.use_scale | F.fuse_norm_relu))
        dnnl.layer_normalization_forward(lnorm_pd(eng, TRAIN, md, md, EPS, F.use_shift))
        dnnl.layer_normalization_forward(lnorm_pd(eng, INF, md, md, EPS, F.none))
        dnnl.softmax_forward(dnnl.softmax_forward.primitive_desc(
            eng, INF, dnnl.algorithm.softmax_log, md, md, 3))
    finally:
        dnnl.set_verbose(0)
    lines = [line.split(",", 5)[5] for line in capsys.readouterr().out.splitlines()
             if line.startswith("onednn_verbose,v1,primitive,create:")]
    data = "src:f32::blocked:abcd::f0 dst:f32::blocked:abcd::f0"
    assert [line.rsplit(",", 1)[0] for line in lines] == [
        f"batch_normalization,cpu:bnorm:plain,forward_inference,{data},,flags:GCR,mb2ic3ih4iw5",
        f"layer_normalization,cpu:lnorm:plain,forward_training,{data} "
        "stats:f32::blocked:abc::f0,,flags:H,2x3x4x5",
        f"layer_normalization,cpu:lnorm:plain,forward_inference,{data} stats:undef::undef:::,,"
        "flags:,2x3x4x5",
        f"softmax,cpu:softmax:plain,forward_inference,{data},,alg:softmax_log axis:3,2x3x4x5"]


def test_kernels_check_buffer_sizes_before_touching_memory():
    from dnnl_py.cpu import _kernels
    kernel = _kernels.NormKernel([(4, 5, 5, 1, 0)], [(5, 1, 1, 1)], EPS, False, True, False,
                                 False, False)
    src, dst, stats = (np.zeros(20, np.float32), np.zeros(20, np.float32),
                       np.zeros(4, np.float32))
    with pytest.raises(ValueError, match="mean: buffer holds 3 elements, the kernel needs 4"):
        kernel(src, stats[:3], stats, None, None, dst)
    with pytest.raises(ValueError, match="dst: buffer holds 19"):
        kernel(src, stats, stats, None, None, dst[:19])
    softmax = _kernels.SoftmaxKernel([(4, 5, 5, 0, 0)], [(5, 1, 1, 0)], False)
    with pytest.raises(ValueError, match="src: buffer holds 10"):
        softmax(src[:10], dst)
    with pytest.raises(ValueError, match="reduced dims"):
        _kernels.SoftmaxKernel([(4, 5, 5, 0, 0)], [], False)


def test_opencl_declines_more_than_six_parallel_dims(ocl):
    eng, _ = ocl
    md = dnnl.memory.desc([2] * 8, dt.f32, [2 ** (7 - d) for d in range(8)])
    with pytest.raises(dnnl.error, match="7 parallel and 1 reduced dims") as e:
        dnnl.softmax_forward.primitive_desc(eng, INF, dnnl.algorithm.softmax_accurate, md, md, 0)
    assert e.value.status == status.unimplemented


# A child process makes each kind's primitive on each engine from the blobs in a directory
# (writing them when missing) and checks its output: run twice, the second run's
# primitives all come from blobs of the first process.
FRESH = """
    import pathlib, sys, numpy as np, dnnl_py as dnnl
    import test_normalization as t
    where = pathlib.Path(sys.argv[1])
    engines = [dnnl.engine(dnnl.engine.kind.cpu, 0)]
    if sys.argv[2] == "ocl":
        import pyopencl as cl
        device = t.ocl_device()
        engines.append(dnnl.ocl_interop.make_engine(device, cl.Context([device])))
    md, rng = t.md_of((4, 3, 5)), np.random.default_rng(0)
    flags = t.F.use_scale | t.F.use_shift
    x = t.data(rng, md.dims)
    for eng in engines:
        strm = dnnl.stream(eng)
        cases = [
            (dnnl.softmax_forward, dnnl.softmax_forward.primitive_desc(
                eng, t.INF, dnnl.algorithm.softmax_log, md, md, 1),
             {}, lambda: t.reference_softmax_log(x, 1)),
            (dnnl.layer_normalization_forward, t.lnorm_pd(eng, t.TRAIN, md, md, None, t.EPS, flags),
             {dnnl.ARG_MEAN: None, dnnl.ARG_VARIANCE: None},
             lambda: t.lnorm_ref(x, flags, *vec(5))[0]),
            (dnnl.batch_normalization_forward, t.bnorm_pd(eng, t.INF, md, md, t.EPS, flags),
             {}, lambda: t.bnorm_ref(x, flags, *vec(3)))]
        def vec(c):
            return t.vectors(np.random.default_rng(c), c)
        for prim_cls, pd, extra, ref in cases:
            c = md.dims[-1] if prim_cls is dnnl.layer_normalization_forward else md.dims[1]
            scale, shift = vec(c)
            name = where / f"{eng.get_kind().name}-{prim_cls.__name__}"
            prim = prim_cls(pd, name.read_bytes() if name.exists() else None)
            name.write_bytes(prim.get_cache_blob())
            out, _ = t.execute(lambda p: prim, pd, eng, strm, x,
                               {**extra, dnnl.ARG_SCALE: scale, dnnl.ARG_SHIFT: shift})
            np.testing.assert_allclose(out, ref(), **t.DST_TOL)
            print(prim._built.source)
"""


def reference_softmax_log(x, axis):
    x = x.astype(np.float64)
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def test_blobs_across_processes(tmp_path):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    engines = "ocl" if ocl_device() is not None else "cpu"

    def child():
        out = subprocess.run([sys.executable, "-c", textwrap.dedent(FRESH), str(tmp_path),
                              engines], capture_output=True, text=True,
                             cwd=os.path.join(root, "tests"),
                             env={**os.environ, "PYTHONPATH": root})
        assert out.returncode == 0, out.stderr
        return out.stdout.split()
    count = 3 * (2 if engines == "ocl" else 1)
    assert child() == ["cache_miss"] * count
    assert child() == ["from_cache_blob"] * count


def test_empty_tensors_do_nothing(engines):
    eng, strm = engines
    md = md_of((0, 3, 4))
    F_ = F.use_scale
    for pd in (dnnl.softmax_forward.primitive_desc(eng, INF, dnnl.algorithm.softmax_accurate,
                                                   md, md, 2),
               lnorm_pd(eng, TRAIN, md, md, EPS, F_), bnorm_pd(eng, INF, md, md, EPS, F_)):
        prim = type(pd).__qualname__.split(".")[0]
        args = {arg: dnnl.memory(pd.query_md(arg), eng) for arg in type(pd)._arg_order
                if not pd.query_md(arg).is_zero()}
        getattr(dnnl, prim)(pd).execute(strm, args)
        strm.wait()
        assert args[dnnl.ARG_DST].to_numpy().shape == (0, 3, 4)


def test_lnorm_overloads(eng):
    """With and without stat_desc, attr by position or keyword, as oneDNN's overloads."""
    md, stat = md_of((3, 4, 5)), md_of((3, 4))
    attr = dnnl.primitive_attr()
    pds = [lnorm_pd(eng, TRAIN, md, md, stat, EPS, F.none),
           lnorm_pd(eng, TRAIN, md, md, stat, EPS, F.none, attr),
           lnorm_pd(eng, TRAIN, md, md, stat, EPS, F.none, None),
           lnorm_pd(eng, TRAIN, md, md, EPS, F.none),
           lnorm_pd(eng, TRAIN, md, md, EPS, F.none, None),
           dnnl.layer_normalization_forward.primitive_desc(eng, TRAIN, md, md, EPS, F.none,
                                                           attr=attr)]
    assert len({pd._cache_key for pd in pds}) == 1
    assert all(pd.mean_desc() == stat for pd in pds)
