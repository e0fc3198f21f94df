"""Matmul throughput against numpy.matmul (OpenBLAS): square sizes and bert shapes.

    make bench  # or: .venv/bin/python -m pytest benchmarks/bench_matmul.py --benchmark-only
"""

import numpy as np
import pytest

import dnnl_py as dnnl
from dnnl_py.benchdnn.cli import INPUTS
from dnnl_py.benchdnn.problems import parse_matmul, read_batch

dt, tag = dnnl.memory.data_type, dnnl.memory.format_tag
PLAIN = {2: tag.ab, 3: tag.abc, 4: tag.abcd}

SHAPES = [((n, n), (n, n)) for n in (64, 128, 256, 512, 1024, 2048)]
SHAPES += [(p.src, p.weights) for f in ("shapes_bert", "shapes_transformer")
           for p in read_batch(INPUTS / f, parse_matmul)]


def _id(shape):
    return "x".join(map(str, shape[0])) + ":" + "x".join(map(str, shape[1]))


@pytest.mark.parametrize("impl", ["dnnl", "numpy"])
@pytest.mark.parametrize("shape", SHAPES, ids=_id)
def test_matmul(benchmark, impl, shape):
    a_shape, b_shape = shape
    rng = np.random.default_rng(0)
    a = rng.standard_normal(a_shape, dtype=np.float32)
    b = rng.standard_normal(b_shape, dtype=np.float32)
    c = np.empty(np.broadcast_shapes(a_shape[:-2], b_shape[:-2]) + (a_shape[-2], b_shape[-1]),
                 np.float32)
    benchmark.group = "matmul:" + _id(shape)
    if impl == "numpy":
        fn = lambda: np.matmul(a, b, out=c)  # noqa: E731
    else:
        eng = dnnl.engine(dnnl.engine.kind.cpu, 0)
        strm = dnnl.stream(eng)
        mds = [dnnl.memory.desc(x.shape, dt.f32, PLAIN[x.ndim]) for x in (a, b, c)]
        prim = dnnl.matmul(dnnl.matmul.primitive_desc(eng, *mds))
        args = {arg: dnnl.memory(md, eng, x) for arg, md, x in
                zip((dnnl.ARG_SRC, dnnl.ARG_WEIGHTS, dnnl.ARG_DST), mds, (a, b, c))}
        fn = lambda: prim.execute(strm, args)  # noqa: E731
    flops = 2 * c.size * a_shape[-1]
    benchmark.extra_info["gflops"] = flops
    benchmark.pedantic(fn, rounds=max(10, min(200, int(2e10 / flops))), warmup_rounds=1)
