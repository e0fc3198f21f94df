"""A residual add fused into the convolution that produces it (a binary_add post-op)
against the convolution alone and against the convolution followed by a separate binary
primitive (in place on dst), on ResNet-50 shapes, mb1, channels-last, with bias, CPU
engine. The three run interleaved, round after round, each round timing `--reps`
executions of each: on a shared machine the load changes between rounds more than within
one, so a round's ratio to the convolution alone is the measure, and the median over
rounds the figure (the best round's time is printed too). With --clock=cpu the
process's CPU time is measured instead of the wall clock: what other processes take of
the cores then stays out of it (run it single-threaded, OMP_NUM_THREADS=1
OPENBLAS_NUM_THREADS=1, where no thread waits on another). docs/performance.md quotes it.

    PYTHONPATH=. .venv/bin/python benchmarks/fused_binary.py [--clock=cpu]
"""
import argparse
import time

import numpy as np

import dnnl_py as dnnl

md, dt, tag = dnnl.memory.desc, dnnl.memory.data_type, dnnl.memory.format_tag
# (name, ic, oc, spatial, kernel, padding)
SHAPES = [("res2a_branch2c 1x1 64->256 56x56", 64, 256, 56, 1, 0),
          ("res2a_branch2b 3x3 64->64 56x56", 64, 64, 56, 3, 1)]


def conv(eng, ic, oc, hw, k, pad, attr=None):
    pd = dnnl.convolution_forward.primitive_desc(
        eng, dnnl.prop_kind.forward_inference, dnnl.algorithm.convolution_direct,
        md([1, ic, hw, hw], dt.f32, tag.nhwc), md([oc, ic, k, k], dt.f32, tag.any),
        md([oc], dt.f32, tag.a), md([1, oc, hw, hw], dt.f32, tag.nhwc),
        [1, 1], [pad, pad], [pad, pad], attr or dnnl.primitive_attr())
    return pd, dnnl.convolution_forward(pd)


def variants(eng, strm, ic, oc, hw, k, pad) -> dict:
    """{name: a function running the variant once}."""
    rng = np.random.default_rng(0)
    pd, plain = conv(eng, ic, oc, hw, k, pad)
    mem = {dnnl.ARG_SRC: rng.standard_normal([1, ic, hw, hw]),
           dnnl.ARG_WEIGHTS: rng.standard_normal(pd.weights_desc().get_size() // 4),
           dnnl.ARG_BIAS: rng.standard_normal(oc)}
    args = {arg: dnnl.memory(pd.query_md(arg), eng, np.asarray(a, np.float32).ravel())
            for arg, a in mem.items()}
    args[dnnl.ARG_DST] = dnnl.memory(pd.dst_desc(), eng)
    residual = dnnl.memory(pd.dst_desc(), eng,
                           rng.standard_normal(oc * hw * hw).astype(np.float32))

    po = dnnl.post_ops()
    po.append_binary(dnnl.algorithm.binary_add, pd.dst_desc())
    attr = dnnl.primitive_attr()
    attr.set_post_ops(po)
    _, fused = conv(eng, ic, oc, hw, k, pad, attr)
    fused_args = {**args, dnnl.ARG_ATTR_MULTIPLE_POST_OP(0) | dnnl.ARG_SRC_1: residual}

    add = dnnl.binary(dnnl.binary.primitive_desc(eng, dnnl.algorithm.binary_add,
                                                 pd.dst_desc(), pd.dst_desc(), pd.dst_desc()))
    add_args = {dnnl.ARG_SRC_0: args[dnnl.ARG_DST], dnnl.ARG_SRC_1: residual,
                dnnl.ARG_DST: args[dnnl.ARG_DST]}

    def separate():
        plain.execute(strm, args)
        add.execute(strm, add_args)
    check(args, fused, fused_args, separate, strm)
    return {"conv alone": lambda: plain.execute(strm, args),
            "conv + fused binary_add": lambda: fused.execute(strm, fused_args),
            "conv, then binary_add": separate}


def check(args, fused, fused_args, separate, strm) -> None:
    """The fused and the separate add give the same dst (or the timing means nothing)."""
    fused.execute(strm, fused_args)
    a = args[dnnl.ARG_DST].to_numpy().copy()
    separate()
    b = args[dnnl.ARG_DST].to_numpy()
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=41)
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    opts = parser.parse_args()
    clock = time.perf_counter if opts.clock == "wall" else time.process_time
    eng = dnnl.engine(dnnl.engine.kind.cpu, 0)
    strm = dnnl.stream(eng)
    for name, *shape in SHAPES:
        runs = variants(eng, strm, *shape)
        times = {v: [] for v in runs}
        for _ in range(opts.rounds):
            for v, fn in runs.items():
                fn()  # warm: its operands back in cache as in a network's steady state
                start = clock()
                for _ in range(opts.reps):
                    fn()
                times[v].append((clock() - start) / opts.reps)
        alone = np.array(times["conv alone"])
        print(name)
        for v, t in times.items():
            ratio = np.array(t) / alone
            print(f"  {v:24s} best {min(t) * 1e3:7.3f} ms  median {np.median(ratio):.3f}x conv "
                  f"alone (quartiles {np.quantile(ratio, 0.25):.3f}-"
                  f"{np.quantile(ratio, 0.75):.3f})")


if __name__ == "__main__":
    main()
