"""binary against float64 numpy: every algorithm and every broadcast pattern of src_1 on
both engines, NaN and inf, odd shapes, any plain layouts, in place, post-ops, bad input,
blobs, the cache key."""
import itertools
import os
import subprocess
import sys

import numpy as np
import pytest
from helpers import dt, make_attr, ocl_impls, tag
from test_matmul import memory_for

import dnnl_py as dnnl
from dnnl_py.cpu import binary as cpu_binary
from dnnl_py.kernel_abi import BINARY_ID

md = dnnl.memory.desc
IMPLS = [cpu_binary.BinarySimple, *ocl_impls("binary", "BinaryRef")]
OCL = IMPLS[1:]

REF = {  # float64; comparisons give 1.0 / 0.0
    "binary_add": np.add, "binary_sub": np.subtract, "binary_mul": np.multiply,
    "binary_div": np.divide, "binary_max": np.maximum, "binary_min": np.minimum,
    "binary_ge": lambda a, b: (a >= b).astype(np.float64),
    "binary_gt": lambda a, b: (a > b).astype(np.float64),
    "binary_le": lambda a, b: (a <= b).astype(np.float64),
    "binary_lt": lambda a, b: (a < b).astype(np.float64),
    "binary_eq": lambda a, b: (a == b).astype(np.float64),
    "binary_ne": lambda a, b: (a != b).astype(np.float64),
}
ALGS = list(REF)
SPECIAL = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 2.5, 1e30, -1e30, 3e38],
                   np.float32)


def impl_id(impl) -> str:
    return "ocl" if impl.name.startswith("ocl:") else "cpu"


def reference(alg, a, b):
    with np.errstate(all="ignore"):
        return REF[alg](a.astype(np.float64), b.astype(np.float64)).astype(np.float32)


def assert_matches(out, ref):
    """Exact but for the last rounding: each result is one float32 operation."""
    np.testing.assert_allclose(out, ref, rtol=1e-7, atol=0, equal_nan=True)


def plain(shape, order=None, pad=0) -> "dnnl.memory.desc":
    """A descriptor whose dims lie in memory in `order` (outermost first; row-major by
    default), the innermost one padded by `pad` elements."""
    order = list(range(len(shape))) if order is None else order
    strides, acc = [0] * len(shape), 1
    for k, d in enumerate(reversed(order)):
        strides[d] = acc
        acc *= shape[d] + (pad if k == 0 else 0)
    return md(shape, dt.f32, strides)


def run(eng, strm, alg, a, b, a_md=None, b_md=None, dst_md=None, ops=(), in_place=False,
        dst_init=None):
    a_md, b_md = a_md or plain(a.shape), b_md or plain(b.shape)
    dst_md = dst_md or md(a.shape, dt.f32, tag.any)
    pd = dnnl.binary.primitive_desc(eng, getattr(dnnl.algorithm, alg), a_md, b_md, dst_md,
                                    attr=make_attr(ops) if ops else None)
    src0, src1 = memory_for(eng, pd.src_desc(0), a), memory_for(eng, pd.src_desc(1), b)
    if in_place:
        dst = src0
    else:
        init = dst_init if dst_init is not None else np.zeros(a.shape, np.float32)
        dst = memory_for(eng, pd.dst_desc(), init)
    dnnl.binary(pd).execute(strm, {dnnl.ARG_SRC_0: src0, dnnl.ARG_SRC_1: src1,
                                   dnnl.ARG_DST: dst})
    strm.wait()
    return dst.to_numpy(), pd


def operands(rng, shape0, shape1):
    """Random values with the special ones spread through both operands."""
    a = (rng.standard_normal(shape0) * 3).astype(np.float32)
    b = (rng.standard_normal(shape1) * 3).astype(np.float32)
    a.flat[:len(SPECIAL)] = SPECIAL[:a.size]
    b.flat[::3][:len(SPECIAL)] = SPECIAL[::-1][:len(b.flat[::3])]
    b.flat[1:4] = a.flat[1:4] if a.shape == b.shape else b.flat[1:4]  # ties for comparisons
    return a, b


SHAPE = (2, 3, 5, 7)
PATTERNS = [tuple(1 if m else n for m, n in zip(mask, SHAPE))
            for mask in itertools.product([0, 1], repeat=4)]


def shape_id(s) -> str:
    return "x".join(map(str, s))


@pytest.mark.parametrize("alg", ALGS)
@pytest.mark.parametrize("shape1", PATTERNS, ids=shape_id)
def test_every_algorithm_and_broadcast_cpu(eng, strm, rng, alg, shape1):
    a, b = operands(rng, SHAPE, shape1)
    out, pd = run(eng, strm, alg, a, b)
    assert pd.impl_info_str() == cpu_binary.BinarySimple.name
    assert_matches(out, reference(alg, a, b))


