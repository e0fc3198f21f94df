"""Creation of a problem the caches already hold, as a oneDNN user repeats it: the memory
descriptors made once, then per creation a new primitive descriptor (pd) and the
primitive from it (a primitive-cache hit). Prints, per kind, in microseconds (median of
many rounds): the pd alone, pd + primitive on a hit, a miss (a problem never seen: its
pd, which walks the implementation list, and pd + primitive, which builds the kernel),
and one memory descriptor's creation.

    PYTHONPATH=. .venv/bin/python benchmarks/creation_hit.py [--rounds N]
"""
import argparse
import statistics
import time

import dnnl_py as dnnl

dt, tag, md = dnnl.memory.data_type, dnnl.memory.format_tag, dnnl.memory.desc
pk, alg = dnnl.prop_kind, dnnl.algorithm
eng = dnnl.engine(dnnl.engine.kind.cpu, 0)
INFER = pk.forward_inference


def conv(n):
    """ResNet-50's res2a 3x3 (n = 0; n > 0 widens the output channels: a new problem)."""
    oc = 64 + n
    src, wei = md([1, 64, 56, 56], dt.f32, tag.nhwc), md([oc, 64, 3, 3], dt.f32, tag.any)
    bia, dst = md([oc], dt.f32, tag.a), md([1, oc, 56, 56], dt.f32, tag.nhwc)
    return dnnl.convolution_forward, lambda: dnnl.convolution_forward.primitive_desc(
        eng, INFER, alg.convolution_direct, src, wei, bia, dst, strides=[1, 1],
        padding_l=[1, 1], padding_r=[1, 1])


def matmul(n):
    src, wei = md([128, 768], dt.f32, tag.ab), md([768, 3072 + n], dt.f32, tag.ab)
    dst = md([128, 3072 + n], dt.f32, tag.ab)
    return dnnl.matmul, lambda: dnnl.matmul.primitive_desc(eng, src, wei, dst)


def reorder(n):
    src, dst = md([1, 64, 56, 56 + n], dt.f32, tag.nchw), md([1, 64, 56, 56 + n], dt.f32,
                                                             tag.nhwc)
    return dnnl.reorder, lambda: dnnl.reorder.primitive_desc(eng, src, eng, dst)


def pooling(n):
    src, dst = md([1, 64, 112 + 2 * n, 112], dt.f32, tag.nhwc), md([1, 64, 56 + n, 56],
                                                                 dt.f32, tag.nhwc)
    return dnnl.pooling_forward, lambda: dnnl.pooling_forward.primitive_desc(
        eng, INFER, alg.pooling_max, src, dst, [2, 2], [2, 2], [0, 0], [0, 0], [0, 0])


def eltwise(n):
    src = md([1, 64, 56, 56 + n], dt.f32, tag.nhwc)
    return dnnl.eltwise_forward, lambda: dnnl.eltwise_forward.primitive_desc(
        eng, INFER, alg.eltwise_relu, src, src)


def binary(n):
    src0, src1 = md([1, 64, 56, 56 + n], dt.f32, tag.nhwc), md([1, 64, 1, 1], dt.f32, tag.nhwc)
    return dnnl.binary, lambda: dnnl.binary.primitive_desc(eng, alg.binary_add, src0, src1,
                                                           src0)


def softmax(n):
    src = md([128, 1000 + n], dt.f32, tag.ab)
    return dnnl.softmax_forward, lambda: dnnl.softmax_forward.primitive_desc(
        eng, INFER, alg.softmax_accurate, src, src, 1)


def layer_norm(n):
    src = md([128, 768 + n], dt.f32, tag.ab)
    flags = dnnl.normalization_flags.use_scale | dnnl.normalization_flags.use_shift
    return dnnl.layer_normalization_forward, lambda: \
        dnnl.layer_normalization_forward.primitive_desc(eng, INFER, src, src, 1e-5, flags)


def batch_norm(n):
    src = md([1, 64 + n, 56, 56], dt.f32, tag.nhwc)
    flags = dnnl.normalization_flags.use_global_stats | dnnl.normalization_flags.use_scale \
        | dnnl.normalization_flags.use_shift
    return dnnl.batch_normalization_forward, lambda: \
        dnnl.batch_normalization_forward.primitive_desc(eng, INFER, src, src, 1e-5, flags)


def concat(n):
    srcs = [md([1, 64, 28, 28 + n], dt.f32, tag.nhwc), md([1, 32, 28, 28 + n], dt.f32, tag.nhwc)]
    return dnnl.concat, lambda: dnnl.concat.primitive_desc(eng, 1, srcs)


KINDS = {f.__name__: f for f in (conv, matmul, reorder, pooling, eltwise, binary, softmax,
                                 layer_norm, batch_norm, concat)}


def median_us(fn, rounds: int, per_round: int = 50) -> float:
    """The median over `rounds` of one call's mean time in a round of `per_round` calls."""
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(per_round):
            fn()
        times.append((time.perf_counter() - t0) / per_round)
    return statistics.median(times) * 1e6


def miss_us(kind, count: int) -> tuple:
    """Medians over `count` creations of problems never seen (mds made beforehand): of
    the pd (the implementation list walked), and of pd + primitive (the kernel built)."""
    makers = [KINDS[kind](n) for n in range(1, count + 1)]
    pd_times, times = [], []
    for prim_cls, make_pd in makers:
        t0 = time.perf_counter()
        pd = make_pd()
        t1 = time.perf_counter()
        prim_cls(pd)
        pd_times.append(t1 - t0)
        times.append(time.perf_counter() - t0)
    return statistics.median(pd_times) * 1e6, statistics.median(times) * 1e6


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=200, help="rounds per hit figure")
    parser.add_argument("--misses", type=int, default=15, help="new problems per kind")
    parser.add_argument("--kinds", default=",".join(KINDS), help="comma-separated kinds")
    args = parser.parse_args()
    dnnl.set_cache_dir(None)
    dnnl.set_cpu_tuning(False)
    print(f"{'kind':12s} {'pd us':>8s} {'pd+hit us':>10s} {'miss pd us':>11s} {'miss us':>9s}")
    for kind in args.kinds.split(","):
        prim_cls, make_pd = KINDS[kind](0)
        prim_cls(make_pd())  # now in both caches
        pd_only = median_us(make_pd, args.rounds)
        hit = median_us(lambda c=prim_cls, m=make_pd: c(m()), args.rounds)
        miss_pd, miss = miss_us(kind, args.misses)
        print(f"{kind:12s} {pd_only:8.1f} {hit:10.1f} {miss_pd:11.0f} {miss:9.0f}")
    for label, fn in (("md nhwc 4d", lambda: md([1, 64, 56, 56], dt.f32, tag.nhwc)),
                      ("md ab 2d", lambda: md([128, 768], dt.f32, tag.ab)),
                      ("md strides", lambda: md([128, 768], dt.f32, [768, 1])),
                      ("md any", lambda: md([64, 64, 3, 3], dt.f32, tag.any))):
        print(f"{label:12s} {median_us(fn, args.rounds):8.2f}")


if __name__ == "__main__":
    main()
