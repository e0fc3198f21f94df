"""Each step of a compiled model's run loop, timed in the loop (ONEDNN_VERBOSE=1's exec
lines, medians over the runs), for the convolution algorithms the model layer may ask
for (dnnl_py/model/compile.py's CONV_ALGORITHM), each in a fresh process:

    PYTHONPATH=. .venv/bin/python benchmarks/model_layers.py MODEL.onnx \
        [--algs convolution_auto,convolution_direct] [--runs 30] [--all]

Prints the steps whose problem matches --match (default: the 3x3 convolutions), with
their implementation, then each algorithm's sum over all steps. The networks of
benchmarks/model_start.py are exported there (e.g. --dir /tmp/models).
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys

CHILD = """
import numpy as np
import dnnl_py as dnnl
from dnnl_py.model import compile as model_compile
model_compile.CONV_ALGORITHM = dnnl.algorithm.{alg}
c = dnnl.Core().compile_model({path!r}, "CPU")
x = np.random.default_rng(0).standard_normal(c.inputs[0].shape).astype(np.float32)
for _ in range(5):
    c([x])
print("MARK", flush=True)
for _ in range({runs}):
    c([x])
"""


def steps(path: str, alg: str, runs: int) -> list:
    """[(median ms, implementation, problem)] per step of the run loop, in order."""
    env = dict(os.environ, ONEDNN_VERBOSE="1")
    out = subprocess.run([sys.executable, "-c", CHILD.format(alg=alg, path=path, runs=runs)],
                         env=env, capture_output=True, text=True, check=True).stdout
    lines = [line.split(",") for line in out.split("MARK")[1].splitlines() if ",exec," in line]
    per = len(lines) // runs
    if per * runs != len(lines):
        raise SystemExit(f"{alg}: {len(lines)} exec lines for {runs} runs")
    return [(statistics.median(float(f[-1]) for f in lines[k::per]), f0[4], f0[-2])
            for k, f0 in enumerate(lines[:per])]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("--algs", default="convolution_auto,convolution_direct")
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--match", default="kh3", help="steps whose problem contains this")
    ap.add_argument("--all", action="store_true", help="print every step")
    args = ap.parse_args()
    for alg in args.algs.split(","):
        found = steps(args.model, alg, args.runs)
        print(f"## {alg}")
        for ms, impl, prb in found:
            if args.all or args.match in prb:
                print(f"{ms:7.3f} {impl:26s} {prb}")
        print(f"sum of the steps: {sum(ms for ms, _, _ in found):.2f} ms")


if __name__ == "__main__":
    main()
