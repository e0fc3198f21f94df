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
