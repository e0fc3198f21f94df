"""OpenCL engine throughput on its device (PoCL's CPU device here): matmul against
numpy.matmul (OpenBLAS) on the same cores, and ResNet-50 convolutions (mb1) against the
CPU engine. Issue 5's target: matmul 1024^3 at least 0.25x numpy. The summary's
"numpy 0.4x" means the OpenCL engine runs at 0.4 of numpy's throughput.

    PYTHONPATH=. .venv/bin/python -m pytest benchmarks/bench_ocl.py -p no:cacheprovider \
        --benchmark-only -q
"""

import numpy as np
import pytest

import dnnl_py as dnnl
from dnnl_py.benchdnn.cli import INPUTS
from dnnl_py.benchdnn.problems import parse_conv, read_batch

cl = pytest.importorskip("pyopencl")
dt, tag = dnnl.memory.data_type, dnnl.memory.format_tag
CONVS = [p for p in read_batch(INPUTS / "shapes_resnet_50", parse_conv)
         if p.name.split(":")[-1].rstrip("*0123456789") in
         ("res2a_branch2b", "res3a_branch2b", "res4a_branch2b", "res4a_branch2a", "res5a_branch2b")]


@pytest.fixture(scope="module")
def ocl():
    devices = [d for p in cl.get_platforms() for d in p.get_devices()]
    if not devices:
        pytest.skip("no OpenCL device")
    eng = dnnl.ocl_interop.make_engine(devices[0], cl.Context([devices[0]]))
    return eng, dnnl.stream(eng)


def timed_primitive(benchmark, eng, strm, prim_cls, pd, rounds):
    args = {arg: dnnl.memory(pd.query_md(arg), eng) for arg in
            (dnnl.ARG_SRC, dnnl.ARG_WEIGHTS, dnnl.ARG_DST)}
    prim = prim_cls(pd)

    def run():
        prim.execute(strm, args)
        strm.wait()
    benchmark.pedantic(run, rounds=rounds, warmup_rounds=1)


@pytest.mark.parametrize("impl", ["dnnl", "numpy"])
@pytest.mark.parametrize("n", [256, 512, 1024])
def test_matmul(benchmark, ocl, impl, n):
    benchmark.group = f"ocl_matmul:{n}"
    rounds = max(5, int(4e9 / n**3))
    if impl == "numpy":
        a, b = (np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
                for _ in range(2))
        c = np.empty_like(a)
        benchmark.pedantic(lambda: np.matmul(a, b, out=c), rounds=rounds, warmup_rounds=1)
        return
    eng, strm = ocl
    md = dnnl.memory.desc([n, n], dt.f32, tag.ab)
    timed_primitive(benchmark, eng, strm, dnnl.matmul,
                    dnnl.matmul.primitive_desc(eng, md, md, md), rounds)


@pytest.mark.parametrize("impl", ["dnnl", "cpu_engine"])
@pytest.mark.parametrize("p", CONVS, ids=lambda p: p.name)
def test_conv(benchmark, ocl, impl, p):
    benchmark.group = f"ocl_conv_mb1:{p.name}"
    eng, strm = ocl if impl == "dnnl" else (dnnl.engine(dnnl.engine.kind.cpu, 0), None)
    strm = strm or dnnl.stream(eng)
    md = dnnl.memory.desc
    pd = dnnl.convolution_forward.primitive_desc(
        eng, dnnl.prop_kind.forward_inference, dnnl.algorithm.convolution_direct,
        md([1, p.ic, *p.i[1:]], dt.f32, tag.nhwc), md([p.oc, p.ic, *p.k[1:]], dt.f32, tag.any),
        None, md([1, p.oc, *p.o[1:]], dt.f32, tag.nhwc), list(p.s[1:]), list(p.p[1:]),
        list(p.pr[1:]))
    timed_primitive(benchmark, eng, strm, dnnl.convolution_forward, pd, 10)
