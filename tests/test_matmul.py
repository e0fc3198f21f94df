"""Matmul against numpy: bert/transformer shapes (batch reduced), broadcast, bias,
transposes through strides, a column-major dst, every post-op, every implementation (CPU,
and OpenCL when a device is there)."""
import numpy as np
import pytest
from conftest import INPUTS
from helpers import PLAIN, dt, make_attr, ocl_impls, tag
from reference import assert_close, post_ops
from test_convolution import ALL_OPS, ops_id

import dnnl_py as dnnl
from dnnl_py.benchdnn.problems import parse_matmul, read_batch
from dnnl_py.cpu import _kernels
from dnnl_py.cpu import matmul as cpu_matmul
from dnnl_py.cpu.impl_list import IMPLS as CPU_LISTS
from dnnl_py.kinds import primitive_kind

SHAPES = [p for f in ("shapes_bert", "shapes_transformer")
          for p in read_batch(INPUTS / f, parse_matmul)]
OCL_IMPLS = ocl_impls("gemm", "MatmulTiled", "MatmulRef")
IMPLS = CPU_LISTS[primitive_kind.matmul] + OCL_IMPLS
AVX512 = _kernels.cpu_isa() == "avx512"


def strided_md(shape, transposed):
    """A descriptor whose last two dims are swapped in memory when `transposed`."""
    if not transposed:
        return dnnl.memory.desc(shape, dt.f32, PLAIN[len(shape)])
    nd = len(shape)
    order = list(range(nd - 2)) + [nd - 1, nd - 2]  # memory order, outermost first
    strides, acc = [0] * nd, 1
    for d in reversed(order):
        strides[d], acc = acc, acc * shape[d]
    return dnnl.memory.desc(shape, dt.f32, strides)


