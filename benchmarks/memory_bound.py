"""The memory-bound kinds on the CPU engine: GB/s (bytes read + written) of pooling,
eltwise, binary, softmax, layer and batch normalization and concat, against the machine's
copy bandwidth (numpy.copyto of the same byte count, measured in the same run) and
torch's equivalent at the same thread count; best of N. Prints a Markdown table
(docs/performance.md, "Memory-bound kinds", quotes it).

    PYTHONPATH=. OMP_NUM_THREADS=2 .venv/bin/python benchmarks/memory_bound.py

(--runs N: best of N, default 15; --repeat K: the median of K tables, for a shared
machine; --only TEXT: the rows whose kind contains TEXT.)

torch is a reference only (imported here, nowhere in dnnl_py); without it the torch column
is left out. Problems are larger than L2 (>= 16 MB moved) except the two named after
their network (ResNet-50's first pool, BERT's layer norm).
"""
from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time

import numpy as np
from dnnl_py.cpu._kernels import max_threads

import dnnl_py as dnnl

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # the table then has no torch column
    torch = None

md, dt, tag = dnnl.memory.desc, dnnl.memory.data_type, dnnl.memory.format_tag
THREADS = int(os.environ.get("OMP_NUM_THREADS", "2"))
RNG = np.random.default_rng(0)


def best(fns, runs: int) -> list:
    """The minimum time of each function over `runs` rounds, the functions taking turns
    within a round: on a shared machine each sees the same spells of load."""
    for fn in fns:
        fn()  # warm: first-touch page faults, lazy initialisation
    times = [[] for _ in fns]
    for _ in range(runs):
        for fn, ts in zip(fns, times):
            start = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - start)
    return [min(ts) for ts in times]


def filled(eng, desc, low=-2.0, high=2.0):
    """A dnnl memory of desc filled with uniform random values, and its logical numpy view."""
    mem = dnnl.memory(desc, eng)
    buf = mem.get_data_handle()
    buf[...] = RNG.uniform(low, high, buf.shape).astype(np.float32)
    return mem, mem.to_numpy()


def tensor(a: np.ndarray, channels_last: bool = False):
    """A copy in torch's own memory, as torch's users hold their tensors."""
    t = torch.from_numpy(np.array(a, order="C")).clone()
    return t.contiguous(memory_format=torch.channels_last) if channels_last else t


class Case:
    """One row: a dnnl primitive with its arguments, the bytes it moves and torch's call."""

    def __init__(self, kind, shape, prim, args, nbytes, torch_fn=None):
        self.kind, self.shape, self.prim, self.args = kind, shape, prim, args
        self.nbytes, self.torch_fn = nbytes, torch_fn


def pool_cases(eng):
    for shape in ((1, 64, 112, 112), (8, 64, 112, 112)):
        for fmt, t in (("nchw", tag.nchw), ("nhwc", tag.nhwc)):
            for alg in ("max", "avg"):
                n, c, h, w = shape
                oh, ow = (h + 2 - 3) // 2 + 1, (w + 2 - 3) // 2 + 1
                a = (dnnl.algorithm.pooling_max if alg == "max"
                     else dnnl.algorithm.pooling_avg_include_padding)
                pd = dnnl.pooling_forward.primitive_desc(
                    eng, dnnl.prop_kind.forward_inference, a, md(shape, dt.f32, t),
                    md((n, c, oh, ow), dt.f32, t), (2, 2), (3, 3), (0, 0), (1, 1), (1, 1))
                src, x = filled(eng, pd.src_desc())
                dst = dnnl.memory(pd.dst_desc(), eng)
                nbytes = 4 * (x.size + n * c * oh * ow)
                tf = None
                if torch is not None:
                    tx = tensor(x, fmt == "nhwc")
                    tf = ((lambda tx=tx: F.max_pool2d(tx, 3, 2, 1)) if alg == "max" else
                          (lambda tx=tx: F.avg_pool2d(tx, 3, 2, 1, count_include_pad=True)))
                yield Case(f"pooling_{alg} 3x3s2p1 {fmt}" + (" (ResNet-50)" if n == 1 else ""),
                           "x".join(map(str, shape)), dnnl.pooling_forward(pd),
                           {dnnl.ARG_SRC: src, dnnl.ARG_DST: dst}, nbytes, tf)


