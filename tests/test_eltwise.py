"""eltwise_forward against float64 numpy (oneDNN's formulas, written here independently):
every algorithm on both engines, NaN and inf, odd shapes, any plain layouts, in place,
post-ops (the new algorithms as post-ops of matmul too), bad input, blobs, the cache key."""
import math

import numpy as np
import pytest
from helpers import dt, make_attr, ocl_impls, tag
from scipy.special import erf
from test_matmul import memory_for
from test_matmul import run as run_matmul

import dnnl_py as dnnl
from dnnl_py.cpu import eltwise as cpu_eltwise
from dnnl_py.cpu import matmul as cpu_matmul
from dnnl_py.kernel_abi import ELTWISE_ID

md = dnnl.memory.desc
IMPLS = [cpu_eltwise.EltwiseSimple, *ocl_impls("eltwise", "EltwiseRef")]


def impl_id(impl) -> str:
    return "ocl" if impl.name.startswith("ocl:") else "cpu"


def _hardsigmoid(x, a, b):
    v = a * x + b
    return np.where(v <= 0, 0.0, np.where(v >= 1, 1.0, v))  # NaN falls through


def _soft_relu(x, a, b):
    v = a * x
    v = np.where(np.abs(v) > np.finfo(np.float32).max, v * np.inf, v)  # oneDNN's float a*x
    return np.where(v < 88.72283172607421875, np.log1p(np.exp(v)), v) / a


# float64 references, oneDNN's forward formulas
REF = {
    "eltwise_relu": lambda x, a, b: np.where(x > 0, x, a * x),
    "eltwise_tanh": lambda x, a, b: np.tanh(x),
    "eltwise_elu": lambda x, a, b: np.where(x > 0, x, a * np.expm1(x)),
    "eltwise_square": lambda x, a, b: x * x,
    "eltwise_abs": lambda x, a, b: np.abs(x),
    "eltwise_sqrt": lambda x, a, b: np.sqrt(x),
    "eltwise_linear": lambda x, a, b: a * x + b,
    "eltwise_soft_relu": _soft_relu,
    "eltwise_logistic": lambda x, a, b: 1 / (1 + np.exp(-x)),
    "eltwise_exp": lambda x, a, b: np.exp(x),
    "eltwise_gelu_tanh": lambda x, a, b:
        0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3))),
    "eltwise_gelu_erf": lambda x, a, b: 0.5 * x * (1 + erf(x / np.sqrt(2))),
    "eltwise_swish": lambda x, a, b: x / (1 + np.exp(-a * x)),
    "eltwise_log": lambda x, a, b: np.log(x),
    "eltwise_clip": lambda x, a, b: np.where(x > a, np.where(x > b, b, x), np.where(x != x, x, a)),
    "eltwise_pow": lambda x, a, b: a * np.vectorize(_c_pow, otypes=[np.float64])(x, b),
    "eltwise_round": lambda x, a, b: np.rint(x),
    "eltwise_hardswish": lambda x, a, b: x * _hardsigmoid(x, a, b),
    "eltwise_hardsigmoid": _hardsigmoid,
}


def _c_pow(x: float, y: float) -> float:
    """C99's pow, as oneDNN's powf (numpy's power gives NaN for pow(-inf, 0.5))."""
    try:
        return math.pow(x, y)
    except ValueError:  # a negative base with a fraction, or zero to a negative power
        return math.inf if x == 0 else math.nan
    except OverflowError:
        odd = y == int(y) and int(y) % 2 == 1
        return math.copysign(math.inf, x) if odd else math.inf


