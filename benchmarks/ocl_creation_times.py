"""OpenCL engine and primitive creation on PoCL, in fresh processes with PoCL's kernel
cache and pyopencl's program cache off (so that a miss costs what it costs): the engine
from scratch vs from its blob; conv res4a_branch2b (mb1) and matmul 1024^3 creation plus
first execution from scratch vs from a blob vs a primitive-cache hit, and the start-up
cost: creation plus the first execution's excess over a later one. From scratch twice,
processes alternating: programs built in the build worker (the default) and in this
process (DNNL_PY_OCL_BUILD_ISOLATION=0), each with the time get_cache_blob() then takes
(the worker hands the binary over; in-process, PoCL compiles every kernel again to read
it). Medians of 3.

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
    (where / "engine").write_bytes(timed("engine_blob",
                                         lambda: dnnl.ocl_interop.get_engine_cache_blob(eng)))
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
        (where / kind).write_bytes(timed(kind + "_blob", prim.get_cache_blob))
    again = make_pd(eng)
    timed(kind + "_hit", lambda: cls(again))
print(json.dumps(out))
"""


def child(where, mode):
    env = {**os.environ, "PYTHONPATH": ROOT, "POCL_KERNEL_CACHE": "0", "PYOPENCL_NO_CACHE": "1",
           "DNNL_PY_OCL_BUILD_ISOLATION": "0" if mode == "in-process" else "1"}
    out = subprocess.run([sys.executable, "-c", CHILD, where, "blob" if mode == "blob" else "",
                          os.path.join(ROOT, "benchmarks")],
                         capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    runs = {"isolated": [], "in-process": [], "blob": []}
    with tempfile.TemporaryDirectory() as where:
        for _ in range(RUNS):
            for mode in ("isolated", "in-process"):
                runs[mode].append(child(where, mode))
        runs["blob"] = [child(where, "blob") for _ in range(RUNS)]
    med = {mode: {k: statistics.median(r[k] for r in rs) for k in rs[0]}
           for mode, rs in runs.items()}
    iso, inp, b = med["isolated"], med["in-process"], med["blob"]
    print("creation from scratch, ms: in-process | + its cache blob | isolated (blob included) "
          "| isolated / in-process, / in-process with blob | from blob")
    for what in ("engine", "conv", "matmul"):
        with_blob = inp[what] + inp[what + "_blob"]
        print(f"{what:7s} {inp[what] * 1e3:7.1f} | {with_blob * 1e3:7.1f} | "
              f"{(iso[what] + iso[what + '_blob']) * 1e3:7.1f} | {iso[what] / inp[what]:4.2f}x, "
              f"{(iso[what] + iso[what + '_blob']) / with_blob:4.2f}x | {b[what] * 1e3:6.2f}")
    for kind in ("conv", "matmul"):
        # start-up cost: creation plus what the first execution takes beyond a later one
        start = {m: r[kind] + r[kind + "_first"] - r[kind + "_second"] for m, r in med.items()}
        ms = {m: f"{v * 1e3:.1f} ms" for m, v in start.items()}
        print(f"{kind:7s} start-up beyond a later execution: isolated {ms['isolated']}, "
              f"in-process {ms['in-process']}, from blob {ms['blob']}; primitive-cache hit "
              f"{b[kind + '_hit'] * 1e6:.1f} us; a later execution "
              f"{b[kind + '_second'] * 1e3:.1f} ms")

if __name__ == "__main__":
    main()