@pytest.mark.parametrize("impl", OCL, ids=impl_id)
@pytest.mark.parametrize("alg", ALGS)
def test_every_algorithm_ocl(engine_for, rng, impl, alg):
    eng, strm = engine_for(impl)
    a, b = operands(rng, SHAPE, (1, 3, 1, 7))
    out, _ = run(eng, strm, alg, a, b)
    assert_matches(out, reference(alg, a, b))


@pytest.mark.parametrize("impl", OCL, ids=impl_id)
@pytest.mark.parametrize("shape1", PATTERNS, ids=shape_id)
def test_every_broadcast_ocl(engine_for, rng, impl, shape1):
    eng, strm = engine_for(impl)
    a, b = operands(rng, SHAPE, shape1)
    out, _ = run(eng, strm, "binary_sub", a, b)
    assert_matches(out, reference("binary_sub", a, b))


CASES = [  # (src_0 shape, src_1 shape)
    ((1,), (1,)), ((7,), (1,)), ((13, 1), (13, 1)), ((3, 17), (1, 17)), ((3, 17), (3, 1)),
    ((2, 64, 9, 11), (1, 64, 1, 1)), ((2, 3, 4, 5, 6), (2, 1, 4, 1, 6)),
    ((1, 1, 1, 1, 1, 1, 3), (1, 1, 1, 1, 1, 1, 1)), ((300001,), (300001,)),
    ((5, 70001), (1, 70001)), ((70001, 5), (70001, 1)), ((0, 4), (1, 4)),
]
LAYOUTS = ["plain", "src0_transposed", "src1_transposed", "dst_transposed", "padded",
           "in_place"]


@pytest.mark.parametrize("impl", IMPLS, ids=impl_id)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{shape_id(c[0])}:{shape_id(c[1])}")
def test_shapes_and_layouts(engine_for, rng, impl, layout, case):
    eng, strm = engine_for(impl)
    shape0, shape1 = case
    if impl.name.startswith("ocl:") and np.prod(shape0) > 100000 and layout != "plain":
        pytest.skip("large problems once per engine: OpenCL builds are per problem")
    a, b = operands(rng, shape0, shape1)
    rev = list(range(len(shape0)))[::-1]
    a_md, b_md, dst_md = plain(shape0), plain(shape1), None
    if layout == "src0_transposed":
        a_md = plain(shape0, rev)
    elif layout == "src1_transposed":
        b_md = plain(shape1, rev)
    elif layout == "dst_transposed":
        dst_md = plain(shape0, rev)
    elif layout == "padded":
        a_md, b_md, dst_md = plain(shape0, pad=2), plain(shape1, pad=1), plain(shape0, pad=3)
    out, pd = run(eng, strm, "binary_mul", a, b, a_md, b_md, dst_md,
                  in_place=layout == "in_place")
    assert out.shape == shape0
    assert_matches(out, reference("binary_mul", a, b))
    if layout == "src0_transposed" and min(shape0) > 1:  # `any` follows src_0
        assert pd.dst_desc() == plain(shape0, rev)


@pytest.mark.parametrize("impl", IMPLS, ids=impl_id)
@pytest.mark.parametrize("in_place", [False, True], ids=["out_of_place", "in_place"])
@pytest.mark.parametrize("layout", ["plain", "dst_transposed"])
def test_post_ops(engine_for, rng, impl, in_place, layout):
    eng, strm = engine_for(impl)
    if in_place and layout != "plain":
        pytest.skip("in place takes src_0's layout")
    a, b = operands(rng, (4, 300), (1, 300))
    init = a if in_place else rng.standard_normal((4, 300)).astype(np.float32)
    ops = [("sum", 0.5), ("eltwise", "eltwise_relu", 0.1, 0.0)]
    dst_md = plain((4, 300), [1, 0]) if layout == "dst_transposed" else None
    out, _ = run(eng, strm, "binary_add", a, b, dst_md=dst_md, ops=ops, in_place=in_place,
                 dst_init=init)
    with np.errstate(all="ignore"):
        x = a.astype(np.float64) + b + 0.5 * init
        ref = np.where(x > 0, x, 0.1 * x).astype(np.float32)
    np.testing.assert_allclose(out, ref, rtol=1e-6, atol=1e-6, equal_nan=True)