def memory_for(eng, md, array):
    """A memory of layout md holding array (numpy strides made to match)."""
    out = np.lib.stride_tricks.as_strided(
        np.empty(md.get_size() // 4, np.float32), array.shape, [s * 4 for s in md.get_strides()])
    out[...] = array
    return dnnl.memory(md, eng, out)


def run(eng, strm, a, b, bias=None, ops=(), ta=False, tb=False, tc=False, dst_init=None):
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    c_shape = (*batch, a.shape[-2], b.shape[-1])
    a_md, b_md, c_md = strided_md(a.shape, ta), strided_md(b.shape, tb), strided_md(c_shape, tc)
    bias_md = dnnl.memory.desc(bias.shape, dt.f32, PLAIN[bias.ndim]) if bias is not None else None
    pd = dnnl.matmul.primitive_desc(eng, a_md, b_md, bias_md, c_md, attr=make_attr(ops))
    args = {dnnl.ARG_SRC: memory_for(eng, a_md, a), dnnl.ARG_WEIGHTS: memory_for(eng, b_md, b),
            dnnl.ARG_DST: memory_for(eng, c_md, dst_init if dst_init is not None
                                     else np.zeros(c_shape, np.float32))}
    if bias is not None:
        args[dnnl.ARG_BIAS] = memory_for(eng, bias_md, bias)
    dnnl.matmul(pd).execute(strm, args)
    return args[dnnl.ARG_DST].to_numpy(), pd


def skip_declined(impl, a_shape, b_shape, ta=False, tb=False, tc=False):
    """Skip where `impl` declines the problem by design: the packed GEMM several batches
    or a small or column-major problem, the batched ones a single batch,
    the micro-kernel one without AVX-512, with n not a multiple of 16 or with weights
    rows that are not contiguous (a column-major dst transposes the problem: n is then
    src's rows and the weights src^T)."""
    batch = np.broadcast_shapes(a_shape[:-2], b_shape[:-2])
    if impl is cpu_matmul.MatmulPacked:
        m, k, n = a_shape[-2], a_shape[-1], b_shape[-1]
        if (not AVX512 or np.prod(batch, dtype=int) != 1 or (tc and n > 1)
                or m * n * k < impl.MIN_MACS):
            pytest.skip("the packed GEMM needs AVX-512, one batch, a row-major dst and "
                        f"at least {impl.MIN_MACS} multiply-adds")
    if not issubclass(impl, cpu_matmul.MatmulBatched):
        return
    if np.prod(batch, dtype=int) < 2:
        pytest.skip("one batch: the batched implementations decline it")
    if impl is cpu_matmul.MatmulBatchedAvx512:
        n, wei_rows_contiguous = (a_shape[-2], ta) if tc else (b_shape[-1], not tb)
        if not AVX512 or n % 16 or not wei_rows_contiguous:
            pytest.skip("the micro-kernel needs AVX-512, n % 16 == 0, contiguous weights rows")


def reduce_batch(p):
    """The benchdnn shape with its leading batch dim cut to at most 4 (CI time)."""
    src, wei = list(p.src), list(p.weights)
    if len(src) > 2:
        src[0], wei[0] = min(src[0], 4), min(wei[0], 4)
    return src, wei


@pytest.mark.parametrize("impl", [c for c in CPU_LISTS[primitive_kind.matmul] if not c.reference]
                         + OCL_IMPLS,
                         ids=lambda c: c.name)
@pytest.mark.parametrize("p", SHAPES, ids=str)
def test_benchdnn_shapes(engine_for, rng, impl, p):
    eng, strm = engine_for(impl)
    src, wei = reduce_batch(p)
    skip_declined(impl, src, wei)
    a = rng.standard_normal(src).astype(np.float32)
    b = rng.standard_normal(wei).astype(np.float32)
    out, pd = run(eng, strm, a, b)
    assert pd.impl_info_str() == impl.name
    assert_close(out, a.astype(np.float64) @ b, src[-1])


CASES = [  # (a shape, b shape, bias shape or None)
    ((1, 1), (1, 1), None),
    ((7, 13), (13, 5), (1, 5)),
    ((64, 31), (31, 3), (64, 3)),
    ((3, 17, 19), (3, 19, 23), (1, 1, 23)),
    ((3, 17, 19), (1, 19, 23), (3, 17, 1)),
    ((1, 8, 9), (4, 9, 2), (4, 8, 2)),
    ((2, 3, 5, 7), (1, 3, 7, 4), (2, 1, 1, 4)),
    ((300, 129), (129, 257), (1, 257)),
    ((2, 30, 40), (1, 40, 48), (2, 30, 1)),  # the micro-kernel's 14-row and 16-col tails
]


@pytest.mark.parametrize("impl", IMPLS, ids=lambda c: c.name)
@pytest.mark.parametrize("trans", ["nn", "tn", "nt", "tt", "nnt", "ttt"])
@pytest.mark.parametrize("case", CASES,
                         ids=lambda c: "x".join(map(str, c[0])) + ":" + "x".join(map(str, c[1])))
def test_broadcast_bias_transposes(engine_for, rng, impl, trans, case):
    eng, strm = engine_for(impl)
    a_shape, b_shape, bias_shape = case
    ta, tb, tc = trans[0] == "t", trans[1] == "t", trans[2:] == "t"
    skip_declined(impl, a_shape, b_shape, ta, tb, tc)
    a = rng.standard_normal(a_shape).astype(np.float32)
    b = rng.standard_normal(b_shape).astype(np.float32)
    bias = rng.standard_normal(bias_shape).astype(np.float32) if bias_shape else None
    out, pd = run(eng, strm, a, b, bias, ta=ta, tb=tb, tc=tc)
    ref = a.astype(np.float64) @ b + (bias if bias is not None else 0)
    assert pd.impl_info_str() == impl.name
    assert_close(out, ref, a_shape[-1])


@pytest.mark.parametrize("impl", IMPLS, ids=lambda c: c.name)
@pytest.mark.parametrize("ops", ALL_OPS, ids=ops_id)
def test_post_ops(engine_for, rng, impl, ops):
    eng, strm = engine_for(impl)
    nb = 1 if impl is cpu_matmul.MatmulPacked else 2  # it takes one batch only
    skip_declined(impl, (nb, 70, 33), (nb, 33, 304))
    a = rng.standard_normal((nb, 70, 33)).astype(np.float32)
    b = rng.standard_normal((nb, 33, 304)).astype(np.float32)
    bias = rng.standard_normal((1, 1, 304)).astype(np.float32)
    init = rng.standard_normal((nb, 70, 304)).astype(np.float32)
    out, _ = run(eng, strm, a, b, bias, ops, dst_init=init)
    assert_close(out, post_ops(a.astype(np.float64) @ b + bias, init, ops), 33)


def test_row_tiles_with_epilogue(eng, strm, rng):
    """More rows than one tile: every tile gets its bias and post-ops."""
    a = rng.standard_normal((2000, 16)).astype(np.float32)
    b = rng.standard_normal((16, 300)).astype(np.float32)
    bias = rng.standard_normal((2000, 1)).astype(np.float32)
    ops = [("sum", 1.0), ("eltwise", "eltwise_relu", 0.0, 0.0)]
    init = rng.standard_normal((2000, 300)).astype(np.float32)
    out, _ = run(eng, strm, a, b, bias, ops, dst_init=init)
    assert_close(out, post_ops(a.astype(np.float64) @ b + bias, init, ops), 16)


@pytest.mark.parametrize("impl, n", [(cpu_matmul.MatmulBatched, 45),
                                     (cpu_matmul.MatmulBatchedAvx512, 48)],
                         ids=lambda x: getattr(x, "name", x))
@pytest.mark.parametrize("batches", [2, 3, 5])
def test_batched_tiles_with_sum(eng, strm, rng, only_impl, impl, n, batches):
    """The batched tiles, split into row halves when the batches do not share out evenly
    over the threads, each with its own sum buffer: odd sizes, a broadcast and
    transposed src, bias, sum and an eltwise, against float64."""
    a_shape, b_shape = (1, 37, 29), (batches, 29, n)
    skip_declined(impl, a_shape, b_shape, ta=True)
    only_impl(impl)
    a = rng.standard_normal(a_shape).astype(np.float32)
    b = rng.standard_normal(b_shape).astype(np.float32)
    bias = rng.standard_normal((batches, 1, n)).astype(np.float32)
    init = rng.standard_normal((batches, 37, n)).astype(np.float32)
    ops = [("sum", 0.5), ("eltwise", "eltwise_relu", 0.0, 0.0)]
    out, pd = run(eng, strm, a, b, bias, ops, ta=True, dst_init=init)
    assert pd.impl_info_str() == impl.name
    assert_close(out, post_ops(a.astype(np.float64) @ b + bias, init, ops), 29)


@pytest.mark.parametrize("shapes, chosen", [
    (((12, 128, 64), (12, 64, 128)), "cpu:gemm_batched:"),  # attention's QK^T
    (((12, 128, 128), (12, 128, 64)), "cpu:gemm_batched:"),  # softmax . V
    (((12, 128, 128), (12, 128, 60)), "cpu:gemm_batched:blas"),  # n % 16: no micro-kernel
    (((2, 512, 512), (2, 512, 512)), "cpu:gemm:blas"),  # large per batch: split each GEMM
    (((128, 768), (768, 256)), "cpu:gemm_packed:"),  # one batch
    (((1, 768), (768, 16)), "cpu:gemm:blas"),  # too small to pay for packing
    (((1024, 1024), (1024, 1024)), "cpu:gemm_packed:"),
])
def test_batched_chosen_for_small_batches(eng, shapes, chosen):
    md = dnnl.memory.desc
    a, b = shapes
    c = (*a[:-1], b[-1])
    pd = dnnl.matmul.primitive_desc(eng, md(a, dt.f32, tag.any), md(b, dt.f32, tag.any),
                                    md(c, dt.f32, tag.any))
    if chosen == "cpu:gemm_batched:":  # the micro-kernel where there is AVX-512
        chosen += "avx512" if AVX512 else "blas"
    if chosen == "cpu:gemm_packed:":  # OpenBLAS where there is no AVX-512
        chosen = "cpu:gemm_packed:avx512" if AVX512 else "cpu:gemm:blas"
    assert pd.impl_info_str() == chosen


def test_any_layouts_resolve_plain(eng):
    md = dnnl.memory.desc
    pd = dnnl.matmul.primitive_desc(eng, md([2, 3, 4], dt.f32, tag.any),
                                    md([2, 4, 5], dt.f32, tag.any), md([2, 3, 5], dt.f32, tag.any))
    assert pd.src_desc() == md([2, 3, 4], dt.f32, tag.abc)
    assert pd.dst_desc() == md([2, 3, 5], dt.f32, tag.abc)
    assert pd.bias_desc().is_zero()


SPECIAL = np.array([np.nan, np.inf, -np.inf, 0.0, 0.5, -0.5, 3.0, -3.0, 30.0, -30.0, 88.5,
                    -88.5, 100.0, -100.0, 1e30, -1e30], np.float32)
SPECIAL_OPS = [("eltwise_relu", 0.0, 0.0), ("eltwise_relu", 0.1, 0.0),
               ("eltwise_gelu_tanh", 0.0, 0.0), ("eltwise_gelu_erf", 0.0, 0.0),
               ("eltwise_tanh", 0.0, 0.0), ("eltwise_logistic", 0.0, 0.0),
               ("eltwise_swish", 1.0, 0.0), ("eltwise_swish", -0.5, 0.0),
               ("eltwise_linear", 2.0, 1.0), ("eltwise_clip", -1.0, 2.0)]


@pytest.mark.parametrize("impl", IMPLS, ids=lambda c: c.name)
@pytest.mark.parametrize("op", SPECIAL_OPS, ids=lambda op: f"{op[0][8:]}:{op[1]:g}")
def test_eltwise_nan_and_inf(engine_for, impl, op):
    """NaN propagates through every eltwise post-op and +-inf gives what oneDNN's formulas
    give (swish(-inf) = -inf * logistic(-inf) = -inf * 0 = NaN), against float64 numpy.
    dst = 1 x values: 64 columns, so that the vectorised epilogue runs too."""
    eng, strm = engine_for(impl)
    values = np.tile(SPECIAL, 4)[None, :]
    if issubclass(impl, cpu_matmul.MatmulBatched):
        values = np.stack([values, -values])  # two batches, or it declines
        skip_declined(impl, (1, 1, 1), values.shape)
    skip_declined(impl, (1, 1), values.shape)
    ops = [("eltwise", *op)]
    out, _ = run(eng, strm, np.ones((1, 1), np.float32)[(None,) * (values.ndim - 2)],
                 values, ops=ops)
    with np.errstate(all="ignore"):
        ref = post_ops(values.astype(np.float64), None, ops)
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6, equal_nan=True)


@pytest.mark.skipif(not AVX512, reason="the packed GEMM needs AVX-512")
@pytest.mark.parametrize("m, k, n", [(13, 300, 70), (128, 129, 33), (225, 17, 64),
                                     (13, 2100, 70), (1, 300, 200)])
@pytest.mark.parametrize("ops", [(), (("sum", 0.5, 0),), (("eltwise", "eltwise_relu", 0.1, 0),)],
                         ids=lambda ops: ops and ops[0][0] or "none")
def test_packed_weights_from_any(eng, strm, rng, m, k, n, ops):
    """Weights created with format_tag.any take the packed GEMM's panel layout ([n/32][k][32],
    n padded with zeros) and a reorder packs them once; tails in m (register blocks) and n
    (a partial panel), k in one K block or (k = 2100) three of 700 that accumulate, with
    bias, against float64 numpy."""
    md = dnnl.memory.desc
    pd = dnnl.matmul.primitive_desc(eng, md((m, k), dt.f32, tag.any), md((k, n), dt.f32, tag.any),
                                    md((1, n), dt.f32, tag.ab), md((m, n), dt.f32, tag.any),
                                    attr=make_attr(ops))
    assert pd.impl_info_str() == "cpu:gemm_packed:avx512"
    wei_md = pd.weights_desc()
    assert not wei_md.is_plain() and wei_md.get_size() == -(-n // 32) * 32 * k * 4
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    bias = rng.standard_normal((1, n)).astype(np.float32)
    init = rng.standard_normal((m, n)).astype(np.float32)
    plain_b = dnnl.memory(md((k, n), dt.f32, tag.ab), eng, b)
    packed_b = dnnl.memory(wei_md, eng)
    dnnl.reorder(plain_b, packed_b).execute(strm, plain_b, packed_b)
    args = {dnnl.ARG_SRC: dnnl.memory(pd.src_desc(), eng, a), dnnl.ARG_WEIGHTS: packed_b,
            dnnl.ARG_BIAS: dnnl.memory(pd.bias_desc(), eng, bias),
            dnnl.ARG_DST: dnnl.memory(pd.dst_desc(), eng, init.copy())}
    dnnl.matmul(pd).execute(strm, args)
    ref = post_ops(a.astype(np.float64) @ b + bias, init, ops)
    assert_close(args[dnnl.ARG_DST].to_numpy(), ref, k)


def test_packed_defers_to_blas_with_plain_weights(eng):
    """Plain weights would be packed on every call: OpenBLAS (which packs too) is chosen,
    the packed GEMM only where it declines (a weights layout with no unit stride)."""
    md = dnnl.memory.desc
    a, c = md((64, 96), dt.f32, tag.ab), md((64, 80), dt.f32, tag.ab)
    pd = dnnl.matmul.primitive_desc(eng, a, md((96, 80), dt.f32, tag.ab), c)
    assert pd.impl_info_str() == "cpu:gemm:blas"
    no_unit = md((96, 80), dt.f32, (2 * 80, 2))  # every other element of a 96x160
    pd = dnnl.matmul.primitive_desc(eng, a, no_unit, c)
    assert pd.impl_info_str() == ("cpu:gemm_packed:avx512" if AVX512 else "cpu:ref:any")


@pytest.mark.skipif(not AVX512, reason="the packed GEMM needs AVX-512")
@pytest.mark.parametrize("threads", [1, 2, 3, 4])
@pytest.mark.parametrize("m, k, n", [(1, 40, 200), (4, 50, 40), (100, 40, 96), (130, 20, 520)])
def test_packed_tiles_over_threads(rng, threads, m, k, n):
    """The packed GEMM's tiles shared out over 1-4 threads: more row tiles where m allows
    (100 rows on 3 threads: 3 row tiles, not 2 of 50 rows each cut into 3 panel tiles),
    panel tiles where it does not (m < threads), a tile left empty (4 rows on 3 threads:
    row tiles of 2, 2 and 0); src read transposed, weights packed per call, every element
    against float64 numpy."""
    a = rng.standard_normal((k, m)).astype(np.float32)  # src = a.T, column stride m
    b = rng.standard_normal((k, n)).astype(np.float32)
    dst = np.full(m * n + 5, np.nan, np.float32)
    kernel = _kernels.MatmulKernel(_kernels.MATMUL_PACKED, (), m, n, k, ((), (1, m)),
                                   ((), (n, 1)), ((), (n, 1)), None, [], 0, threads)
    kernel(a.ravel(), b.ravel(), None, dst[:m * n])
    assert_close(dst[:m * n].reshape(m, n), a.T.astype(np.float64) @ b, k)
    assert np.isnan(dst[m * n:]).all()  # nothing written past dst