ELTWISE = {"relu": ("eltwise_relu", 0.0, 0.0, lambda t: torch.relu(t)),
           "gelu_erf": ("eltwise_gelu_erf", 0.0, 0.0, lambda t: F.gelu(t)),
           "exp": ("eltwise_exp", 0.0, 0.0, lambda t: torch.exp(t)),
           "tanh": ("eltwise_tanh", 0.0, 0.0, lambda t: torch.tanh(t)),
           "logistic": ("eltwise_logistic", 0.0, 0.0, lambda t: torch.sigmoid(t)),
           "swish": ("eltwise_swish", 1.0, 0.0, lambda t: F.silu(t)),
           "sqrt": ("eltwise_sqrt", 0.0, 0.0, lambda t: torch.sqrt(t)),
           "hardswish": ("eltwise_hardswish", 1 / 6, 0.5, lambda t: F.hardswish(t))}


def eltwise_cases(eng):
    shape = (64, 256, 256)  # 16 MB each way
    for name, (alg, alpha, beta, tfn) in ELTWISE.items():
        d = md(shape, dt.f32, tag.abc)
        pd = dnnl.eltwise_forward.primitive_desc(eng, dnnl.prop_kind.forward_inference,
                                                 getattr(dnnl.algorithm, alg), d, d, alpha, beta)
        src, x = filled(eng, d, 0.1 if name == "sqrt" else -3.0, 3.0)
        dst = dnnl.memory(d, eng)
        tf = None
        if torch is not None:
            tx = tensor(x)
            tf = lambda tx=tx, tfn=tfn: tfn(tx)  # noqa: E731
        yield Case(f"eltwise_{name}", "x".join(map(str, shape)), dnnl.eltwise_forward(pd),
                   {dnnl.ARG_SRC: src, dnnl.ARG_DST: dst}, 8 * x.size, tf)


def binary_cases(eng):
    for shape0, shape1 in (((64, 256, 256), (64, 256, 256)), ((8, 64, 112, 112), (1, 64, 1, 1))):
        t0 = tag.abc if len(shape0) == 3 else tag.nchw
        pd = dnnl.binary.primitive_desc(eng, dnnl.algorithm.binary_add, md(shape0, dt.f32, t0),
                                        md(shape1, dt.f32, t0), md(shape0, dt.f32, t0))
        a, x = filled(eng, pd.src_desc(0))
        b, y = filled(eng, pd.src_desc(1))
        dst = dnnl.memory(pd.dst_desc(), eng)
        tf = None
        if torch is not None:
            tx, ty = tensor(x), tensor(y)
            tf = lambda tx=tx, ty=ty: torch.add(tx, ty)  # noqa: E731
        yield Case("binary_add" + (" broadcast" if shape0 != shape1 else ""),
                   "x".join(map(str, shape0)) + ":" + "x".join(map(str, shape1)),
                   dnnl.binary(pd), {dnnl.ARG_SRC_0: a, dnnl.ARG_SRC_1: b, dnnl.ARG_DST: dst},
                   4 * (2 * x.size + y.size), tf)


