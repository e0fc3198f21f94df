"""Binary post-ops (post_ops.append_binary) on convolution and matmul, every implementation
of both engines, against float64 numpy: residual adds, per-channel and per-tensor
broadcasts, every algorithm, NaN, chains with eltwise and sum; the execute argument, bad
input, the cache key, verbose and blobs."""
import numpy as np
import pytest
from helpers import ocl_impls, to_memory
from reference import assert_close, conv_fwd, post_ops

import dnnl_py as dnnl
from dnnl_py.cpu import _kernels
from dnnl_py.cpu import convolution as cpu_conv
from dnnl_py.cpu.impl_list import IMPLS as CPU_LISTS
from dnnl_py.kernel_abi import BINARY_ID
from dnnl_py.kinds import primitive_kind

md, dt, tag = dnnl.memory.desc, dnnl.memory.data_type, dnnl.memory.format_tag
alg = dnnl.algorithm
CONV_IMPLS = [cpu_conv.ConvDirect, cpu_conv.ConvDepthwise, cpu_conv.ConvGemm, cpu_conv.ConvRef,
              *ocl_impls("gemm", "ConvIgemm", "ConvRef")]
MATMUL_IMPLS = [*CPU_LISTS[primitive_kind.matmul],  # every one: their kernels differ
                *ocl_impls("gemm", "MatmulTiled", "MatmulRef")]

with np.errstate(all="ignore"):
    REF = {"binary_add": np.add, "binary_sub": np.subtract, "binary_mul": np.multiply,
           "binary_div": np.divide, "binary_max": np.maximum, "binary_min": np.minimum,
           "binary_ge": np.greater_equal, "binary_gt": np.greater, "binary_le": np.less_equal,
           "binary_lt": np.less, "binary_eq": np.equal, "binary_ne": np.not_equal}


def impl_id(impl) -> str:
    return impl.name


def binary_ref(name, x, y):
    with np.errstate(all="ignore"):
        return REF[name](x, y).astype(np.float64)


def attr_and_src1(rng, ops, dst_dims):
    """The attr of `ops` (("eltwise", alg, alpha, beta), ("sum", scale) or ("binary",
    alg, src1 dims, src1 tag[, the value src1 holds, else random])) and each binary
    post-op's src1 data by post-op index."""
    po, src1 = dnnl.post_ops(), {}
    for i, op in enumerate(ops):
        if op[0] == "eltwise":
            po.append_eltwise(getattr(alg, op[1]), op[2], op[3])
        elif op[0] == "sum":
            po.append_sum(op[1])
        else:
            dims = [d if d != "D" else n for d, n in zip(op[2], dst_dims)]
            po.append_binary(getattr(alg, op[1]), md(dims, dt.f32, op[3]))
            src1[i] = (rng.standard_normal(dims) if len(op) < 5 else
                       np.full(dims, op[4])).astype(np.float32)
    attr = dnnl.primitive_attr()
    attr.set_post_ops(po)
    return attr, src1


def chain_ref(x, dst_old, ops, src1):
    """The post-ops on float64 x, one at a time (eltwise and sum: the benchdnn driver's
    reference; binary: numpy's broadcast)."""
    for i, op in enumerate(ops):
        if op[0] == "binary":
            x = binary_ref(op[1], x, src1[i].astype(np.float64))
        else:
            with np.errstate(all="ignore"):
                x = post_ops(x, dst_old, [op])
    return x


def execute(eng, strm, build, pd, inputs, dst_old, src1):
    args = {arg: to_memory(eng, strm, a, pd.query_md(arg)) for arg, a in inputs.items()}
    args[dnnl.ARG_DST] = to_memory(eng, strm, dst_old, pd.dst_desc())
    for i, a in src1.items():
        arg = dnnl.ARG_ATTR_MULTIPLE_POST_OP(i) | dnnl.ARG_SRC_1
        args[arg] = to_memory(eng, strm, a, pd.query_md(arg))
    build(pd).execute(strm, args)
    strm.wait()
    return args[dnnl.ARG_DST].to_numpy()


