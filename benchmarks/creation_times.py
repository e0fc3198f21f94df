"""Primitive creation in fresh processes: a tuned cache miss, from a cache blob, and a
primitive-cache hit (conv res4a_branch2b and matmul 1024^3); then ResNet-50's
convolutions created through the cache directory, in a first and a second process.

    PYTHONPATH=. .venv/bin/python benchmarks/creation_times.py
"""
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CHILD = r"""
import json, pathlib, sys, time
import dnnl_py as dnnl
from dnnl_py.benchdnn.problems import parse_conv, read_batch
dt, tag = dnnl.memory.data_type, dnnl.memory.format_tag
eng = dnnl.engine(dnnl.engine.kind.cpu, 0)
mode, blob_file = sys.argv[1], sys.argv[2]

def conv_pd(p, mb=1):
    md = dnnl.memory.desc
    return dnnl.convolution_forward.primitive_desc(
        eng, dnnl.prop_kind.forward_inference, dnnl.algorithm.convolution_direct,
        md([mb, p.ic, *p.i[1:]], dt.f32, tag.nhwc), md([p.oc, p.ic, *p.k[1:]], dt.f32, tag.any),
        None, md([mb, p.oc, *p.o[1:]], dt.f32, tag.nhwc), list(p.s[1:]), list(p.p[1:]),
        list(p.pr[1:]))

resnet = list(read_batch(pathlib.Path(sys.argv[3]), parse_conv))
if mode == "resnet":
    t0 = time.perf_counter()
    for p in resnet:
        dnnl.convolution_forward(conv_pd(p))
    print(json.dumps({"seconds": time.perf_counter() - t0, "n": len(resnet)}))
    sys.exit()
md = dnnl.memory.desc
pds = {"conv": lambda: conv_pd(next(p for p in resnet if "res4a_branch2b" in p.name)),
       "matmul": lambda: dnnl.matmul.primitive_desc(
           eng, md([1024, 1024], dt.f32, tag.ab), md([1024, 1024], dt.f32, tag.ab), None,
           md([1024, 1024], dt.f32, tag.ab))}
out = {}
for kind, make_pd in pds.items():
    pd = make_pd()
    prim_cls = dnnl.matmul if kind == "matmul" else dnnl.convolution_forward
    t0 = time.perf_counter()
    if mode == "miss":
        prim = prim_cls(pd)
        out[kind] = time.perf_counter() - t0
        pathlib.Path(blob_file + kind).write_bytes(prim.get_cache_blob())
    else:
        prim = prim_cls(pd, pathlib.Path(blob_file + kind).read_bytes())
        out[kind] = time.perf_counter() - t0
        again = make_pd()
        t0 = time.perf_counter()
        prim_cls(again)
        out[kind + "_hit"] = time.perf_counter() - t0
print(json.dumps(out))
"""


def child(args, **env):
    out = subprocess.run([sys.executable, "-c", CHILD, *args], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": ROOT, **env}, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    shapes = os.path.join(ROOT, "dnnl_py", "benchdnn", "inputs", "shapes_resnet_50")
    with tempfile.TemporaryDirectory() as tmp:
        blob_file = os.path.join(tmp, "blob-")
        miss = child(["miss", blob_file, shapes], DNNL_PY_CPU_TUNING="1")
        blob = child(["blob", blob_file, shapes], DNNL_PY_CPU_TUNING="1")
        for kind in ("conv", "matmul"):
            print(f"{kind:7s} tuned miss {miss[kind] * 1e3:9.2f} ms   from blob "
                  f"{blob[kind] * 1e3:7.3f} ms ({miss[kind] / blob[kind]:6.0f}x)   cache hit "
                  f"{blob[kind + '_hit'] * 1e6:6.1f} us")
        for tuned in ("0", "1"):
            cache_dir = os.path.join(tmp, "dir" + tuned)
            runs = [child(["resnet", blob_file, shapes], DNNL_PY_CACHE_DIR=cache_dir,
                          DNNL_PY_CPU_TUNING=tuned) for _ in range(2)]
            first, second = (r["seconds"] for r in runs)
            print(f"resnet_50 {runs[0]['n']} convs via cache dir, tuning {tuned}: first process "
                  f"{first * 1e3:8.1f} ms, second {second * 1e3:6.1f} ms ({first / second:.0f}x)")


if __name__ == "__main__":
    t0 = time.perf_counter()
    main()
    print(f"({time.perf_counter() - t0:.0f} s)")