def softmax_cases(eng):
    for shape, axis in (((4096, 1024), 1), ((32, 1000, 128), 1)):
        d = md(shape, dt.f32, tag.ab if len(shape) == 2 else tag.abc)
        pd = dnnl.softmax_forward.primitive_desc(eng, dnnl.prop_kind.forward_inference,
                                                 dnnl.algorithm.softmax_accurate, d, d, axis)
        src, x = filled(eng, d, -5.0, 5.0)
        dst = dnnl.memory(d, eng)
        tf = None
        if torch is not None:
            tx = tensor(x)
            tf = lambda tx=tx, axis=axis: torch.softmax(tx, axis)  # noqa: E731
        where = "last axis" if axis == len(shape) - 1 else f"axis {axis}"
        yield Case(f"softmax {where}", "x".join(map(str, shape)), dnnl.softmax_forward(pd),
                   {dnnl.ARG_SRC: src, dnnl.ARG_DST: dst}, 8 * x.size, tf)


def lnorm_cases(eng):
    flags = dnnl.normalization_flags.use_scale | dnnl.normalization_flags.use_shift
    for name, shape in (("(BERT)", (128, 768)), ("", (8192, 768))):
        d = md(shape, dt.f32, tag.ab)
        pd = dnnl.layer_normalization_forward.primitive_desc(
            eng, dnnl.prop_kind.forward_inference, d, d, 1e-5, flags)
        src, x = filled(eng, d)
        scale, g = filled(eng, md((shape[1],), dt.f32, tag.a))
        shift, b = filled(eng, md((shape[1],), dt.f32, tag.a))
        dst = dnnl.memory(d, eng)
        tf = None
        if torch is not None:
            tx, tg, tb = tensor(x), tensor(g), tensor(b)
            tf = lambda tx=tx, tg=tg, tb=tb: F.layer_norm(tx, tx.shape[-1:], tg, tb, 1e-5)  # noqa: E731
        yield Case(f"layer_normalization {name}".strip(), "x".join(map(str, shape)),
                   dnnl.layer_normalization_forward(pd),
                   {dnnl.ARG_SRC: src, dnnl.ARG_SCALE: scale, dnnl.ARG_SHIFT: shift,
                    dnnl.ARG_DST: dst}, 8 * x.size, tf)


def bnorm_cases(eng):
    F_ = dnnl.normalization_flags
    flags = F_.use_global_stats | F_.use_scale | F_.use_shift
    shape = (8, 64, 112, 112)
    for fmt, t in (("nchw", tag.nchw), ("nhwc", tag.nhwc)):
        d = md(shape, dt.f32, t)
        pd = dnnl.batch_normalization_forward.primitive_desc(
            eng, dnnl.prop_kind.forward_inference, d, d, 1e-5, flags)
        src, x = filled(eng, d)
        c = md((shape[1],), dt.f32, tag.a)
        (mean, m), (var, v) = filled(eng, c), filled(eng, c, 0.5, 2.0)
        (scale, g), (shift, b) = filled(eng, c), filled(eng, c)
        dst = dnnl.memory(d, eng)
        tf = None
        if torch is not None:
            tx = tensor(x, fmt == "nhwc")
            tm, tv, tg, tb = tensor(m), tensor(v), tensor(g), tensor(b)
            tf = lambda tx=tx, tm=tm, tv=tv, tg=tg, tb=tb: F.batch_norm(  # noqa: E731
                tx, tm, tv, tg, tb, training=False, eps=1e-5)
        yield Case(f"batch_normalization inference {fmt}", "x".join(map(str, shape)),
                   dnnl.batch_normalization_forward(pd),
                   {dnnl.ARG_SRC: src, dnnl.ARG_MEAN: mean, dnnl.ARG_VARIANCE: var,
                    dnnl.ARG_SCALE: scale, dnnl.ARG_SHIFT: shift, dnnl.ARG_DST: dst},
                   8 * x.size, tf)


