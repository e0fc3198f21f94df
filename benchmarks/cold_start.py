"""Cold start: the wall time of a fresh process that imports dnnl_py and gets one
convolution result (64->96 channels, 3x3, 28x28, minibatch 1), against a process that only
imports numpy. Processes alternate (numpy, dnnl_py, numpy, ...) so that both meet the same
machine load; the figures are medians. Each dnnl_py process also times its own steps:
import, engine, primitive descriptor, primitive, first execute; a third process per round
executes twice, for what the first execution costs beyond a later one.

    PYTHONPATH=. .venv/bin/python benchmarks/cold_start.py [--runs=N] [--importtime]
        [--before=DIR]

--importtime adds the ten slowest modules of `import dnnl_py` (python -X importtime,
cumulative, median over the runs) and the modules beyond numpy's it loads.
--before=DIR times the dnnl_py built in DIR (another checkout, e.g. `git archive` of an
older commit built in place) in the same alternation, for a before/after on equal load.
"""
from __future__ import annotations

import ast
import compileall
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

BASELINE = "import numpy"

# One fresh process's way to a convolution result, timed step by step: step(name) ends
# the step called `name`. The input data is made outside the steps, without
# numpy.random (whose import, ~10 ms, is not the library's cost).
CHILD = r"""
import sys, time
marks = [("start", time.perf_counter())]
step = lambda name: marks.append((name, time.perf_counter()))
import numpy as np
step("import numpy")
import dnnl_py as dnnl
step("import dnnl_py")
eng = dnnl.engine(dnnl.engine.kind.cpu, 0)
strm = dnnl.stream(eng)
step("engine + stream")
dt, tag, md = dnnl.memory.data_type, dnnl.memory.format_tag, dnnl.memory.desc
src_md, wei_md = md([1, 64, 28, 28], dt.f32, tag.nchw), md([96, 64, 3, 3], dt.f32, tag.oihw)
dst_md = md([1, 96, 28, 28], dt.f32, tag.nchw)
pd = dnnl.convolution_forward.primitive_desc(
    eng, dnnl.prop_kind.forward_inference, dnnl.algorithm.convolution_direct, src_md, wei_md,
    None, dst_md, [1, 1], [1, 1], [1, 1])
step("primitive_desc")
conv = dnnl.convolution_forward(pd)
step("primitive")
x = (np.arange(64 * 28 * 28, dtype=np.float32).reshape(1, 64, 28, 28) % 7 - 3) / 4
w = (np.arange(96 * 64 * 9, dtype=np.float32).reshape(96, 64, 3, 3) % 5 - 2) / 8
y = np.empty((1, 96, 28, 28), np.float32)
step("(input data)")
args = {dnnl.ARG_SRC: dnnl.memory(src_md, eng, x), dnnl.ARG_WEIGHTS: dnnl.memory(wei_md, eng, w),
        dnnl.ARG_DST: dnnl.memory(dst_md, eng, y)}
step("memories")
conv.execute(strm, args)
strm.wait()
step("first execute")
if "again" in sys.argv:  # not in the process whose wall time is the result
    conv.execute(strm, args)
    strm.wait()
    step("second execute")
assert np.isfinite(y).all() and y.any()
steps = {name: t - marks[i][1] for i, (name, t) in enumerate(marks[1:])}
# repr, not json: json's import is not the library's cost
print(repr({**steps, "modules": sorted(m for m in sys.modules if not m.startswith("_"))}))
"""

STEPS = ["import numpy", "import dnnl_py", "engine + stream", "primitive_desc", "primitive",
         "(input data)", "memories", "first execute"]


def wall(code: str, *flags: str, root: str = ROOT,
         args: tuple = ()) -> tuple[float, subprocess.CompletedProcess]:
    """Seconds a fresh `python -c code` takes, start to exit, with dnnl_py from `root`."""
    env = {**os.environ, "PYTHONPATH": root}
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, *flags, "-c", code, *args], capture_output=True,
                         text=True, env=env, cwd=root)
    seconds = time.perf_counter() - t0
    if out.returncode:
        sys.exit(f"cold_start: child failed ({out.returncode}):\n{out.stderr}")
    return seconds, out


