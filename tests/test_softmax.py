"""softmax_forward against a float64 numpy reference on both engines: every axis, odd
sizes, permuted layouts, large values, NaN and inf; bad input; blob round trip; cache key.

Tolerances (outputs are float32): softmax_accurate's values lie in [0, 1]; each is
exp(x - max) / sum, with x - max exact for float inputs within a factor 2 of each other
and rounded once otherwise, exp within ~2 ulp (eltwise.h's polynomial) or 3 ulp (OpenCL's exp), the
sum in float partial sums of at most 64 terms added in double (CPU: 4e-6 relative at
worst, ~3e-7 typically) or Kahan-compensated float (OpenCL), so rtol 1e-5
with atol 1e-6 for values whose exponent loses relative accuracy near underflow.
softmax_log's values are x - max - log(sum): an absolute error of a few ulp of |x - max|,
so rtol 1e-5, atol 1e-5."""
import numpy as np
import pytest
from helpers import PLAIN, dt, tag, to_memory

import dnnl_py as dnnl
from dnnl_py._errors import status

ACC, LOG = dnnl.algorithm.softmax_accurate, dnnl.algorithm.softmax_log
INF = dnnl.prop_kind.forward_inference
TOL = {ACC: (1e-5, 1e-6), LOG: (1e-5, 1e-5)}
SHAPES = [(7,), (1, 1), (3, 5), (2, 3, 17), (4, 1, 6, 5), (2, 3, 1, 4, 3)]
PERMUTED = {3: "acb", 4: "acdb", 5: "acdeb"}  # channels-last layouts of dims 3 to 5


def reference(x, axis, alg):
    x = x.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        shifted = x - np.max(x, axis=axis, keepdims=True)
        e = np.exp(shifted)
        total = e.sum(axis=axis, keepdims=True)
        return shifted - np.log(total) if alg == LOG else e / total


def md_of(shape, order=None):
    if order is None:
        return dnnl.memory.desc(shape, dt.f32, PLAIN[len(shape)])
    return dnnl.memory.desc(shape, dt.f32, getattr(tag, order))


def run(eng, strm, x, axis, alg=ACC, src_md=None, dst_md=None):
    src_md = src_md or md_of(x.shape)
    pd = dnnl.softmax_forward.primitive_desc(eng, INF, alg, src_md, dst_md or src_md, axis)
    src = to_memory(eng, strm, x, pd.src_desc())
    dst = dnnl.memory(pd.dst_desc(), eng)
    dnnl.softmax_forward(pd).execute(strm, {dnnl.ARG_SRC: src, dnnl.ARG_DST: dst})
    strm.wait()
    return dst.to_numpy(), pd


def check(out, x, axis, alg):
    rtol, atol = TOL[alg]
    np.testing.assert_allclose(out, reference(x, axis, alg), rtol=rtol, atol=atol)


@pytest.mark.parametrize("alg", [ACC, LOG], ids=lambda a: a.name)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_every_axis(engines, rng, shape, alg):
    eng, strm = engines
    x = (rng.standard_normal(shape) * 4).astype(np.float32)
    for axis in range(len(shape)):
        out, pd = run(eng, strm, x, axis, alg)
        check(out, x, axis, alg)
        assert pd.get_axis() == axis and pd.get_algorithm() == alg


@pytest.mark.parametrize("nd", [3, 4, 5])
def test_permuted_layouts(engines, rng, nd):
    """src channels-last, dst row-major (and `any` dst following src)."""
    eng, strm = engines
    shape = (3, 5, 4, 3, 2)[:nd]
    x = rng.standard_normal(shape).astype(np.float32)
    for axis in range(nd):
        out, _ = run(eng, strm, x, axis, LOG, md_of(shape, PERMUTED[nd]), md_of(shape))
        check(out, x, axis, LOG)
    _, pd = run(eng, strm, x, 1, ACC, md_of(shape, PERMUTED[nd]),
                dnnl.memory.desc(shape, dt.f32, tag.any))
    assert pd.dst_desc() == md_of(shape, PERMUTED[nd])


def test_long_rows(engines, rng):
    eng, strm = engines
    x = rng.standard_normal((3, 10007)).astype(np.float32)
    for alg in (ACC, LOG):
        check(run(eng, strm, x, 1, alg)[0], x, 1, alg)


@pytest.mark.parametrize("alg", [ACC, LOG], ids=lambda a: a.name)
def test_inner_axis_lane_blocks(eng, strm, rng, alg):
    """An axis with contiguous rows beside it: the CPU carries blocks of 64 adjacent rows
    along the axis together (csrc/softmax.c's lanes); 70 rows leave a partial block, and a
    NaN stays in its row, in the partial block."""
    x = (rng.standard_normal((3, 9, 70)) * 4).astype(np.float32)
    x[1, 4, 66] = np.nan
    out, _ = run(eng, strm, x, 1, alg)
    check(out, x, 1, alg)
    assert np.isnan(out[1, :, 66]).all() and np.isfinite(np.delete(out, 66, axis=2)).all()


@pytest.mark.parametrize("alg", [ACC, LOG], ids=lambda a: a.name)
def test_large_values_are_stable(engines, rng, alg):
    """exp(80) overflows float32: only max subtraction keeps these finite."""
    eng, strm = engines
    x = (rng.standard_normal((4, 33)) * 30 + np.array([[1e4], [-1e4], [88.0], [3e38]])
         ).astype(np.float32)
    out, _ = run(eng, strm, x, 1, alg)
    assert np.isfinite(out).all()
    check(out, x, 1, alg)


