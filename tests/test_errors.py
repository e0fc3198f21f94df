"""Bad input: every case raises dnnl.error with a status and names the problem."""
import numpy as np
import pytest
from helpers import PLAIN, dt, tag

import dnnl_py as dnnl

md = dnnl.memory.desc
f32 = dt.f32


def conv_pd(eng, src=(1, 4, 8, 8), wei=(6, 4, 3, 3), dst=(1, 6, 8, 8), bias=(6,), **kw):
    kw = {"strides": [1, 1], "padding_l": [1, 1], "padding_r": [1, 1], **kw}
    return dnnl.convolution_forward.primitive_desc(
        eng, dnnl.prop_kind.forward_inference, dnnl.algorithm.convolution_direct,
        md(src, f32, PLAIN[len(src)]), md(wei, f32, PLAIN[len(wei)]),
        md(bias, f32, tag.a) if bias else None, md(dst, f32, PLAIN[len(dst)]), **kw)


def raises(status, match, fn, *args, **kw):
    with pytest.raises(dnnl.error, match=match) as info:
        fn(*args, **kw)
    assert info.value.status == status
    return info.value


INVALID = dnnl.status.invalid_arguments


def test_conv_wrong_dims(eng):
    raises(INVALID, r"dst: dims \[1, 6, 7, 8\] do not match the problem's \[1, 6, 8, 8\]",
           conv_pd, eng, dst=(1, 6, 7, 8))
    raises(INVALID, "weights: .* take 5 input channels, src has 4", conv_pd, eng, wei=(6, 5, 3, 3))
    raises(INVALID, r"bias: dims \[5\]", conv_pd, eng, bias=(5,))
    raises(INVALID, "strides: expected 2 values", conv_pd, eng, strides=[1])
    raises(INVALID, "src: 2 dims", conv_pd, eng, src=(4, 8), wei=(6, 4), dst=(6, 8))
    raises(INVALID, "does not fit", conv_pd, eng, wei=(6, 4, 11, 11), padding_l=[0, 0],
           padding_r=[0, 0], dst=(1, 6, 1, 1))


def test_unimplemented(eng):
    err = raises(dnnl.status.unimplemented, "f16", dnnl.convolution_forward.primitive_desc, eng,
                 dnnl.prop_kind.forward_inference, dnnl.algorithm.convolution_direct,
                 md([1, 4, 8, 8], dt.f16, tag.nchw), md([6, 4, 3, 3], f32, tag.oihw), None,
                 md([1, 6, 8, 8], f32, tag.nchw), [1, 1], [1, 1], [1, 1])
    assert "src" in err.message
    raises(dnnl.status.unimplemented, "backward", dnnl.convolution_forward.primitive_desc, eng,
           dnnl.prop_kind.backward_data, dnnl.algorithm.convolution_direct,
           md([1, 4, 8, 8], f32, tag.nchw), md([6, 4, 3, 3], f32, tag.oihw), None,
           md([1, 6, 8, 8], f32, tag.nchw), [1, 1], [1, 1], [1, 1])
    attr = dnnl.primitive_attr()
    po = dnnl.post_ops()
    po.append_eltwise(dnnl.algorithm.eltwise_mish, 0, 0)
    attr.set_post_ops(po)
    raises(dnnl.status.unimplemented, "eltwise_mish", conv_pd, eng, attr=attr)
    raises(dnnl.status.unimplemented, "no convolution implementation .*blocked|nChw16c|aBcd16b",
           dnnl.convolution_forward.primitive_desc, eng, dnnl.prop_kind.forward_inference,
           dnnl.algorithm.convolution_direct, md([1, 16, 8, 8], f32, tag.nChw16c),
           md([6, 16, 3, 3], f32, tag.oihw), None, md([1, 6, 8, 8], f32, tag.nchw),
           [1, 1], [1, 1], [1, 1])


def test_matmul_wrong_dims(eng):
    raises(INVALID, "weights: .*K=5.*K=4", dnnl.matmul.primitive_desc, eng, md([3, 4], f32, tag.ab),
           md([5, 6], f32, tag.ab), md([3, 6], f32, tag.ab))
    raises(INVALID, r"dst: dims \[3, 7\]", dnnl.matmul.primitive_desc, eng,
           md([3, 4], f32, tag.ab), md([4, 6], f32, tag.ab), md([3, 7], f32, tag.ab))
    raises(INVALID, "batch dim 0", dnnl.matmul.primitive_desc, eng, md([2, 3, 4], f32, tag.abc),
           md([3, 4, 6], f32, tag.abc), md([3, 3, 6], f32, tag.abc))
    raises(INVALID, "bias: .*do not broadcast", dnnl.matmul.primitive_desc, eng,
           md([3, 4], f32, tag.ab), md([4, 6], f32, tag.ab), md([2, 6], f32, tag.ab),
           md([3, 6], f32, tag.ab))