# (algorithm, alpha, beta): every one the kernels have, with the parameters that matter
CASES = [
    ("eltwise_relu", 0.0, 0.0), ("eltwise_relu", 0.25, 0.0), ("eltwise_tanh", 0.0, 0.0),
    ("eltwise_elu", 1.0, 0.0), ("eltwise_elu", 0.5, 0.0), ("eltwise_square", 0.0, 0.0),
    ("eltwise_abs", 0.0, 0.0), ("eltwise_sqrt", 0.0, 0.0), ("eltwise_linear", 2.0, -1.0),
    ("eltwise_soft_relu", 1.0, 0.0), ("eltwise_soft_relu", 2.5, 0.0),
    ("eltwise_soft_relu", -1.0, 0.0), ("eltwise_logistic", 0.0, 0.0),
    ("eltwise_exp", 0.0, 0.0), ("eltwise_gelu_tanh", 0.0, 0.0), ("eltwise_gelu_erf", 0.0, 0.0),
    ("eltwise_swish", 1.0, 0.0), ("eltwise_log", 0.0, 0.0), ("eltwise_clip", -1.0, 2.0),
    ("eltwise_pow", 1.0, 2.0), ("eltwise_pow", 0.5, 3.0), ("eltwise_pow", 2.0, 0.5),
    ("eltwise_pow", 1.0, -1.5), ("eltwise_pow", 3.0, 0.0), ("eltwise_round", 0.0, 0.0),
    ("eltwise_hardswish", 1 / 6, 0.5), ("eltwise_hardsigmoid", 1 / 6, 0.5),
    ("eltwise_hardsigmoid", 0.2, 0.5),
]


def case_id(c) -> str:
    return f"{c[0][8:]}:{c[1]:g}:{c[2]:g}"


SPECIAL = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 0.5, -0.5, 1.5, 2.5, -2.5, 3.0, -3.0,
                    1e-3, -1e-3, 1e-30, 30.0, -30.0, 88.5, -88.5, 100.0, -100.0, 1e30, -1e30,
                    3.4e38, -3.4e38, 1e-40], np.float32)
RTOL, ATOL = 1e-5, 1e-6  # per element; a few ulp of float32 math, erf's absolute 1.5e-7


def reference(alg, x, alpha, beta):
    """The float64 result rounded to float32 (so that an overflow is inf on both sides)."""
    with np.errstate(all="ignore"):
        return REF[alg](x.astype(np.float64), alpha, beta).astype(np.float32)


def assert_matches(out, ref):
    np.testing.assert_allclose(out, ref, rtol=RTOL, atol=ATOL, equal_nan=True)


