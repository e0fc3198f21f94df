"""Convolution throughput on ResNet-50's shapes at minibatch 1 and 32 against an
im2col numpy reference (the benchdnn driver's, NCHW) and, when installed,
torch.nn.functional.conv2d (oneDNN inside, channels-last as dnnl_py's `any` layouts
resolve, timed in a process of its own by the benchdnn report's torch reference).

    make bench  # or: .venv/bin/python -m pytest benchmarks/bench_convolution.py --benchmark-only
"""
import importlib.util

import numpy as np
import pytest

import dnnl_py as dnnl
from dnnl_py.benchdnn.cli import INPUTS
from dnnl_py.benchdnn.problems import parse_conv, read_batch
from dnnl_py.benchdnn.reference import conv_im2col

RESNET = list(read_batch(INPUTS / "shapes_resnet_50", parse_conv))
dt, tag = dnnl.memory.data_type, dnnl.memory.format_tag
IMPLS = ["dnnl", "numpy_im2col"]
HAVE_TORCH = importlib.util.find_spec("torch") is not None  # a reference only, never a dependency


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("mb", [1, 32])
@pytest.mark.parametrize("p", RESNET, ids=lambda p: p.name.split(":")[-1].split("*")[0])
def test_conv(benchmark, request, impl, mb, p):
    if HAVE_TORCH:  # torch's times, measured once in a process of their own, for the summary
        request.config._torch_conv_times = request.getfixturevalue("torch_conv_times")
    rng = np.random.default_rng(0)
    ih, iw = p.i[1:]
    kh, kw = p.k[1:]
    x = rng.standard_normal((mb, ih, iw, p.ic), dtype=np.float32)
    w = rng.standard_normal((kh, kw, p.ic, p.oc), dtype=np.float32)
    s, pad, pr = p.s[1:], p.p[1:], p.pr[1:]
    benchmark.group = f"conv_mb{mb}:{p.name}"
    if impl == "dnnl":
        eng = dnnl.engine(dnnl.engine.kind.cpu, 0)
        strm = dnnl.stream(eng)
        src_md = dnnl.memory.desc([mb, p.ic, ih, iw], dt.f32, tag.nhwc)
        wei_md = dnnl.memory.desc([p.oc, p.ic, kh, kw], dt.f32, tag.hwio)
        dst_md = dnnl.memory.desc([mb, p.oc, *p.o[1:]], dt.f32, tag.nhwc)
        pd = dnnl.convolution_forward.primitive_desc(
            eng, dnnl.prop_kind.forward_inference, dnnl.algorithm.convolution_direct,
            src_md, wei_md, None, dst_md, list(s), list(pad), list(pr))
        prim = dnnl.convolution_forward(pd)
        args = {dnnl.ARG_SRC: dnnl.memory(src_md, eng, x.reshape(-1)),
                dnnl.ARG_WEIGHTS: dnnl.memory(wei_md, eng, w.reshape(-1)),
                dnnl.ARG_DST: dnnl.memory(dst_md, eng)}
        fn = lambda: prim.execute(strm, args)  # noqa: E731
    else:
        if mb > 1:
            pytest.skip("numpy im2col reference timed at minibatch 1 only (slow)")
        x_nchw, w_oihw = x.transpose(0, 3, 1, 2).copy(), w.transpose(3, 2, 0, 1)[None].copy()
        fn = lambda: conv_im2col(x_nchw, w_oihw, None, s, (0, 0), pad, pr,  # noqa: E731
                                 np.float32)
    benchmark.extra_info["gflops"] = p.flops / p.mb * mb
    benchmark.pedantic(fn, rounds=3 if mb > 1 else 10, warmup_rounds=1)