def conv_case(eng, strm, rng, impl, ops, act=tag.any, bias=True,
              build=dnnl.convolution_forward, ic=8):
    """(out, ref, pd) of a 3x3 convolution with `ops`: 2x8x7x6 -> 2x32x7x6 (ic input
    channels), or 16 depthwise channels for the depthwise implementation."""
    g, ic, oc = (16, 16, 16) if impl is cpu_conv.ConvDepthwise else (1, ic, 32)
    src = rng.standard_normal((2, ic, 7, 6)).astype(np.float32)
    wei = rng.standard_normal((g, oc // g, ic // g, 3, 3)).astype(np.float32)
    b = rng.standard_normal(oc).astype(np.float32) if bias else None
    dst_dims = (2, oc, 7, 6)
    attr, src1 = attr_and_src1(rng, ops, dst_dims)
    wei_dims = wei.shape if g > 1 else wei.shape[1:]
    pd = dnnl.convolution_forward.primitive_desc(
        eng, dnnl.prop_kind.forward_inference, alg.convolution_direct,
        md(src.shape, dt.f32, act), md(wei_dims, dt.f32, tag.any),
        md([oc], dt.f32, tag.a) if bias else None, md(dst_dims, dt.f32, act),
        [1, 1], [1, 1], [1, 1], attr)
    inputs = {dnnl.ARG_SRC: src, dnnl.ARG_WEIGHTS: wei.reshape(wei_dims)}
    if bias:
        inputs[dnnl.ARG_BIAS] = b
    dst_old = rng.standard_normal(dst_dims).astype(np.float32)
    out = execute(eng, strm, build, pd, inputs, dst_old, src1)
    acc = conv_fwd(src, wei, b, (1, 1), (0, 0), (1, 1), (1, 1), g)
    return out, chain_ref(acc, dst_old.astype(np.float64), ops, src1), pd, ic // g * 9


def matmul_case(eng, strm, rng, impl, ops, dst_tag=tag.any):
    """(out, ref, pd, k) of a batched matmul 2x3x5x7 . 2x3x7x32 with `ops` (n a multiple
    of 16 for cpu:gemm_batched:avx512); for cpu:gemm_packed:avx512, which takes one batch
    and declines tiny problems, 1x1x5x200 . 1x1x200x36 (a partial 32-column panel, a
    partial K block; dst rows fit padded_rows_gt's strides)."""
    if impl.name.endswith(":avx512") and _kernels.cpu_isa() != "avx512":
        pytest.skip("an AVX-512 implementation on a CPU without it")
    packed = impl.name == "cpu:gemm_packed:avx512"
    (b0, b1), m, k, n = ((1, 1), 5, 200, 36) if packed else ((2, 3), 5, 7, 32)
    src = rng.standard_normal((b0, b1, m, k)).astype(np.float32)
    wei = rng.standard_normal((b0, b1, k, n)).astype(np.float32)
    dst_dims = (b0, b1, m, n)
    attr, src1 = attr_and_src1(rng, ops, dst_dims)
    pd = dnnl.matmul.primitive_desc(eng, md(src.shape, dt.f32, tag.abcd),
                                    md(wei.shape, dt.f32, tag.abcd),
                                    md(dst_dims, dt.f32, dst_tag), attr)
    dst_old = rng.standard_normal(dst_dims).astype(np.float32)
    out = execute(eng, strm, dnnl.matmul, pd, {dnnl.ARG_SRC: src, dnnl.ARG_WEIGHTS: wei},
                  dst_old, src1)
    acc = np.matmul(src.astype(np.float64), wei.astype(np.float64))
    return out, chain_ref(acc, dst_old.astype(np.float64), ops, src1), pd, k


D = "D"  # a src1 dim equal to dst's
CONV_OPS = {
    "residual_add": [("binary", "binary_add", (D, D, D, D), tag.any)],
    "per_oc_mul": [("binary", "binary_mul", (1, D, 1, 1), tag.nchw)],
    "per_tensor_max": [("binary", "binary_max", (1, 1, 1, 1), tag.nchw)],
    "mb_spatial_sub": [("binary", "binary_sub", (D, 1, D, D), tag.nchw)],
    "per_w_div_nhwc": [("binary", "binary_div", (1, 1, 1, D), tag.nhwc)],
    "full_nchw_min": [("binary", "binary_min", (D, D, D, D), tag.nchw)],
    "relu_then_add": [("eltwise", "eltwise_relu", 0.0, 0.0),
                      ("binary", "binary_add", (D, D, D, D), tag.nhwc)],
    "mul_sum_relu": [("binary", "binary_mul", (1, D, 1, 1), tag.nchw), ("sum", 0.5),
                     ("eltwise", "eltwise_relu", 0.0, 0.0)],
    "sum_add_max_tanh": [("sum", 1.0), ("binary", "binary_add", (D, D, D, D), tag.nchw),
                         ("binary", "binary_max", (1, D, 1, 1), tag.nchw),
                         ("eltwise", "eltwise_tanh", 0.0, 0.0)],
}


def sparse_on_ocl(impls, cases, fast_cases, ref_cases) -> list:
    """(impl, case) pairs: every case on the CPU's implementations, `fast_cases` on
    ocl:conv:igemm / ocl:gemm:tiled, `ref_cases` on the OpenCL reference (a program
    build each, ~1 s: the suite stays quick)."""
    return [pytest.param(i, c, id=f"{c}-{i.name}") for i in impls for c in cases
            if not i.name.startswith("ocl:")
            or c in (ref_cases if i.name == "ocl:ref:any" else fast_cases)]


@pytest.mark.parametrize("impl, case", sparse_on_ocl(
    CONV_IMPLS, CONV_OPS, ("residual_add", "per_oc_mul", "per_tensor_max", "mb_spatial_sub",
                           "per_w_div_nhwc", "sum_add_max_tanh"),
    ("residual_add", "mb_spatial_sub")))
def test_conv(engine_for, rng, impl, case):
    eng, strm = engine_for(impl)
    out, ref, pd, k = conv_case(eng, strm, rng, impl, CONV_OPS[case])
    assert pd.impl_info_str() == impl.name
    assert_close(out, ref, k)


@pytest.mark.parametrize("case", ["residual_add", "per_w_div_nhwc", "mul_sum_relu",
                                  "sum_add_max_tanh"])
def test_conv_direct_row_blocks(engine_for, rng, case):
    """16 input channels: cpu:direct's row-block path (csrc/conv_direct.c, conv_rows),
    whose epilogue runs on the pixels of its row blocks."""
    eng, strm = engine_for(cpu_conv.ConvDirect)
    out, ref, pd, k = conv_case(eng, strm, rng, cpu_conv.ConvDirect, CONV_OPS[case], ic=16)
    assert pd.impl_info_str() == cpu_conv.ConvDirect.name
    assert_close(out, ref, k)


@pytest.mark.parametrize("impl", [cpu_conv.ConvGemm, cpu_conv.ConvRef,
                                  *ocl_impls("gemm", "ConvIgemm")], ids=impl_id)
@pytest.mark.parametrize("case", ["mb_spatial_sub", "sum_add_max_tanh"])
def test_conv_channels_first(engine_for, rng, impl, case):
    """nchw dst: a CPU epilogue row runs across image rows (one coordinate peel a row)."""
    eng, strm = engine_for(impl)
    out, ref, pd, k = conv_case(eng, strm, rng, impl, CONV_OPS[case], act=tag.nchw,
                                bias=False)
    assert pd.dst_desc() == md([2, 32, 7, 6], dt.f32, tag.nchw)
    assert_close(out, ref, k)


# every algorithm, four to a kernel (the OpenCL kernels' post-op slots); relu's zeros
# meet a src1 of zeros, so that eq and ne see equal values
ALGORITHM_CHAINS = [
    [("binary", "binary_add", (D, D, D, D), tag.nhwc),
     ("binary", "binary_sub", (1, D, 1, 1), tag.nchw),
     ("binary", "binary_mul", (D, D, D, D), tag.nchw),
     ("binary", "binary_div", (1, 1, 1, 1), tag.nchw)],
    [("binary", "binary_max", (D, D, D, D), tag.nhwc),
     ("binary", "binary_min", (D, D, D, D), tag.nchw),
     ("binary", "binary_ge", (D, D, D, D), tag.nhwc),
     ("binary", "binary_lt", (1, D, 1, 1), tag.nchw)],
    [("binary", "binary_gt", (D, D, D, D), tag.nhwc),
     ("binary", "binary_le", (D, D, D, D), tag.nchw)],
    [("eltwise", "eltwise_relu", 0.0, 0.0), ("binary", "binary_eq", (1, 1, 1, 1), tag.nchw, 0.0)],
    [("eltwise", "eltwise_relu", 0.0, 0.0), ("binary", "binary_ne", (1, 1, 1, 1), tag.nchw, 0.0)],
]


def test_every_algorithm_is_in_a_chain():
    names = {op[1] for chain in ALGORITHM_CHAINS for op in chain if op[0] == "binary"}
    assert names == {a.name for a in BINARY_ID}


@pytest.mark.parametrize("impl", [cpu_conv.ConvDirect, cpu_conv.ConvRef,
                                  *ocl_impls("gemm", "ConvIgemm")], ids=impl_id)
@pytest.mark.parametrize("chain", range(len(ALGORITHM_CHAINS)))
def test_every_algorithm(engine_for, rng, impl, chain):
    eng, strm = engine_for(impl)
    out, ref, _, k = conv_case(eng, strm, rng, impl, ALGORITHM_CHAINS[chain])
    assert_close(out, ref, k)
    if chain >= 2:  # the comparisons' 0 and 1, exactly
        np.testing.assert_array_equal(out, ref)
        assert 0 < out.mean() < 1


MATMUL_OPS = {
    "full_add": [("binary", "binary_add", (D, D, D, D), tag.abcd)],
    "per_n_mul": [("binary", "binary_mul", (1, 1, 1, D), tag.abcd)],
    "per_m_sub": [("binary", "binary_sub", (1, 1, D, 1), tag.abcd)],
    "per_batch_max": [("binary", "binary_max", (D, 1, 1, 1), tag.abcd)],
    "scalar_div": [("binary", "binary_div", (1, 1, 1, 1), tag.abcd)],
    "transposed_src1_relu": [("binary", "binary_add", (D, D, D, D), tag.abdc),
                             ("eltwise", "eltwise_relu", 0.0, 0.0)],
    "sum_min": [("sum", 2.0), ("binary", "binary_min", (1, D, D, 1), tag.abcd)],
    "padded_rows_gt": [("binary", "binary_gt", (D, D, D, D), [600, 200, 40, 1])],  # strided
}


@pytest.mark.parametrize("impl, case", sparse_on_ocl(
    MATMUL_IMPLS, MATMUL_OPS, ("full_add", "per_n_mul", "per_m_sub", "per_batch_max",
                               "transposed_src1_relu", "padded_rows_gt"),
    ("full_add", "sum_min")))
def test_matmul(engine_for, rng, impl, case):
    eng, strm = engine_for(impl)
    out, ref, pd, k = matmul_case(eng, strm, rng, impl, MATMUL_OPS[case])
    assert pd.impl_info_str() == impl.name
    assert_close(out, ref, k)


@pytest.mark.parametrize("impl", [c for c in MATMUL_IMPLS  # the micro-kernel needs dst rows
                                  if c.name not in ("ocl:ref:any", "cpu:gemm_batched:avx512",
                                                    "cpu:gemm_packed:avx512")],
                         ids=impl_id)
@pytest.mark.parametrize("case", ["per_m_sub", "transposed_src1_relu"])
def test_matmul_column_major_dst(engine_for, rng, impl, case):
    """cpu:gemm:blas computes dst^T = weights^T . src^T: src1 is still addressed by dst."""
    eng, strm = engine_for(impl)
    out, ref, pd, k = matmul_case(eng, strm, rng, impl, MATMUL_OPS[case], tag.abdc)
    assert pd.dst_desc() == md([2, 3, 5, 32], dt.f32, tag.abdc)
    assert_close(out, ref, k)


@pytest.mark.parametrize("impl", [cpu_conv.ConvDirect, cpu_conv.ConvGemm,
                                  *ocl_impls("gemm", "ConvIgemm")], ids=impl_id)
def test_nan_in_src1(engine_for, impl):
    """A NaN in src1 reaches exactly its own outputs (max keeps NaN from either side)."""
    eng, strm = engine_for(impl)
    ops = [("binary", "binary_max", (D, D, D, D), tag.nhwc)]

    class NanSrc1:  # a generator whose src1 (the only draw of dst's shape) has NaNs
        rng = np.random.default_rng(7)

        def standard_normal(self, shape):
            x = self.rng.standard_normal(shape)
            if np.shape(x) == (2, 32, 7, 6) and not hasattr(self, "done"):
                self.done = x[0, 3, 2, 1] = x[1, 31, 6, 5] = np.nan
            return x
    rng = NanSrc1()
    out, ref, _, _ = conv_case(eng, strm, rng, impl, ops)
    np.testing.assert_array_equal(np.isnan(out), np.isnan(ref))
    assert np.isnan(out).sum() == 2
    assert_close(np.nan_to_num(out), np.nan_to_num(ref), 72)


def conv_pd(eng, ops_spec, dst_tag=tag.nhwc):
    po = dnnl.post_ops()
    for a, src1 in ops_spec:
        if a is None:
            po.append_eltwise(alg.eltwise_relu, 0.0, 0.0)
        else:
            po.append_binary(a, src1)
    attr = dnnl.primitive_attr()
    attr.set_post_ops(po)
    return dnnl.convolution_forward.primitive_desc(
        eng, dnnl.prop_kind.forward_inference, alg.convolution_direct,
        md([1, 16, 5, 5], dt.f32, tag.nhwc), md([32, 16, 1, 1], dt.f32, tag.any), None,
        md([1, 32, 5, 5], dt.f32, dst_tag), [1, 1], [0, 0], [0, 0], attr)


FULL = md([1, 32, 5, 5], dt.f32, tag.nhwc)


def test_api_mirrors_onednn():
    po = dnnl.post_ops()
    po.append_eltwise(alg.eltwise_relu, 0.0, 0.0)
    po.append_binary(alg.binary_add, FULL)
    assert po.len() == 2 and po.kind(1) == primitive_kind.binary
    assert po.get_params_binary(1) == (alg.binary_add, FULL)
    with pytest.raises(dnnl.error):
        po.get_params_binary(0)
    with pytest.raises(dnnl.error):
        po.get_params_eltwise(1)
    for bad in ((alg.eltwise_relu, FULL), (alg.binary_add, None), ("binary_add", FULL)):
        with pytest.raises(dnnl.error) as e:
            po.append_binary(*bad)
        assert e.value.status == dnnl.status.invalid_arguments
    assert dnnl.ARG_ATTR_MULTIPLE_POST_OP(1) | dnnl.ARG_SRC_1 == 32770  # oneDNN's value


@pytest.mark.parametrize("dims", [[1, 16, 5, 5], [1, 32, 5], [2, 32, 5, 5], [1, 32, 5, 4]])
def test_src1_that_does_not_broadcast(eng, dims):
    with pytest.raises(dnnl.error) as e:
        conv_pd(eng, [(None, None), (alg.binary_add, md(dims, dt.f32, tag.any))])
    assert e.value.status == dnnl.status.invalid_arguments
    assert "post-op 1" in str(e.value) and str(dims) in str(e.value)


@pytest.mark.parametrize("src1, what", [
    (md([1, 32, 5, 5], dt.f32, tag.aBcd16b), "aBcd16b"),
    (md([1, 32, 1, 1], dt.bf16, tag.nchw), "bf16")])
def test_src1_refused(eng, src1, what):
    with pytest.raises(dnnl.error) as e:
        conv_pd(eng, [(alg.binary_mul, src1)])
    assert e.value.status == dnnl.status.unimplemented
    assert "post-op 0" in str(e.value) and what in str(e.value)


def test_other_kinds_refuse_binary_post_ops(eng):
    po = dnnl.post_ops()
    po.append_binary(alg.binary_add, md([2, 3], dt.f32, tag.ab))
    attr = dnnl.primitive_attr()
    attr.set_post_ops(po)
    with pytest.raises(dnnl.error) as e:
        dnnl.eltwise_forward.primitive_desc(
            eng, dnnl.prop_kind.forward_inference, alg.eltwise_relu,
            md([2, 3], dt.f32, tag.ab), md([2, 3], dt.f32, tag.ab), 0.0, 0.0, attr)
    assert e.value.status == dnnl.status.unimplemented and "binary post-ops" in str(e.value)


def test_execute_argument(eng, strm):
    pd = conv_pd(eng, [(None, None), (alg.binary_add, FULL)])
    arg = dnnl.ARG_ATTR_MULTIPLE_POST_OP(1) | dnnl.ARG_SRC_1
    assert pd.query_md(arg) == FULL
    args = {dnnl.ARG_SRC: dnnl.memory(pd.src_desc(), eng),
            dnnl.ARG_WEIGHTS: dnnl.memory(pd.weights_desc(), eng),
            dnnl.ARG_DST: dnnl.memory(pd.dst_desc(), eng)}
    prim = dnnl.convolution_forward(pd)
    name = "ARG_ATTR_MULTIPLE_POST_OP(1) | ARG_SRC_1"
    with pytest.raises(dnnl.error) as e:
        prim.execute(strm, args)
    assert name in str(e.value) and "missing" in str(e.value)
    with pytest.raises(dnnl.error) as e:
        prim.execute(strm, {**args, arg: dnnl.memory(md([1, 32, 1, 1], dt.f32, tag.nchw), eng)})
    assert name in str(e.value)
    wrong = dnnl.ARG_ATTR_MULTIPLE_POST_OP(0) | dnnl.ARG_SRC_1
    with pytest.raises(dnnl.error) as e:
        prim.execute(strm, {**args, arg: dnnl.memory(FULL, eng),
                            wrong: dnnl.memory(FULL, eng)})
    assert "ARG_ATTR_MULTIPLE_POST_OP(0) | ARG_SRC_1" in str(e.value)
    prim.execute(strm, {**args, arg: dnnl.memory(FULL, eng)})


BASE = [(alg.binary_add, FULL)]
VARIANTS = {
    "algorithm": [(alg.binary_mul, FULL)],
    "src1 dims": [(alg.binary_add, md([1, 32, 1, 1], dt.f32, tag.nhwc))],
    "src1 layout": [(alg.binary_add, md([1, 32, 5, 5], dt.f32, tag.nchw))],
    "position": [(None, None), (alg.binary_add, FULL)],
}


@pytest.mark.parametrize("field", VARIANTS)
def test_each_field_makes_its_own_cache_entry_and_blob_id(eng, clean_caches, field):
    base = dnnl.convolution_forward(conv_pd(eng, BASE))
    assert dnnl.convolution_forward(conv_pd(eng, BASE))._kernel is base._kernel
    assert conv_pd(eng, BASE).get_cache_blob_id() == base.get_primitive_desc().get_cache_blob_id()
    pd = conv_pd(eng, VARIANTS[field])
    assert dnnl.convolution_forward(pd)._kernel is not base._kernel
    assert pd.get_cache_blob_id() != base.get_primitive_desc().get_cache_blob_id()


@pytest.mark.parametrize("src1, text", [
    (FULL, "attr-post-ops:eltwise_relu+binary_add:f32:14:acdb"),
    (md([1, 32, 1, 1], dt.f32, tag.nchw), "attr-post-ops:eltwise_relu+binary_add:f32:2"),
    (md([1, 1, 1, 1], dt.f32, tag.nchw), "attr-post-ops:eltwise_relu+binary_add:f32:0"),
    (md([1, 32, 5, 5], dt.f32, tag.any), "attr-post-ops:eltwise_relu+binary_add:f32:14:any")])
def test_verbose(eng, capsys, clean_caches, src1, text):
    """oneDNN's spelling: alg, src1 data type, mask of its non-unit dims, and its layout
    when more than one dim is not 1."""
    dnnl.set_verbose(2)
    try:
        dnnl.convolution_forward(conv_pd(eng, [(None, None), (alg.binary_add, src1)]))
    finally:
        dnnl.set_verbose(0)
    line = [ln for ln in capsys.readouterr().out.splitlines() if ",create:" in ln][-1]
    assert f",{text}," in line, line
    assert line.count("src:f32") == 1  # src1 is not listed among the descriptors


@pytest.mark.parametrize("impl", [cpu_conv.ConvDirect, *ocl_impls("gemm", "ConvIgemm")],
                         ids=impl_id)
def test_blob_round_trip(engine_for, rng, impl, clean_caches, monkeypatch):
    eng, strm = engine_for(impl)
    ops = [("binary", "binary_add", (D, D, D, D), tag.nhwc),
           ("binary", "binary_mul", (1, D, 1, 1), tag.nchw)]
    out, ref, pd, k = conv_case(eng, strm, rng, impl, ops)
    value = dnnl.convolution_forward(pd).get_cache_blob()
    dnnl.clear_primitive_cache()
    if impl.name.startswith("ocl:"):
        from dnnl_py.ocl import program

        def no_build(*args, **kwargs):
            raise AssertionError("compiled although the blob has the program")
        monkeypatch.setattr(program, "build", no_build)
    built = []

    def from_blob(p):
        built.append(dnnl.convolution_forward(p, value))
        return built[-1]
    out, ref, _, _ = conv_case(eng, strm, np.random.default_rng(5), impl, ops, build=from_blob)
    assert built[0]._built.source == "from_cache_blob"
    assert_close(out, ref, k)
    other = [("binary", "binary_sub", (D, D, D, D), tag.nhwc),
             ("binary", "binary_mul", (1, D, 1, 1), tag.nchw)]
    with pytest.raises(dnnl.error) as e:  # made for another post-op
        conv_case(eng, strm, rng, impl, other, build=from_blob)
    assert e.value.status == dnnl.status.invalid_arguments


def test_empty_dst(engines):
    """A dst with no elements reads no src1 and runs nothing."""
    eng, strm = engines
    src1 = md([1, 5], dt.f32, tag.ab)
    po = dnnl.post_ops()
    po.append_binary(alg.binary_add, src1)
    attr = dnnl.primitive_attr()
    attr.set_post_ops(po)
    pd = dnnl.matmul.primitive_desc(eng, md([0, 4], dt.f32, tag.ab), md([4, 5], dt.f32, tag.ab),
                                    md([0, 5], dt.f32, tag.ab), attr)
    args = {arg: dnnl.memory(pd.query_md(arg), eng)
            for arg in (dnnl.ARG_SRC, dnnl.ARG_WEIGHTS, dnnl.ARG_DST)}
    args[dnnl.ARG_ATTR_MULTIPLE_POST_OP(0) | dnnl.ARG_SRC_1] = dnnl.memory(src1, eng)
    dnnl.matmul(pd).execute(strm, args)
    strm.wait()
    assert args[dnnl.ARG_DST].to_numpy().shape == (0, 5)


@pytest.mark.parametrize("k", [1, 300])
def test_one_element_dst(engines, k):
    """A 1x1 dst (oneDNN's test_matmul_ci has 1x1:1x1 and 1x300:300x1 with add:f32):
    strides of unit dims are arbitrary and must not reach the src1 walk."""
    eng, strm = engines
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((1, k)), rng.standard_normal((k, 1))
    ops = [("sum", 1.0), ("eltwise", "eltwise_relu", 0.5, 0.0),
           ("binary", "binary_add", (1, 1), tag.ab)]
    attr, src1 = attr_and_src1(rng, ops, (1, 1))
    pd = dnnl.matmul.primitive_desc(eng, md([1, k], dt.f32, tag.ab), md([k, 1], dt.f32, tag.ab),
                                    md([1, 1], dt.f32, tag.ab), attr)
    dst_old = np.float32([[0.25]])
    out = execute(eng, strm, dnnl.matmul, pd, {dnnl.ARG_SRC: a, dnnl.ARG_WEIGHTS: b},
                  dst_old, src1)
    ref = chain_ref(a @ b, dst_old.astype(np.float64), ops, src1)
    assert_close(out, ref, k)
