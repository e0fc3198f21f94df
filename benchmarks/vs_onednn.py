"""dnnl_py against oneDNN 3.2 itself on the kernels that matter: ResNet-50's convolutions,
square and BERT-sized matmuls, attention's batched small matmuls.

oneDNN is a benchmark reference only, never a dependency: `make bench-onednn` installs
its wheels into build/onednn (PyPI onednn-cpu-gomp and onednn-devel-cpu-gomp 2023.2.0;
the newer `onednn` wheel is a SYCL build whose CPU engine fails on our machines) and
runs this script, which builds benchmarks/onednn_ref/bench.c against them:

    make bench-onednn                      # or:
    python benchmarks/vs_onednn.py --onednn-prefix build/onednn [--mb32] [--rounds 3]

Both sides: format_tag any, inputs reordered once, best of 20 executes after a warm-up,
OMP_NUM_THREADS threads (2 by default), each side in a process of its own, the two
alternating round after round (the machine is shared: a slow spell hits both), the
best of the rounds kept. Prints a Markdown table of GFLOP/s and dnnl_py / oneDNN.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # dnnl_py from this checkout, as the worker processes get it
BENCH_C = ROOT / "benchmarks" / "onednn_ref" / "bench.c"
REPS = 20  # executes timed per problem and round, after one warm-up

# The problems: seven ResNet-50 layers (one per distinct shape class) ...
RESNET_LAYERS = ("conv1", "res2a_branch2b", "res3a_branch2a", "res3a_branch2b",
                 "res4a_branch2b", "res4a_branch2c", "res5a_branch2b",
                 # the other unstrided 1x1 shapes (res2a_branch2c is res2a_branch1)
                 "res2a_branch2a", "res2a_branch1", "res2b_branch2a", "res3a_branch2c",
                 "res5a_branch2c")
# ... and matmuls: square, BERT's FFN-like, attention's batched QK^T and softmax . V.
MATMULS = {"matmul:256^3": "256x256:256x256", "matmul:1024^3": "1024x1024:1024x1024",
           "matmul:128x768x3072": "128x768:768x3072",
           "matmul:384x1024x1024": "384x1024:1024x1024",
           "bmm:12x128x64x128": "12x128x64:12x64x128",
           "bmm:12x128x128x64": "12x128x128:12x128x64"}


def problems(mb32: bool = False) -> dict:
    """{key: (driver name, problem)} in the order they run."""
    from dnnl_py.benchdnn.cli import INPUTS
    from dnnl_py.benchdnn.problems import parse_conv, parse_matmul, read_batch

    layers = {p.name.split(":")[1].split("*")[0]: p
              for p in read_batch(INPUTS / "shapes_resnet_50", parse_conv)}
    out = {}
    for mb in (1, 32) if mb32 else (1,):
        for name in RESNET_LAYERS:
            out[f"conv mb{mb}:{name}"] = ("conv", layers[name].with_mb(mb))
    for key, text in MATMULS.items():
        out[key] = ("matmul", parse_matmul(text))
    return out


def onednn_spec(key: str, kind: str, p) -> str:
    """bench.c's argument for a problem (see its header)."""
    name = key.replace(" ", "_").replace(",", "_")
    if kind == "conv":
        if p.ndims_spatial != 2 or p.g != 1 or any(p.d):
            raise ValueError(f"{key}: bench.c takes dense 2D convolutions without groups")
        nums = (p.mb, p.ic, *p.i[1:], p.oc, *p.o[1:], *p.k[1:], *p.s[1:], *p.p[1:], *p.pr[1:])
    else:
        if len(p.src) > 3 or p.src[:-2] != p.weights[:-2]:
            raise ValueError(f"{key}: bench.c takes 2D or equal-batch 3D matmuls")
        nums = (p.src[0] if len(p.src) == 3 else 0, p.src[-2], p.weights[-1], p.src[-1])
    return ",".join([kind, name, *map(str, nums)])


def build(prefix: Path) -> Path:
    """bench.c compiled against the wheels' headers and library (rebuilt when older than
    its source)."""
    include, lib = prefix / "include", prefix / "lib"
    if not (include / "oneapi" / "dnnl" / "dnnl.h").exists() or not any(lib.glob("libdnnl.so*")):
        sys.exit(f"vs_onednn: no oneDNN under {prefix} (expected include/oneapi/dnnl/dnnl.h and "
                 "lib/libdnnl.so; `make bench-onednn` installs them into build/onednn)")
    exe = ROOT / "build" / "onednn_ref" / "bench"
    if not exe.exists() or exe.stat().st_mtime < BENCH_C.stat().st_mtime:
        exe.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([os.environ.get("CC", "cc"), "-O2", "-std=gnu11", "-Wall", f"-I{include}",
                        str(BENCH_C), f"-L{lib}", "-ldnnl", f"-Wl,-rpath,{lib.resolve()}",
                        "-o", str(exe)], check=True)
    return exe