def test_memory_handles(eng):
    d = md([2, 3], f32, tag.ab)
    raises(INVALID, "dtype float64 does not match", dnnl.memory, d, eng, np.zeros((2, 3)))
    raises(INVALID, r"shape \[3, 2\] does not match", dnnl.memory, d, eng,
           np.zeros((3, 2), np.float32))
    raises(INVALID, "strides .* do not match", dnnl.memory, d, eng,
           np.zeros((3, 2), np.float32).T)
    raises(INVALID, "smaller than the descriptor", dnnl.memory, d, eng, np.zeros(5, np.float32))
    raises(INVALID, "format any", dnnl.memory, md([2, 3], f32, tag.any), eng)
    raises(INVALID, "handle must be a numpy array", dnnl.memory, d, eng, [1, 2, 3])
    raises(INVALID, "format tag abcd does not describe 2 dims", md, [2, 3], f32, tag.nchw)
    raises(INVALID, "strides .* do not match dims", md, [2, 3], f32, [1])


@pytest.fixture
def conv_and_args(eng):
    pd = conv_pd(eng)
    args = {dnnl.ARG_SRC: dnnl.memory(pd.src_desc(), eng),
            dnnl.ARG_WEIGHTS: dnnl.memory(pd.weights_desc(), eng),
            dnnl.ARG_BIAS: dnnl.memory(pd.bias_desc(), eng),
            dnnl.ARG_DST: dnnl.memory(pd.dst_desc(), eng)}
    return dnnl.convolution_forward(pd), args


def test_execute_arguments(eng, strm, conv_and_args):
    conv, args = conv_and_args
    conv.execute(strm, args)
    raises(INVALID, "argument bias is missing", conv.execute, strm,
           {k: v for k, v in args.items() if k != dnnl.ARG_BIAS})
    raises(INVALID, "unexpected argument.*src_1", conv.execute, strm,
           {**args, dnnl.ARG_SRC_1: args[dnnl.ARG_SRC]})
    wrong = dnnl.memory(md([1, 4, 8, 8], f32, tag.nhwc), eng)
    raises(INVALID, "src: memory is .*acdb.*expects.*abcd", conv.execute, strm,
           {**args, dnnl.ARG_SRC: wrong})
    small = dnnl.memory(md([1, 6, 8, 8], f32, tag.nchw), eng)
    small._buf = small._buf[:10]  # a buffer shrunk behind the descriptor's back
    raises(INVALID, "dst: buffer holds 10 elements", conv.execute, strm,
           {**args, dnnl.ARG_DST: small})


def test_other_engine_and_stream(eng, strm, conv_and_args):
    conv, args = conv_and_args
    other = dnnl.engine(dnnl.engine.kind.cpu, 0)
    raises(INVALID, "stream does not belong", conv.execute, dnnl.stream(other), args)
    foreign = dnnl.memory(args[dnnl.ARG_SRC].get_desc(), other)
    raises(INVALID, "src: memory belongs to", conv.execute, strm, {**args, dnnl.ARG_SRC: foreign})
    raises(INVALID, "gpu", dnnl.engine, dnnl.engine.kind.gpu, 0)
    raises(INVALID, "cpu index 1", dnnl.engine, dnnl.engine.kind.cpu, 1)


def test_reorder_mismatch(eng):
    a = dnnl.memory(md([2, 3], f32, tag.ab), eng)
    b = dnnl.memory(md([3, 2], f32, tag.ab), eng)
    raises(INVALID, "reorder: dst dims", dnnl.reorder, a, b)


# overlapping strides: a destination is refused for every engine; BLAS never gets rows
# that overlap ---------------------------------------------------------------------------

@pytest.mark.parametrize("strides", [[20, 4, 1], [448, 0, 1]], ids=["c<pixels", "c=0"])
def test_overlapping_conv_dst_is_refused(eng, strides):
    """The issue's reproducer: dst channel stride below the 5 pixels of a row."""
    src, wei = md([2, 1, 5], f32, tag.ncw), md([4, 1, 1], f32, tag.oiw)
    raises(INVALID, r"dst: strides .* overlap", dnnl.convolution_forward.primitive_desc, eng,
           dnnl.prop_kind.forward_inference, dnnl.algorithm.convolution_direct, src, wei, None,
           md([2, 4, 5], f32, strides), [1], [0], [0])


