"""eltwise_forward and binary on the CPU engine: GB/s (src + dst bytes) of each algorithm
on 4M floats, out of place, against numpy.copyto of the same size in the same run (the
machine's copy bandwidth); best of 7. docs/primitives/eltwise-binary.md quotes it.

    PYTHONPATH=. .venv/bin/python benchmarks/eltwise_binary_gbps.py
"""
import time

import numpy as np

import dnnl_py as dnnl

md, dt, tag = dnnl.memory.desc, dnnl.memory.data_type, dnnl.memory.format_tag
N = 1 << 22
ALGS = ["relu", "exp", "log", "sqrt", "tanh", "gelu_erf", "soft_relu", "elu", "round", "pow",
        "hardswish"]


def best(fn, runs: int = 7) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    eng = dnnl.engine(dnnl.engine.kind.cpu, 0)
    strm = dnnl.stream(eng)
    x = np.random.default_rng(0).uniform(0.1, 3, N).astype(np.float32)
    y = np.empty_like(x)
    copy = best(lambda: np.copyto(y, x))
    print(f"copy {8 * N / copy / 1e9:.1f} GB/s")
    for alg in ALGS:
        pd = dnnl.eltwise_forward.primitive_desc(
            eng, dnnl.prop_kind.forward_inference, getattr(dnnl.algorithm, "eltwise_" + alg),
            md([N], dt.f32, tag.a), md([N], dt.f32, tag.a), 1.0, 0.5)
        prim = dnnl.eltwise_forward(pd)
        args = {dnnl.ARG_SRC: dnnl.memory(pd.src_desc(), eng, x),
                dnnl.ARG_DST: dnnl.memory(pd.dst_desc(), eng, y)}
        t = best(lambda prim=prim, args=args: prim.execute(strm, args))
        print(f"eltwise {alg:10s} {8 * N / t / 1e9:5.1f} GB/s  {copy / t:.2f}x copy")
    a = np.random.default_rng(1).standard_normal((64, 256, 256)).astype(np.float32)
    b = np.random.default_rng(2).standard_normal((64, 1, 1)).astype(np.float32)
    pd = dnnl.binary.primitive_desc(eng, dnnl.algorithm.binary_add, md(a.shape, dt.f32, tag.abc),
                                    md(b.shape, dt.f32, tag.abc), md(a.shape, dt.f32, tag.abc))
    prim = dnnl.binary(pd)
    args = {dnnl.ARG_SRC_0: dnnl.memory(pd.src_desc(0), eng, a),
            dnnl.ARG_SRC_1: dnnl.memory(pd.src_desc(1), eng, b),
            dnnl.ARG_DST: dnnl.memory(pd.dst_desc(), eng)}
    t = best(lambda: prim.execute(strm, args))
    print(f"binary_add 64x256x256:64x1x1 {8 * a.size / t / 1e9:.1f} GB/s  "
          f"{copy / t * a.size / N:.2f}x copy")


if __name__ == "__main__":
    main()
