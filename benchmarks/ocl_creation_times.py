"""OpenCL engine and primitive creation on PoCL, in fresh processes with PoCL's kernel
cache and pyopencl's program cache off (so that a miss costs what it costs): the engine
from scratch vs from its blob; conv res4a_branch2b (mb1) and matmul 1024^3 creation plus
first execution from scratch vs from a blob vs a primitive-cache hit, and the start-up
cost: creation plus the first execution's excess over a later one. Medians of 3.

    PYTHONPATH=. .venv/bin/python benchmarks/ocl_creation_times.py
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNS = 3

CHILD = r"""
import json, pathlib, sys, time
import numpy as np, pyopencl as cl
t0 = time.perf_counter()
device = cl.get_platforms()[0].get_devices()[0]
ctx = cl.Context([device])
platform_s = time.perf_counter() - t0
import dnnl_py as dnnl
sys.path.insert(0, sys.argv[3])
from bench_creation import conv_pd, matmul_pd
where = pathlib.Path(sys.argv[1]); use_blobs = sys.argv[2] == "blob"
out = {}

def timed(name, fn):
    t = time.perf_counter(); value = fn(); out[name] = time.perf_counter() - t
    return value

blob_of = lambda name: (where / name).read_bytes() if use_blobs else None
eng = timed("engine", lambda: dnnl.ocl_interop.make_engine(device, ctx, blob_of("engine")))
if not use_blobs:
    (where / "engine").write_bytes(dnnl.ocl_interop.get_engine_cache_blob(eng))
strm = dnnl.stream(eng)
for kind, make_pd, cls in (("conv", conv_pd, dnnl.convolution_forward),
                           ("matmul", matmul_pd, dnnl.matmul)):
    pd = make_pd(eng)
    args = {arg: dnnl.memory(pd.query_md(arg), eng) for arg in
            (dnnl.ARG_SRC, dnnl.ARG_WEIGHTS, dnnl.ARG_DST)}
    prim = timed(kind, lambda: cls(pd, blob_of(kind)))
    for run in ("first", "second"):  # the first pays PoCL's lazy work, if any is left
        timed(f"{kind}_{run}", lambda: (prim.execute(strm, args), strm.wait()))
    if not use_blobs:
        (where / kind).write_bytes(prim.get_cache_blob())
    again = make_pd(eng)
    timed(kind + "_hit", lambda: cls(again))
print(json.dumps(out))
"""


def child(where, mode):
    env = {**os.environ, "PYTHONPATH": ROOT, "POCL_KERNEL_CACHE": "0", "PYOPENCL_NO_CACHE": "1"}
    out = subprocess.run([sys.executable, "-c", CHILD, where, mode,
                          os.path.join(ROOT, "benchmarks")],
                         capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    with tempfile.TemporaryDirectory() as where:
        scratch = [child(where, "scratch") for _ in range(RUNS)]
        blobs = [child(where, "blob") for _ in range(RUNS)]
    med = {mode: {k: statistics.median(r[k] for r in runs) for k in runs[0]}
           for mode, runs in (("scratch", scratch), ("blob", blobs))}
    s, b = med["scratch"], med["blob"]
    print(f"engine   from scratch {s['engine'] * 1e3:8.1f} ms   from blob "
          f"{b['engine'] * 1e3:7.2f} ms ({s['engine'] / b['engine']:5.0f}x)")
    for kind in ("conv", "matmul"):
        # start-up cost: creation plus what the first execution takes beyond a later one
        start = {m: r[kind] + r[kind + "_first"] - r[kind + "_second"] for m, r in med.items()}
        print(f"{kind:7s} creation: from scratch {s[kind] * 1e3:7.1f} ms, from blob "
              f"{b[kind] * 1e3:6.2f} ms, primitive-cache hit {b[kind + '_hit'] * 1e6:5.1f} us; "
              f"first execution {s[kind + '_first'] * 1e3:6.1f} / {b[kind + '_first'] * 1e3:6.1f}"
              f" ms, later {b[kind + '_second'] * 1e3:6.1f} ms")
        print(f"{'':7s} creation + first execution {s[kind] * 1e3 + s[kind + '_first'] * 1e3:7.1f}"
              f" ms vs {b[kind] * 1e3 + b[kind + '_first'] * 1e3:6.1f} ms; start-up beyond a "
              f"later execution {start['scratch'] * 1e3:7.1f} ms vs {start['blob'] * 1e3:5.2f} ms"
              f" ({start['scratch'] / start['blob']:4.0f}x)")

if __name__ == "__main__":
    main()