def import_times(runs: int) -> list[tuple[float, str]]:
    """(median cumulative microseconds, module) of `import dnnl_py`, slowest first."""
    per_module: dict[str, list[int]] = {}
    for _ in range(runs):
        _, out = wall("import numpy; import dnnl_py", "-X", "importtime")
        seen_numpy = False
        for line in out.stderr.splitlines():
            if not line.startswith("import time:") or "|" not in line[12:]:
                continue
            _self, cumulative, name = line[12:].split("|")
            if not cumulative.strip().isdigit():
                continue
            name = name.rstrip()
            if name.strip() == "numpy" and not seen_numpy:  # numpy's own share is the baseline
                seen_numpy = True
                continue
            if seen_numpy:
                per_module.setdefault(name, []).append(int(cumulative))
    return sorted(((statistics.median(v), k) for k, v in per_module.items()), reverse=True)


def main(argv: list[str]) -> int:
    runs, roots = 15, {"this tree": ROOT}
    for arg in argv:
        if arg.startswith("--runs="):
            runs = int(arg[len("--runs="):])
        elif arg.startswith("--before="):
            roots = {"before": os.path.abspath(arg[len("--before="):]), **roots}
        elif arg != "--importtime":
            sys.exit(__doc__)
    # numpy's modules are read from bytecode that pip compiled; so are an installed
    # dnnl_py's. Compile a checkout's too, even under PYTHONDONTWRITEBYTECODE.
    for root in roots.values():
        compileall.compile_dir(os.path.join(root, "dnnl_py"), quiet=1)
    wall(BASELINE)  # warm the page cache before timing
    for root in roots.values():
        wall(CHILD, root=root)
    baseline: list[float] = []
    whole: dict[str, list[float]] = {name: [] for name in roots}
    steps: dict[str, dict[str, list[float]]] = {
        name: {s: [] for s in [*STEPS, "second execute", "first's extra"]} for name in roots}
    modules: list[str] = []
    for _ in range(runs):
        baseline.append(wall(BASELINE)[0])
        for name, root in roots.items():
            seconds, out = wall(CHILD, root=root)
            whole[name].append(seconds)
            record = ast.literal_eval(out.stdout.strip().splitlines()[-1])
            modules = record.pop("modules")
            for s in STEPS:
                steps[name][s].append(record[s])
            _, out = wall(CHILD, root=root, args=("again",))
            record = ast.literal_eval(out.stdout.strip().splitlines()[-1])
            steps[name]["second execute"].append(record["second execute"])
            steps[name]["first's extra"].append(record["first execute"]
                                                - record["second execute"])
    base_ms = statistics.median(baseline) * 1e3
    print(f"cold start, {runs} alternated fresh processes each, medians ({sys.executable}):")
    print(f"  python -c '{BASELINE}'{'':27s}{base_ms:8.1f} ms")
    for name in roots:
        ms = statistics.median(whole[name]) * 1e3
        print(f"  import dnnl_py, one conv result ({name:9s}) {ms:8.1f} ms   "
              f"ratio {ms / base_ms:.2f}x")
    print("  steps inside the dnnl_py process (median ms):")
    print(f"    {'':18s}" + "".join(f"{name:>11s}" for name in roots))
    for s in STEPS:
        print(f"    {s:18s}" + "".join(f"{statistics.median(steps[name][s]) * 1e3:11.2f}"
                                      for name in roots))
    print("  a process that executes twice (median ms; 'first's extra' is first - second):")
    for s in ("second execute", "first's extra"):
        print(f"    {s:18s}" + "".join(f"{statistics.median(steps[name][s]) * 1e3:11.2f}"
                                      for name in roots))
    if "--importtime" in argv:
        print("  slowest modules of `import dnnl_py` beyond numpy (python -X importtime, "
              "cumulative, median ms):")
        for us, name in import_times(max(3, runs // 3))[:10]:
            print(f"    {us / 1e3:8.2f}  {name}")
        _, out = wall("import sys, numpy; print(' '.join(sys.modules))")
        extra = sorted({m.split(".")[0] for m in modules}
                       - {m.split(".")[0] for m in out.stdout.split()} - {"dnnl_py"})
        print(f"  top-level modules a conv loads beyond numpy's: {', '.join(extra)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