def test_overlapping_matmul_and_reorder_dst_are_refused(eng):
    raises(INVALID, r"dst: strides \[2, 1\] over dims \[3, 5\] overlap", dnnl.matmul.primitive_desc,
           eng, md([3, 4], f32, tag.ab), md([4, 5], f32, tag.ab), md([3, 5], f32, [2, 1]))
    a = dnnl.memory(md([3, 4], f32, tag.ab), eng)
    raises(INVALID, "dst: strides .* overlap", dnnl.reorder, a,
           dnnl.memory(md([3, 4], f32, [0, 1]), eng))
    # column-major and blocked layouts are destinations
    dnnl.matmul.primitive_desc(eng, md([3, 4], f32, tag.ab), md([4, 5], f32, tag.ab),
                               md([3, 5], f32, [1, 3]))
    dnnl.reorder(dnnl.memory(md([2, 17, 3, 3], f32, tag.nchw), eng),
                 dnnl.memory(md([2, 17, 3, 3], f32, tag.nChw16c), eng))


def test_overlapping_weights_are_read_by_the_reference(eng, strm, rng):
    """Weights rows that overlap (stride 1 < 3 input channels) are a valid source; BLAS
    cannot take them, so cpu:gemm:blas declines and the reference reads them."""
    wmd = md([4, 3, 1], f32, [1, 1, 1])
    pd = dnnl.convolution_forward.primitive_desc(
        eng, dnnl.prop_kind.forward_inference, dnnl.algorithm.convolution_direct,
        md([2, 3, 5], f32, tag.ncw), wmd, None, md([2, 4, 5], f32, tag.ncw), [1], [0], [0])
    assert pd.impl_info_str() == "cpu:ref:any"
    x = rng.standard_normal((2, 3, 5)).astype(np.float32)
    wbuf = rng.standard_normal(6).astype(np.float32)  # all the layout spans
    w = np.lib.stride_tricks.as_strided(wbuf, (4, 3), (4, 4))  # w[o, i] = wbuf[o + i]
    dst = dnnl.memory(pd.dst_desc(), eng)
    dnnl.convolution_forward(pd).execute(strm, {
        dnnl.ARG_SRC: dnnl.memory(pd.src_desc(), eng, x),
        dnnl.ARG_WEIGHTS: dnnl.memory(wmd, eng, wbuf), dnnl.ARG_DST: dst})
    np.testing.assert_allclose(dst.to_numpy(), np.einsum("oi,niw->now", w, x), rtol=1e-5)


def test_gemm_kernel_refuses_overlapping_rows():
    """The compiled core refuses, not clamps, a leading dimension below the row length:
    the issue's conv on a dst of exactly the descriptor's size, with a guard zone."""
    from dnnl_py.cpu import _kernels
    problem = dict(mb=2, g=1, ic=1, oc=4, id=1, ih=1, iw=5, od=1, oh=1, ow=5, kd=1, kh=1,
                   kw=1, sd=1, sh=1, sw=1, dd=0, dh=0, dw=0, pd=0, ph=0, pw=0,
                   src_s=(5, 5, 0, 0, 1), dst_s=(20, 4, 0, 0, 1), wei_s=(0, 1, 1, 0, 0, 1))
    kernel = _kernels.ConvKernel(_kernels.CONV_GEMM, problem, [], 0, 5)
    need = 20 + 3 * 4 + 4 + 1
    dst = np.full(need + 8, np.nan, np.float32)
    with pytest.raises(ValueError, match="BLAS refused"):
        kernel(np.ones(10, np.float32), np.ones(4, np.float32), None, dst[:need])
    assert np.isnan(dst).all()  # nothing written, inside or past the end
    mm = _kernels.MatmulKernel(_kernels.MATMUL_GEMM, (), 3, 5, 1, ((), (1, 0)), ((), (5, 1)),
                               ((), (2, 1)), None, [])
    with pytest.raises(ValueError, match="BLAS refused"):
        mm(np.ones(3, np.float32), np.ones(5, np.float32), None, dst[:9])
    assert np.isnan(dst).all()


# failures that used to escape as other exceptions ---------------------------------------

