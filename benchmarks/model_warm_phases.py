"""Where a warm start's time goes, phase by phase, for one or more source trees of
dnnl_py run interleaved (e.g. main against a branch, on the same loaded machine):

    PYTHONPATH=. .venv/bin/python benchmarks/model_warm_phases.py \
        --roots /path/to/main,. --models resnet50,bert4 [--runs 10] [--dir DIR]

Each run is a fresh process, spawned with the tree on its PYTHONPATH, that reads the
model from its path and compiles it from a warm CACHE_DIR (primed once per tree; each
tree has its own entries), then runs it once. It reports, as median / min ms: the
interpreter's start (from before the spawn), `import numpy`, `import dnnl_py`, the
model layer's import (`Core()`), read_model, compile_model from the cache and, inside
it, the entry's unpacking (the index's sha256 and the weights' CRC-32C), the plan and
the wait for the model's digest where the tree has them; the first inference; the
process start to the first output; and the CPU time of the whole process (every thread)
up to the compiled model and up to the first output, the figures that the machine's
other load moves least. The networks are benchmarks/model_start.py's, exported there
into DIR. Give each tree its bytecode first (`python -m compileall -q TREE/dnnl_py`):
without it a tree pays for compiling its sources in every process.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def child(path: str, cache: str) -> None:
    """One warm start; prints a JSON list of (phase, seconds since the epoch)."""
    marks = [("start", time.time())]
    inner: list = []

    def mark(name: str) -> None:
        marks.append((name, time.time()))
    import numpy as np
    mark("numpy")
    import dnnl_py as dnnl
    mark("dnnl_py")
    core = dnnl.Core()
    mark("model layer")
    from dnnl_py.model import cache as entry_format
    from dnnl_py.model import core as core_module

    def timed(module, name: str, label: str) -> None:
        real = getattr(module, name, None)
        if real is None:
            return

        def wrapper(*args, **kwargs):
            t = time.time()
            try:
                return real(*args, **kwargs)
            finally:
                inner.append((label, time.time() - t))
        setattr(module, name, wrapper)
    timed(entry_format, "unpack", "entry check")
    timed(core_module, "plan", "plan")
    model = core.read_model(path)
    mark("read")
    pending = getattr(model, "pending_digest", None)
    if pending is not None:  # trees that hash in the background: the wait for it
        def waited():
            t = time.time()
            try:
                return pending()
            finally:
                inner.append(("digest wait", time.time() - t))
        model.pending_digest = waited
    compiled = core.compile_model(model, "CPU", {"CACHE_DIR": cache})
    if not compiled.get_property("LOADED_FROM_CACHE"):
        raise SystemExit("the warm start missed the cache")
    mark("compile")
    cpu_compiled = time.process_time()
    x = np.zeros(compiled.inputs[0].shape, np.float32)
    compiled([x])
    mark("first inference")
    print(json.dumps({"marks": marks, "inner": inner, "cpu_compiled": cpu_compiled,
                      "cpu_first_output": time.process_time()}))


def _run(root: str, args: list) -> str:
    env = dict(os.environ, PYTHONPATH=root)
    res = subprocess.run([sys.executable, os.path.abspath(__file__), *args],
                         capture_output=True, text=True, env=env, cwd=root, check=False)
    if res.returncode:
        raise SystemExit(f"child in {root} failed:\n{res.stderr}")
    return res.stdout


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--roots", default=".", help="comma-separated source trees")
    ap.add_argument("--models", default="resnet50,bert4")
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--dir", default="/tmp/dnnl_py_models")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(*args.child)
        return 0
    sys.path.insert(0, HERE)
    from model_start import export
    paths = export(args.dir)
    roots = [os.path.abspath(r) for r in args.roots.split(",")]
    for name in args.models.split(","):
        caches = {r: os.path.join(args.dir, f"phases-{name}-{i}") for i, r in enumerate(roots)}
        for r in roots:  # an entry of the tree's own making (its key has its code in it)
            _prime(r, paths[name], caches[r])
        rows: dict = {r: [] for r in roots}
        for _ in range(args.runs):
            for r in roots:  # interleaved: the machine's load falls on every tree alike
                t = time.time()
                out = json.loads(_run(r, ["--child", paths[name], caches[r]]).splitlines()[-1])
                row, prev = {}, t
                for phase, at in out["marks"]:
                    row[phase] = (at - prev) * 1e3
                    prev = at
                for phase, took in out["inner"]:
                    row[phase] = row.get(phase, 0.0) + took * 1e3
                row["start to first output"] = (prev - t) * 1e3
                row["CPU to compiled"] = out["cpu_compiled"] * 1e3
                row["CPU to first output"] = out["cpu_first_output"] * 1e3
                rows[r].append(row)
        print(f"\n{name} warm start ({args.runs} fresh processes per tree, interleaved; "
              "median / min ms)")
        print("| phase | " + " | ".join(os.path.relpath(r, ROOT) for r in roots) + " |")
        print("|---" * (len(roots) + 1) + "|")
        phases = list(dict.fromkeys(p for r in roots for row in rows[r] for p in row))
        for phase in phases:
            cells = []
            for r in roots:
                v = [row[phase] for row in rows[r] if phase in row]
                cells.append(f"{statistics.median(v):.1f} / {min(v):.1f}" if v else "-")
            print(f"| {phase} | " + " | ".join(cells) + " |")
    return 0


def _prime(root: str, path: str, cache: str) -> None:
    code = ("import sys, dnnl_py as d\n"
            "d.Core().compile_model(sys.argv[1], 'CPU', {'CACHE_DIR': sys.argv[2]})")
    env = dict(os.environ, PYTHONPATH=root)
    subprocess.run([sys.executable, "-c", code, path, cache], env=env, cwd=root, check=True)


if __name__ == "__main__":
    sys.exit(main())