def run(eng, strm, alg, src, alpha=0.0, beta=0.0, src_md=None, dst_md=None, ops=(),
        in_place=False, dst_init=None):
    src_md = src_md or md(src.shape, dt.f32, list(np.array(src.strides) // 4))
    dst_md = dst_md or md(src.shape, dt.f32, tag.any)
    attr = make_attr(ops) if ops else None
    pd = dnnl.eltwise_forward.primitive_desc(eng, dnnl.prop_kind.forward_inference,
                                             getattr(dnnl.algorithm, alg), src_md, dst_md,
                                             alpha, beta, attr=attr)
    src_mem = memory_for(eng, pd.src_desc(), src)
    if in_place:
        dst_mem = src_mem
    else:
        init = dst_init if dst_init is not None else np.zeros(src.shape, np.float32)
        dst_mem = memory_for(eng, pd.dst_desc(), init)
    dnnl.eltwise_forward(pd).execute(strm, {dnnl.ARG_SRC: src_mem, dnnl.ARG_DST: dst_mem})
    strm.wait()
    return dst_mem.to_numpy(), pd


@pytest.mark.parametrize("impl", IMPLS, ids=impl_id)
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_every_algorithm_with_nan_and_inf(engine_for, rng, impl, case):
    """Random values around the interesting range and the special ones (NaN propagates,
    +-inf and overflow give what the formula gives in float32)."""
    eng, strm = engine_for(impl)
    alg, alpha, beta = case
    x = np.concatenate([SPECIAL, (rng.standard_normal(333) * 4).astype(np.float32),
                        rng.uniform(-90, 90, 100).astype(np.float32)]).reshape(1, -1)
    out, pd = run(eng, strm, alg, x, alpha, beta)
    assert pd.impl_info_str() == impl.name
    assert_matches(out, reference(alg, x, alpha, beta))


def test_every_kernel_algorithm_is_tested():
    assert {c[0] for c in CASES} == {a.name for a in ELTWISE_ID} == set(REF)


def test_log_and_exp_accuracy_over_the_float_range(eng, strm):
    """The polynomial log and exp (no libm: vectorised) against float64, over every
    binade: a few ulp."""
    x = np.geomspace(1e-44, 3e38, 20001).astype(np.float32).reshape(1, -1)
    out, _ = run(eng, strm, "eltwise_log", x)
    np.testing.assert_allclose(out, reference("eltwise_log", x, 0, 0), rtol=3e-7, atol=0)
    y = np.linspace(-87, 88.7, 20001).astype(np.float32).reshape(1, -1)
    out, _ = run(eng, strm, "eltwise_exp", y)
    np.testing.assert_allclose(out, reference("eltwise_exp", y, 0, 0), rtol=5e-7, atol=0)


SHAPES = [(1,), (7,), (3, 5), (2, 3, 5, 7), (1, 17, 1, 9), (2, 3, 4, 5, 6), (300001,),
          (3, 40001), (0, 3)]
LAYOUTS = ["same", "dst_transposed", "padded_src", "in_place"]


def strided(shape, order, pad=0):
    """A descriptor whose dims lie in memory in `order` (outermost first), each row padded."""
    strides, acc = [0] * len(shape), 1
    for k, d in enumerate(reversed(order)):
        strides[d] = acc
        acc *= shape[d] + (pad if k == 0 else 0)
    return md(shape, dt.f32, strides)


@pytest.mark.parametrize("impl", IMPLS, ids=impl_id)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_shapes_and_layouts(engine_for, rng, impl, layout, shape):
    eng, strm = engine_for(impl)
    if impl.name.startswith("ocl:") and np.prod(shape) > 100000 and layout != "same":
        pytest.skip("large problems once per engine: OpenCL builds are per problem")
    x = (rng.standard_normal(shape) * 3).astype(np.float32)
    order = list(range(len(shape)))
    src_md = strided(shape, order, pad=3 if layout == "padded_src" else 0)
    dst_md = None
    if layout == "dst_transposed":
        dst_md = strided(shape, order[::-1])
    out, pd = run(eng, strm, "eltwise_gelu_erf", x, src_md=src_md, dst_md=dst_md,
                  in_place=layout == "in_place")
    assert out.shape == shape
    assert_matches(out, reference("eltwise_gelu_erf", x, 0, 0))
    if layout in ("same", "padded_src"):  # `any` follows the source's order, dense
        assert pd.dst_desc() == strided(shape, order)


@pytest.mark.parametrize("impl", IMPLS, ids=impl_id)
@pytest.mark.parametrize("in_place", [False, True], ids=["out_of_place", "in_place"])
def test_post_ops(engine_for, rng, impl, in_place):
    eng, strm = engine_for(impl)
    x = (rng.standard_normal((4, 33)) * 2).astype(np.float32)
    init = x if in_place else rng.standard_normal((4, 33)).astype(np.float32)
    ops = [("sum", 0.5), ("eltwise", "eltwise_linear", 2.0, 1.0)]
    out, _ = run(eng, strm, "eltwise_tanh", x, ops=ops, in_place=in_place, dst_init=init)
    ref = 2.0 * (np.tanh(x.astype(np.float64)) + 0.5 * init) + 1.0
    assert_matches(out, ref.astype(np.float32))


NEW_POST_OPS = [c for c in CASES if c[0] in (
    "eltwise_exp", "eltwise_log", "eltwise_sqrt", "eltwise_square", "eltwise_abs", "eltwise_pow",
    "eltwise_soft_relu", "eltwise_hardswish", "eltwise_hardsigmoid", "eltwise_elu",
    "eltwise_round")]
MATMUL_IMPLS = [cpu_matmul.MatmulGemm, cpu_matmul.MatmulRef,
                *ocl_impls("gemm", "MatmulTiled", "MatmulRef")]


@pytest.mark.parametrize("impl", MATMUL_IMPLS, ids=lambda c: c.name)
@pytest.mark.parametrize("case", NEW_POST_OPS, ids=case_id)
def test_new_algorithms_as_post_ops(engine_for, impl, case):
    """The algorithms added with this kind, fused into matmul: the CPU epilogue's
    vectorised loops and OpenCL's float8 and scalar post-ops. dst = 1 x values."""
    eng, strm = engine_for(impl)
    values = np.tile(SPECIAL, 3)[None, :]
    alg, alpha, beta = case
    out, pd = run_matmul(eng, strm, np.ones((1, 1), np.float32), values,
                         ops=[("eltwise", alg, alpha, beta)])
    assert pd.impl_info_str() == impl.name
    assert_matches(out, reference(alg, values, alpha, beta))


def pd_of(eng, alg=dnnl.algorithm.eltwise_relu, src=None, dst=None, alpha=0.0, beta=0.0,
          prop=dnnl.prop_kind.forward_inference, attr=None):
    src = src if src is not None else md([2, 3], dt.f32, tag.ab)
    dst = dst if dst is not None else md([2, 3], dt.f32, tag.ab)
    return dnnl.eltwise_forward.primitive_desc(eng, prop, alg, src, dst, alpha, beta, attr=attr)


@pytest.mark.parametrize("kwargs, status, match", [
    (dict(dst=md([3, 2], dt.f32, tag.ab)), "invalid_arguments", "dst: dims"),
    (dict(alg=dnnl.algorithm.binary_add), "invalid_arguments", "not an eltwise algorithm"),
    (dict(alg="eltwise_relu"), "invalid_arguments", "not an eltwise algorithm"),
    (dict(alg=dnnl.algorithm.eltwise_mish), "unimplemented", "eltwise_mish"),
    (dict(prop=dnnl.prop_kind.backward_data), "unimplemented", "forward only"),
    (dict(alg=dnnl.algorithm.eltwise_clip, alpha=2.0, beta=1.0), "invalid_arguments",
     "beta >= alpha"),
    (dict(alpha="x"), "invalid_arguments", "alpha"),
    (dict(src=md([2, 3], dt.f32, tag.any)), "invalid_arguments", "src: format_tag.any"),
    (dict(src=md([2, 3], dt.s8, tag.ab), dst=md([2, 3], dt.s8, tag.ab)), "unimplemented",
     "src: data type s8"),
    (dict(dst=md([2, 3], dt.f32, [0, 1])), "invalid_arguments", "dst: strides"),
])
def test_bad_input(eng, kwargs, status, match):
    with pytest.raises(dnnl.error, match=match) as e:
        pd_of(eng, **kwargs)
    assert e.value.status == getattr(dnnl.status, status)


def test_blocked_layouts_are_declined_with_a_reason(eng):
    blocked = md([2, 32, 3, 3], dt.f32, tag.aBcd16b)
    with pytest.raises(dnnl.error, match="plain layouts only") as e:
        pd_of(eng, src=blocked, dst=blocked)
    assert e.value.status == dnnl.status.unimplemented


def test_execute_checks_its_arguments(eng, strm):
    prim = dnnl.eltwise_forward(pd_of(eng))
    src = dnnl.memory(md([2, 3], dt.f32, tag.ab), eng)
    with pytest.raises(dnnl.error, match="argument dst is missing"):
        prim.execute(strm, {dnnl.ARG_SRC: src})
    with pytest.raises(dnnl.error, match="dst: memory is"):
        prim.execute(strm, {dnnl.ARG_SRC: src,
                            dnnl.ARG_DST: dnnl.memory(md([2, 3], dt.f32, tag.ba), eng)})


def test_queries_and_verbose(eng, strm, capsys):
    dnnl.clear_primitive_cache()
    dnnl.set_verbose(2)
    try:
        pd = pd_of(eng, alg=dnnl.algorithm.eltwise_elu, alpha=0.5,
                   src=md([2, 3, 4], dt.f32, tag.abc), dst=md([2, 3, 4], dt.f32, tag.any))
        dnnl.eltwise_forward(pd)
    finally:
        dnnl.set_verbose(0)
    assert (pd.get_algorithm(), pd.get_alpha(), pd.get_beta()) == (
        dnnl.algorithm.eltwise_elu, 0.5, 0.0)
    assert pd.get_kind().name == "eltwise"
    line = [ln for ln in capsys.readouterr().out.splitlines() if ",create:" in ln][-1]
    assert (",eltwise,cpu:simple:" in line and ",forward_inference," in line
            and "alg:eltwise_elu alpha:0.5 beta:0,2x3x4," in line), line


@pytest.mark.parametrize("impl", IMPLS, ids=impl_id)
def test_blob_round_trip(engine_for, rng, impl, clean_caches, monkeypatch):
    eng, strm = engine_for(impl)
    pd = pd_of(eng, alg=dnnl.algorithm.eltwise_swish, alpha=1.5,
               src=md([5, 7], dt.f32, tag.ab), dst=md([5, 7], dt.f32, tag.ba))
    value = dnnl.eltwise_forward(pd).get_cache_blob()
    assert len(pd.get_cache_blob_id()) == 32
    dnnl.clear_primitive_cache()
    if impl.name.startswith("ocl:"):  # the blob's binary is used: nothing is compiled
        from dnnl_py.ocl import program

        def no_build(*args, **kwargs):
            raise AssertionError("compiled although the blob has the program")
        monkeypatch.setattr(program, "build", no_build)
    again = dnnl.eltwise_forward(pd, value)
    assert again._built.source == "from_cache_blob"
    x = rng.standard_normal((5, 7)).astype(np.float32)
    src, dst = memory_for(eng, pd.src_desc(), x), dnnl.memory(pd.dst_desc(), eng)
    again.execute(strm, {dnnl.ARG_SRC: src, dnnl.ARG_DST: dst})
    assert_matches(dst.to_numpy(), reference("eltwise_swish", x, 1.5, 0.0))
    other = pd_of(eng, alg=dnnl.algorithm.eltwise_swish, alpha=2.0,
                  src=md([5, 7], dt.f32, tag.ab), dst=md([5, 7], dt.f32, tag.ba))
    with pytest.raises(dnnl.error) as e:
        dnnl.eltwise_forward(other, value)
    assert e.value.status == dnnl.status.invalid_arguments


BASE = dict(alg=dnnl.algorithm.eltwise_relu, src=md([2, 3], dt.f32, tag.ab),
            dst=md([2, 3], dt.f32, tag.ab), alpha=0.0, beta=0.0,
            prop=dnnl.prop_kind.forward_inference)
VARIANTS = {
    "algorithm": dict(alg=dnnl.algorithm.eltwise_abs),
    "alpha": dict(alpha=0.5),
    "beta": dict(beta=0.5),
    "prop_kind": dict(prop=dnnl.prop_kind.forward_training),
    "dims": dict(src=md([3, 2], dt.f32, tag.ab), dst=md([3, 2], dt.f32, tag.ab)),
    "src layout": dict(src=md([2, 3], dt.f32, tag.ba)),
    "dst layout": dict(dst=md([2, 3], dt.f32, tag.ba)),
    "post-ops": dict(attr=make_attr([("sum", 1.0)])),
}


@pytest.mark.parametrize("field", VARIANTS)
def test_each_problem_field_makes_its_own_cache_entry(eng, clean_caches, field):
    base = dnnl.eltwise_forward(pd_of(eng, **BASE))
    assert dnnl.eltwise_forward(pd_of(eng, **BASE))._kernel is base._kernel
    other = dnnl.eltwise_forward(pd_of(eng, **{**BASE, **VARIANTS[field]}))
    assert other._kernel is not base._kernel
    assert dnnl.primitive_cache_stats().misses == 2