def test_huge_dims(eng):
    raises(dnnl.status.out_of_memory, "memory: cannot allocate", dnnl.memory,
           md([2**40, 2**20], f32, tag.ab), eng)
    raises(INVALID, "more than int64 holds", md, [2**62, 4], f32, tag.ab)
    raises(INVALID, "does not fit int64", md, [2**63], f32, tag.a)
    raises(INVALID, "strides: .* does not fit int64", md, [2, 2], f32, [2**64, 1])


def test_conv_without_input_channels_gives_the_bias(eng, strm):
    for fmt in (tag.nchw, tag.nhwc):
        pd = dnnl.convolution_forward.primitive_desc(
            eng, dnnl.prop_kind.forward_inference, dnnl.algorithm.convolution_direct,
            md([1, 0, 4, 4], f32, fmt), md([16, 0, 3, 3], f32, tag.any), md([16], f32, tag.a),
            md([1, 16, 4, 4], f32, fmt), [1, 1], [1, 1], [1, 1])
        bias = np.arange(16, dtype=np.float32)
        dst = dnnl.memory(pd.dst_desc(), eng)
        dnnl.convolution_forward(pd).execute(strm, {
            dnnl.ARG_SRC: dnnl.memory(pd.src_desc(), eng),
            dnnl.ARG_WEIGHTS: dnnl.memory(pd.weights_desc(), eng),
            dnnl.ARG_BIAS: dnnl.memory(pd.bias_desc(), eng, bias), dnnl.ARG_DST: dst})
        np.testing.assert_array_equal(dst.to_numpy(), np.broadcast_to(bias[None, :, None, None],
                                                                      (1, 16, 4, 4)))


def test_more_post_ops_than_the_kernels_take(eng):
    po = dnnl.post_ops()
    for _ in range(9):
        po.append_eltwise(dnnl.algorithm.eltwise_relu, 0, 0)
    attr = dnnl.primitive_attr()
    attr.set_post_ops(po)
    raises(dnnl.status.unimplemented, "9 post-ops", dnnl.matmul.primitive_desc, eng,
           md([2, 3], f32, tag.ab), md([3, 4], f32, tag.ab), md([2, 4], f32, tag.ab), attr)
    raises(dnnl.status.unimplemented, "9 post-ops", conv_pd, eng, attr=attr)


def test_post_op_parameters_are_numbers():
    po = dnnl.post_ops()
    raises(INVALID, "append_eltwise: alpha: expected a number, got 'x'", po.append_eltwise,
           dnnl.algorithm.eltwise_relu, "x", 0)
    raises(INVALID, "append_eltwise: beta", po.append_eltwise, dnnl.algorithm.eltwise_clip, 0,
           None)
    raises(INVALID, "append_sum: scale", po.append_sum, "2")
    raises(INVALID, "append_sum: zero_point", po.append_sum, 1.0, 0.5)
    po.append_eltwise(dnnl.algorithm.eltwise_linear, np.float32(2), 1)
    assert po.get_params_eltwise(0) == (dnnl.algorithm.eltwise_linear, 2.0, 1.0)


def test_execute_argument_types(strm, conv_and_args):
    conv, args = conv_and_args
    raises(INVALID, "args must map DNNL_ARG_\\* to memory .*got list", conv.execute, strm,
           list(args.values()))
    raises(INVALID, "src: expected a memory, got ndarray", conv.execute, strm,
           {**args, dnnl.ARG_SRC: np.zeros((1, 4, 8, 8), np.float32)})


def test_memory_arguments(eng):
    d = md([2, 3, 4, 5], f32, tag.abcd)
    raises(INVALID, "memory: expected an engine, got NoneType", dnnl.memory, d, None)
    raises(INVALID, "1-D buffer must be contiguous, got a view with a stride of 2", dnnl.memory,
           d, eng, np.zeros(240, np.float32)[::2])


def test_kernel_objects_cannot_be_pickled():
    # A kernel holds raw pointers into C structs: Cython's generated __reduce__ would let a
    # pickle rebuild one from untrusted state, so the extension is built with auto_pickle off.
    import pickle

    from dnnl_py.cpu import _kernels
    kernel_types = [t for t in vars(_kernels).values()
                    if isinstance(t, type) and t.__module__ == _kernels.__name__]
    assert len(kernel_types) >= 5
    for t in kernel_types:
        assert "__setstate_cython__" not in vars(t), t.__name__
        with pytest.raises(TypeError):
            pickle.dumps(t.__new__(t))