def test_nan_and_inf(engines):
    eng, strm = engines
    x = np.array([[1, 2, np.nan, 4], [1, np.inf, 2, 3], [-np.inf, 0, 1, 2],
                  [-np.inf] * 4, [0, 1, 2, 3]], np.float32)
    for alg in (ACC, LOG):
        out, _ = run(eng, strm, x, 1, alg)
        ref = reference(x, 1, alg)
        assert np.isnan(out[0]).all() and np.isnan(out[1]).all() and np.isnan(out[3]).all()
        np.testing.assert_allclose(out, ref, *TOL[alg])  # NaN where the reference has NaN


def test_in_place(eng, strm, rng):
    x = rng.standard_normal((6, 9)).astype(np.float32)
    md = md_of(x.shape)
    pd = dnnl.softmax_forward.primitive_desc(eng, INF, ACC, md, md, 1)
    mem = dnnl.memory(md, eng, x.copy())
    dnnl.softmax_forward(pd).execute(strm, {dnnl.ARG_SRC: mem, dnnl.ARG_DST: mem})
    check(mem.to_numpy(), x, 1, ACC)


@pytest.mark.parametrize("args, match", [
    (lambda md, o: (dnnl.prop_kind.backward, ACC, md, md, 1), "prop_kind"),
    (lambda md, o: (INF, dnnl.algorithm.eltwise_relu, md, md, 1), "algorithm"),
    (lambda md, o: (INF, ACC, md, md, 2), "axis: 2"),
    (lambda md, o: (INF, ACC, md, md, -1), "axis: -1"),
    (lambda md, o: (INF, ACC, md, md, 1.5), "axis: expected an int"),
    (lambda md, o: (INF, ACC, md, o, 1), "dst: dims"),
    (lambda md, o: (INF, ACC, dnnl.memory.desc(), md, 1), "src descriptor"),
    (lambda md, o: (INF, ACC, md, dnnl.memory.desc([3, 5], dt.f32, [1, 0]), 1), "dst: strides"),
    (lambda md, o: (INF, ACC, dnnl.memory.desc([3, 5], dt.bf16, tag.ab), md, 1), "src: data type"),
])
def test_bad_input(eng, args, match):
    md, other = md_of((3, 5)), md_of((3, 6))
    with pytest.raises(dnnl.error, match=match):
        dnnl.softmax_forward.primitive_desc(eng, *args(md, other))


def test_blocked_layout_and_post_ops_are_unimplemented(eng):
    md = md_of((2, 16, 3, 3))
    blocked = dnnl.memory.desc([2, 16, 3, 3], dt.f32, tag.aBcd16b)
    with pytest.raises(dnnl.error, match="plain layouts only") as e:
        dnnl.softmax_forward.primitive_desc(eng, INF, ACC, blocked, md, 1)
    assert e.value.status == status.unimplemented
    ops = dnnl.post_ops()
    ops.append_eltwise(dnnl.algorithm.eltwise_relu, 0.0, 0.0)
    attr = dnnl.primitive_attr()
    attr.set_post_ops(ops)
    with pytest.raises(dnnl.error, match="post-ops") as e:
        dnnl.softmax_forward.primitive_desc(eng, INF, ACC, md, md, 1, attr)
    assert e.value.status == status.unimplemented


def test_execute_checks_arguments(eng, strm):
    md = md_of((3, 5))
    prim = dnnl.softmax_forward(dnnl.softmax_forward.primitive_desc(eng, INF, ACC, md, md, 1))
    with pytest.raises(dnnl.error, match="dst is missing"):
        prim.execute(strm, {dnnl.ARG_SRC: dnnl.memory(md, eng)})
    with pytest.raises(dnnl.error, match="src: memory is"):
        prim.execute(strm, {dnnl.ARG_SRC: dnnl.memory(md_of((5, 3)), eng),
                            dnnl.ARG_DST: dnnl.memory(md, eng)})


def test_blob_round_trip(engines, rng, clean_caches):
    eng, strm = engines
    x = rng.standard_normal((5, 7)).astype(np.float32)
    md = md_of(x.shape)

    def pd():
        return dnnl.softmax_forward.primitive_desc(eng, INF, LOG, md, md, 0)
    value = dnnl.softmax_forward(pd()).get_cache_blob()
    dnnl.clear_primitive_cache()
    again = dnnl.softmax_forward(pd(), value)
    assert again._built.source == "from_cache_blob"
    dst = dnnl.memory(md, eng)
    again.execute(strm, {dnnl.ARG_SRC: dnnl.memory(md, eng, x), dnnl.ARG_DST: dst})
    check(dst.to_numpy(), x, 0, LOG)
    other = dnnl.softmax_forward(dnnl.softmax_forward.primitive_desc(eng, INF, LOG, md, md,
                                                                     1)).get_cache_blob()
    dnnl.clear_primitive_cache()
    with pytest.raises(dnnl.error, match="problem"):
        dnnl.softmax_forward(pd(), other)


def test_cache_key_tells_every_field_apart(eng, clean_caches):
    md, md_t = md_of((4, 6)), dnnl.memory.desc([4, 6], dt.f32, tag.ba)
    train = dnnl.prop_kind.forward_training
    variants = [(INF, ACC, md, md, 1), (train, ACC, md, md, 1), (INF, LOG, md, md, 1),
                (INF, ACC, md_t, md, 1), (INF, ACC, md, md_t, 1), (INF, ACC, md, md, 0)]
    keys = {dnnl.softmax_forward.primitive_desc(eng, *v)._cache_key for v in variants}
    assert len(keys) == len(variants)
    for v in variants:
        dnnl.softmax_forward(dnnl.softmax_forward.primitive_desc(eng, *v))
    assert dnnl.get_primitive_cache_size() == len(variants)
    dnnl.softmax_forward(dnnl.softmax_forward.primitive_desc(eng, *variants[0]))
    assert dnnl.get_primitive_cache_size() == len(variants)  # a hit