def pd_of(eng, alg=dnnl.algorithm.binary_add, src0=None, src1=None, dst=None, attr=None):
    src0 = src0 if src0 is not None else md([2, 3], dt.f32, tag.ab)
    src1 = src1 if src1 is not None else md([1, 3], dt.f32, tag.ab)
    dst = dst if dst is not None else md([2, 3], dt.f32, tag.ab)
    return dnnl.binary.primitive_desc(eng, alg, src0, src1, dst, attr=attr)


@pytest.mark.parametrize("kwargs, status, match", [
    (dict(src1=md([2, 2], dt.f32, tag.ab)), "invalid_arguments", "src_1: dims .* broadcast"),
    (dict(src1=md([3], dt.f32, tag.a)), "invalid_arguments", "src_1: 1 dims, src_0 has 2"),
    (dict(dst=md([2, 1], dt.f32, tag.ab)), "invalid_arguments", "dst: dims"),
    (dict(dst=md([2, 3, 1], dt.f32, tag.abc)), "invalid_arguments", "dst: 3 dims"),
    (dict(alg=dnnl.algorithm.eltwise_relu), "invalid_arguments", "not a binary algorithm"),
    (dict(src1=md()), "invalid_arguments", "src_1 descriptor is missing"),
    (dict(dst=md([2, 3], dt.f32, [0, 1])), "invalid_arguments", "dst: strides"),
    (dict(src1=md([1, 3], dt.s8, tag.ab)), "unimplemented", "src_1: data type s8"),
])
def test_bad_input(eng, kwargs, status, match):
    with pytest.raises(dnnl.error, match=match) as e:
        pd_of(eng, **kwargs)
    assert e.value.status == getattr(dnnl.status, status)


def test_blocked_layouts_are_declined_with_a_reason(eng):
    blocked = md([2, 32, 3, 3], dt.f32, tag.aBcd16b)
    with pytest.raises(dnnl.error, match=r"src_0: aBcd16b layout \(plain layouts only\)") as e:
        pd_of(eng, src0=blocked, src1=md([1, 32, 1, 1], dt.f32, tag.abcd), dst=blocked)
    assert e.value.status == dnnl.status.unimplemented


def test_execute_checks_its_arguments(eng, strm):
    pd = pd_of(eng)
    prim = dnnl.binary(pd)
    a, d = dnnl.memory(pd.src_desc(0), eng), dnnl.memory(pd.dst_desc(), eng)
    with pytest.raises(dnnl.error, match="argument src_1 is missing"):
        prim.execute(strm, {dnnl.ARG_SRC_0: a, dnnl.ARG_DST: d})
    with pytest.raises(dnnl.error, match="src_1: memory is"):
        prim.execute(strm, {dnnl.ARG_SRC_0: a, dnnl.ARG_SRC_1: a, dnnl.ARG_DST: d})


def test_queries_and_verbose(eng, capsys):
    dnnl.clear_primitive_cache()
    dnnl.set_verbose(2)
    try:
        pd = pd_of(eng, alg=dnnl.algorithm.binary_ge, dst=md([2, 3], dt.f32, tag.any))
        dnnl.binary(pd)
    finally:
        dnnl.set_verbose(0)
    assert pd.get_algorithm() == dnnl.algorithm.binary_ge
    assert pd.src_desc(1) == md([1, 3], dt.f32, tag.ab) and pd.dst_desc() == pd.src_desc(0)
    line = [ln for ln in capsys.readouterr().out.splitlines() if ",create:" in ln][-1]
    assert (",binary,cpu:simple:" in line and ",undef,src:f32" in line
            and ",alg:binary_ge,2x3:1x3," in line), line


@pytest.mark.parametrize("impl", IMPLS, ids=impl_id)
def test_blob_round_trip(engine_for, rng, impl, clean_caches, monkeypatch):
    eng, strm = engine_for(impl)
    pd = pd_of(eng, alg=dnnl.algorithm.binary_max, src0=md([5, 7], dt.f32, tag.ab),
               src1=md([5, 1], dt.f32, tag.ab), dst=md([5, 7], dt.f32, tag.ba))
    value = dnnl.binary(pd).get_cache_blob()
    dnnl.clear_primitive_cache()
    if impl.name.startswith("ocl:"):  # the blob's binary is used: nothing is compiled
        from dnnl_py.ocl import program

        def no_build(*args, **kwargs):
            raise AssertionError("compiled although the blob has the program")
        monkeypatch.setattr(program, "build", no_build)
    again = dnnl.binary(pd, value)
    assert again._built.source == "from_cache_blob"
    a, b = operands(rng, (5, 7), (5, 1))
    m0, m1 = memory_for(eng, pd.src_desc(0), a), memory_for(eng, pd.src_desc(1), b)
    d = dnnl.memory(pd.dst_desc(), eng)
    again.execute(strm, {dnnl.ARG_SRC_0: m0, dnnl.ARG_SRC_1: m1, dnnl.ARG_DST: d})
    assert_matches(d.to_numpy(), reference("binary_max", a, b))
    other = pd_of(eng, alg=dnnl.algorithm.binary_min, src0=md([5, 7], dt.f32, tag.ab),
                  src1=md([5, 1], dt.f32, tag.ab), dst=md([5, 7], dt.f32, tag.ba))
    with pytest.raises(dnnl.error) as e:
        dnnl.binary(other, value)
    assert e.value.status == dnnl.status.invalid_arguments