def time_dnnl_py(items: list) -> None:
    """The worker: each (key, kind, problem) timed as bench.c times it, one JSON line each."""
    import dnnl_py as dnnl
    from dnnl_py.benchdnn.drivers import DRIVERS, to_memory
    from dnnl_py.benchdnn.options import Setup

    eng = dnnl.engine(dnnl.engine.kind.cpu, 0)
    strm = dnnl.stream(eng)
    for key, kind, p in items:
        driver = DRIVERS[kind]
        # forward inference without bias, as bench.c creates oneDNN's
        pd = driver.pd(eng, p, Setup(dir="FWD_I"))
        dims = driver.dims(p)
        rng = __import__("numpy").random.default_rng(17)
        args = {dnnl.ARG_SRC: to_memory(eng, strm, rng.uniform(-1, 1, dims["src"]),
                                        pd.src_desc()),
                dnnl.ARG_WEIGHTS: to_memory(eng, strm, rng.uniform(-1, 1, dims["weights"]),
                                            pd.weights_desc()),
                dnnl.ARG_DST: dnnl.memory(pd.dst_desc(), eng)}
        prim = driver.primitive(pd)
        best = math.inf
        for r in range(REPS + 1):
            t0 = time.perf_counter()
            prim.execute(strm, args)
            strm.wait()
            if r:  # r == 0: the warm-up
                best = min(best, (time.perf_counter() - t0) * 1e3)
        print(json.dumps({"kind": kind, "name": key, "impl": pd.impl_info_str(), "ms": best}),
              flush=True)


def run_side(side: str, keys: list, exe: Path = None, env: dict = None) -> dict:
    """{key: (ms, impl)} from one process of `side` ("onednn" or "dnnl_py") timing `keys`."""
    probs = problems(mb32=any("mb32" in k for k in keys))
    if side == "onednn":
        cmd = [str(exe)] + [onednn_spec(k, *probs[k]) for k in keys]
    else:
        cmd = [sys.executable, __file__, "--worker", *keys]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    if done.returncode:
        sys.exit(f"vs_onednn: {side} failed:\n{done.stderr[-3000:]}")
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    by_name = {r["name"]: (r["ms"], r["impl"]) for r in rows}
    # bench.c names its problems with spaces made underscores
    return {k: by_name.get(k, by_name.get(k.replace(" ", "_"))) for k in keys}


def environment(threads: int) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def measure(keys: list, exe: Path, rounds: int, threads: int) -> dict:
    """{side: {key: (best ms, impl)}}: the sides alternate, each round starting with the
    one that went second before."""
    env = environment(threads)
    best = {"onednn": {}, "dnnl_py": {}}
    for r in range(rounds):
        for side in (("onednn", "dnnl_py") if r % 2 == 0 else ("dnnl_py", "onednn")):
            for key, res in run_side(side, keys, exe, env).items():
                if key not in best[side] or res[0] < best[side][key][0]:
                    best[side][key] = res
    return best


def geomean(values: list) -> float:
    return math.exp(sum(map(math.log, values)) / len(values)) if values else math.nan


def table(keys: list, best: dict) -> str:
    probs = problems(mb32=any("mb32" in k for k in keys))
    lines = ["| problem | GFLOP | oneDNN 3.2 GF/s | oneDNN impl | dnnl_py GF/s | dnnl_py impl "
             "| dnnl_py / oneDNN |", "|---|---:|---:|---|---:|---|---:|"]
    ratios = {"conv": [], "matmul": [], "bmm": []}
    for key in keys:
        gflop = probs[key][1].flops / 1e9
        (ref_ms, ref_impl), (ms, impl) = best["onednn"][key], best["dnnl_py"][key]
        ratio = ref_ms / ms
        ratios[key.split(" ")[0].split(":")[0]].append(ratio)
        lines.append(f"| {key} | {gflop:.3g} | {gflop / ref_ms * 1e3:.1f} | {ref_impl} | "
                     f"{gflop / ms * 1e3:.1f} | {impl} | {ratio:.2f}x |")
    lines.append("")
    for family, rs in ratios.items():
        if rs:
            lines.append(f"- {family}: geomean {geomean(rs):.2f}x, lowest {min(rs):.2f}x "
                         f"({len(rs)} problems)")
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--onednn-prefix", type=Path, default=os.environ.get("ONEDNN_PREFIX"),
                    help="where the wheels put include/ and lib/ (default: $ONEDNN_PREFIX)")
    ap.add_argument("--mb32", action="store_true", help="add the convolutions at minibatch 32 "
                    "(slow: minutes on 2 cores)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--only", default="", help="keep the problems whose key contains this")
    ap.add_argument("--json", type=Path, help="also write the best times here")
    ap.add_argument("--worker", nargs="*", help=argparse.SUPPRESS)  # the dnnl_py side
    args = ap.parse_args(argv)
    if args.worker is not None:
        probs = problems(mb32=any("mb32" in k for k in args.worker))
        time_dnnl_py([(k, *probs[k]) for k in args.worker])
        return
    if args.onednn_prefix is None:
        ap.error("give --onednn-prefix or set ONEDNN_PREFIX")
    exe = build(args.onednn_prefix)
    keys = [k for k in problems(args.mb32) if args.only in k]
    best = measure(keys, exe, args.rounds, args.threads)
    print(f"{args.threads} threads, best of {REPS} executes x {args.rounds} alternating rounds")
    print(table(keys, best))
    if args.json:
        args.json.write_text(json.dumps(best, indent=1))


if __name__ == "__main__":
    main()