def concat_cases(eng):
    for axis, shapes in ((1, [(8, 64, 56, 56), (8, 128, 56, 56)]), (0, [(2048, 1024)] * 2)):
        t = tag.nchw if len(shapes[0]) == 4 else tag.ab
        mds = [md(s, dt.f32, t) for s in shapes]
        pd = dnnl.concat.primitive_desc(eng, axis, mds)
        srcs = [filled(eng, m) for m in mds]
        args = {dnnl.ARG_MULTIPLE_SRC + i: mem for i, (mem, _) in enumerate(srcs)}
        args[dnnl.ARG_DST] = dnnl.memory(pd.dst_desc(), eng)
        total = sum(x.size for _, x in srcs)
        tf = None
        if torch is not None:
            ts = [tensor(x) for _, x in srcs]
            tf = lambda ts=ts, axis=axis: torch.cat(ts, axis)  # noqa: E731
        yield Case(f"concat axis {axis}", " + ".join("x".join(map(str, s)) for s in shapes),
                   dnnl.concat(pd), args, 8 * total, tf)


CASES = (pool_cases, eltwise_cases, binary_cases, softmax_cases, lnorm_cases, bnorm_cases,
         concat_cases)


def measure(case, strm, runs: int) -> tuple:
    """(dnnl_py GB/s, copy GB/s, torch GB/s or None) of one case, best of `runs`."""
    # the copy of the same byte count: half read, half written
    half = case.nbytes // 8
    a, b = np.ones(half, np.float32), np.empty(half, np.float32)

    def run():
        case.prim.execute(strm, case.args)
        strm.wait()
    fns = [lambda: np.copyto(b, a), run]
    if case.torch_fn is not None:
        fns.append(case.torch_fn)
    with torch.no_grad() if torch is not None else contextlib.nullcontext():
        t_copy, t, *t_torch = best(fns, runs)
    return (case.nbytes / t / 1e9, 8 * half / t_copy / 1e9,
            case.nbytes / t_torch[0] / 1e9 if t_torch else None)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=15, help="best of this many runs")
    ap.add_argument("--repeat", type=int, default=1,
                    help="measure the whole table this many times, minutes apart, and print "
                         "each row's median (and the range of its torch ratio)")
    ap.add_argument("--only", default="", help="rows whose kind contains this")
    args = ap.parse_args()
    if torch is not None:
        torch.set_num_threads(THREADS)
    eng = dnnl.engine(dnnl.engine.kind.cpu, 0)
    strm = dnnl.stream(eng)
    print(f"threads: dnnl_py {max_threads()}, torch "
          f"{torch.get_num_threads() if torch is not None else '-'}; best of {args.runs}"
          + (f", median of {args.repeat} tables" if args.repeat > 1 else "") + "\n")
    cols = ["kind", "shape", "MB moved", "dnnl_py GB/s", "% of copy"]
    if torch is not None:
        cols += ["torch GB/s", "dnnl_py / torch"]
    rows = {}  # (kind, shape) -> [(gbs, copy, torch)] over the repeats
    for rep in range(args.repeat):
        for make in CASES:
            for case in make(eng):
                if args.only in case.kind:
                    rows.setdefault((case.kind, case.shape, case.nbytes), []).append(
                        measure(case, strm, args.runs))
        print(f"table {rep + 1} of {args.repeat} measured", file=sys.stderr, flush=True)
    print("| " + " | ".join(cols) + " |")
    print("|" + "|".join(["---", "---"] + ["---:"] * (len(cols) - 2)) + "|")
    for (kind, shape, nbytes), results in rows.items():
        gbs = statistics.median(r[0] for r in results)
        pct = statistics.median(100 * r[0] / r[1] for r in results)
        row = [kind, shape, f"{nbytes / 1e6:.1f}", f"{gbs:.1f}", f"{pct:.0f}%"]
        if results[0][2] is not None:
            ratios = [r[0] / r[2] for r in results]
            spread = f" ({min(ratios):.2f}-{max(ratios):.2f})" if len(ratios) > 1 else ""
            row += [f"{statistics.median(r[2] for r in results):.1f}",
                    f"{statistics.median(ratios):.2f}x{spread}"]
        print("| " + " | ".join(row) + " |", flush=True)


if __name__ == "__main__":
    main()