BASE = dict(alg=dnnl.algorithm.binary_add, src0=md([2, 3], dt.f32, tag.ab),
            src1=md([1, 3], dt.f32, tag.ab), dst=md([2, 3], dt.f32, tag.ab))
VARIANTS = {
    "algorithm": dict(alg=dnnl.algorithm.binary_mul),
    "src_0 layout": dict(src0=md([2, 3], dt.f32, tag.ba)),
    "src_1 dims": dict(src1=md([2, 3], dt.f32, tag.ab)),
    "src_1 layout": dict(src1=md([1, 3], dt.f32, [4, 1])),
    "dst layout": dict(dst=md([2, 3], dt.f32, tag.ba)),
    "dims": dict(src0=md([4, 3], dt.f32, tag.ab), dst=md([4, 3], dt.f32, tag.ab)),
    "post-ops": dict(attr=make_attr([("eltwise", "eltwise_relu", 0.0, 0.0)])),
}


@pytest.mark.parametrize("field", VARIANTS)
def test_each_problem_field_makes_its_own_cache_entry(eng, clean_caches, field):
    base = dnnl.binary(pd_of(eng, **BASE))
    assert dnnl.binary(pd_of(eng, **BASE))._kernel is base._kernel
    other = dnnl.binary(pd_of(eng, **{**BASE, **VARIANTS[field]}))
    assert other._kernel is not base._kernel
    assert dnnl.primitive_cache_stats().misses == 2


def test_every_kernel_algorithm_is_tested():
    assert {a.name for a in BINARY_ID} == set(REF)


CHILD = """
import sys
import dnnl_py as dnnl
md, dt, tag = dnnl.memory.desc, dnnl.memory.data_type, dnnl.memory.format_tag
eng = dnnl.engine(dnnl.engine.kind.cpu, 0)
elt = dnnl.eltwise_forward.primitive_desc(eng, dnnl.prop_kind.forward_inference,
    dnnl.algorithm.eltwise_elu, md([3, 5], dt.f32, tag.ab), md([3, 5], dt.f32, tag.ba), 0.5)
bin = dnnl.binary.primitive_desc(eng, dnnl.algorithm.binary_div, md([3, 5], dt.f32, tag.ab),
    md([1, 5], dt.f32, tag.ab), md([3, 5], dt.f32, tag.ab))
for pd, kind in ((elt, dnnl.eltwise_forward), (bin, dnnl.binary)):
    print(pd.get_cache_blob_id().hex(), kind(pd).get_cache_blob().hex())
"""


def test_blobs_from_a_fresh_process(eng, strm, rng, clean_caches):
    """Blob ids and blobs of both kinds made in another process are this process's."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": root}, check=True).stdout.split()
    elt = dnnl.eltwise_forward.primitive_desc(
        eng, dnnl.prop_kind.forward_inference, dnnl.algorithm.eltwise_elu,
        md([3, 5], dt.f32, tag.ab), md([3, 5], dt.f32, tag.ba), 0.5)
    bin_pd = pd_of(eng, alg=dnnl.algorithm.binary_div, src0=md([3, 5], dt.f32, tag.ab),
                   src1=md([1, 5], dt.f32, tag.ab), dst=md([3, 5], dt.f32, tag.ab))
    for (key, value), pd, kind in zip(zip(out[::2], out[1::2]), (elt, bin_pd),
                                      (dnnl.eltwise_forward, dnnl.binary)):
        assert bytes.fromhex(key) == pd.get_cache_blob_id()
        prim = kind(pd, bytes.fromhex(value))
        assert prim._built.source == "from_cache_blob"
    a, b = operands(rng, (3, 5), (1, 5))
    m0, m1 = memory_for(eng, bin_pd.src_desc(0), a), memory_for(eng, bin_pd.src_desc(1), b)
    d = dnnl.memory(bin_pd.dst_desc(), eng)
    prim.execute(strm, {dnnl.ARG_SRC_0: m0, dnnl.ARG_SRC_1: m1, dnnl.ARG_DST: d})
    assert_matches(d.to_numpy(), reference("binary_div", a, b))
