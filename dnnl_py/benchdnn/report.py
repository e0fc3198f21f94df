"""--report: the problems timed on every engine and against the installed references
(numpy: im2col convolution and numpy.matmul over its BLAS; torch in its own process), as
a Markdown table and PNG plots (GFLOP/s per problem; creation on a miss, a hit, a blob)."""
from __future__ import annotations

import datetime
import json
import os
import platform
import shlex
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Optional

import numpy as np

import dnnl_py as dnnl

from .run import Case, inputs, open_engine, perf
from .timing import time_runs

HERE = Path(__file__).resolve().parent


def _paths(target: str) -> tuple[Path, Path]:
    """(the Markdown file, the folder of its plots): DIR gives DIR/report.md and DIR/;
    FILE.md gives FILE.md and FILE/ beside it."""
    target = Path(target)
    if target.suffix == ".md":
        return target, target.with_suffix("")
    return target / "report.md", target


def _numpy_runner(case: Case):
    """The numpy reference in float32 on the case's data: what numpy's users run today."""
    data = inputs(case)
    src, wei = data["src"], data["weights"]
    if case.driver.name == "matmul":
        out = np.empty(case.driver.dims(case.problem)["dst"], np.float32)
        return lambda: np.matmul(src, wei, out=out)
    return lambda: case.driver.reference(case.problem, data, dtype=np.float32)


def _torch_request(case: Case) -> dict:
    dims = case.driver.dims(case.problem)
    if case.driver.name == "matmul":
        return {"kind": "matmul", "src": dims["src"], "weights": dims["weights"]}
    p = case.problem
    sp = slice(3 - p.ndims_spatial, 3)
    return {"kind": "conv", "src": dims["src"], "weights": dims["weights"], "groups": p.g,
            "strides": p.s[sp], "dilates": p.d[sp], "pad_l": p.p[sp], "pad_r": p.pr[sp]}


def torch_times(cases: list, max_ms: float, fix_times: int = 0) -> Optional[list]:
    """[(min_ms, avg_ms)] per case from torch_times.py, or None without torch."""
    import importlib.util
    if importlib.util.find_spec("torch") is None:
        return None
    env = dict(os.environ)
    request = {"max_ms": max_ms, "fix_times": fix_times,
               "problems": [_torch_request(c) for c in cases]}
    done = subprocess.run([sys.executable, str(HERE / "torch_times.py")], env=env, text=True,
                          input=json.dumps(request), capture_output=True)
    if done.returncode:
        raise RuntimeError(f"torch reference failed: {done.stderr.strip()[-2000:]}")
    return [tuple(t) for t in json.loads(done.stdout)]


def _engines() -> list:
    """[(label, engine kind, (engine, stream, note))]: the CPU and, when there is an
    OpenCL device, the OpenCL engine."""
    found = [("dnnl cpu", "cpu", open_engine("cpu"))]
    try:
        found.append(("dnnl ocl", "gpu", open_engine("gpu")))
    except (dnnl.error, ImportError):
        pass
    return found


def measure(cases: list, max_ms: float, fix_times: int = 0) -> dict:
    """{"columns": labels, "rows": [{"case", "gflop", "ms": {label: min}, "creation":
    {label: Perf}, "impl": {label: name}}], "engines": notes}."""
    engines = _engines()
    rows = []
    for case in cases:
        row = {"case": case, "gflop": case.problem.flops / 1e9, "ms": {}, "creation": {},
               "impl": {}}
        for label, kind, (eng, strm, _) in engines:
            outcome = perf(replace(case, engine=kind), eng, strm, max_ms, fix_times)
            if outcome.perf:
                row["ms"][label] = outcome.perf.min
                row["creation"][label] = outcome.perf
                row["impl"][label] = outcome.impl
        row["ms"]["numpy"] = min(time_runs(_numpy_runner(case), max_ms, fix_times))
        rows.append(row)
    columns = [label for label, _, _ in engines] + ["numpy"]
    torch = torch_times(cases, max_ms, fix_times)
    if torch:
        columns.append("torch")
        for row, (best, _) in zip(rows, torch):
            row["ms"]["torch"] = best
    return {"columns": columns, "rows": rows,
            "engines": [e[2][2] for e in engines if e[2][2]]}


def _rate(gflops: float) -> str:
    """A GFLOP/s cell: one decimal, but three significant digits below 10 so that a tiny
    problem on a loaded machine never reads as 0.0."""
    return f"{gflops:.1f}" if gflops >= 10 else f"{gflops:.3g}"


def _label(case: Case) -> str:
    return case.problem.name or str(case.problem)


def _bar_chart(path: Path, rows: list, series: list, xlabel: str, log: bool = False,
               row_height: float = 0.45) -> None:
    """Horizontal bars, one group per problem; series: (legend, values, bar options)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(9, row_height * len(rows) * len(series) / 2 + 1.5))
    height = 0.8 / len(series)
    y = np.arange(len(rows))
    for j, (legend, values, options) in enumerate(series):
        ax.barh(y + j * height, values, height, label=legend, **options)
    ax.set_yticks(y + height * (len(series) - 1) / 2, [_label(r["case"]) for r in rows])
    ax.invert_yaxis()
    if log:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _plot_gflops(results: dict, path: Path) -> None:
    rows = results["rows"]
    series = [(label, [r["gflop"] / r["ms"][label] * 1e3 if label in r["ms"] else 0
                       for r in rows], {}) for label in results["columns"]]
    _bar_chart(path, rows, series, "GFLOP/s (minimum time; higher is better)")


def _plot_creation(results: dict, path: Path) -> None:
    rows = results["rows"]
    engines = [label for label in results["columns"] if label.startswith("dnnl")]
    # one colour per engine, lighter from miss to blob to hit
    series = [(f"{label} {what}",
               [getattr(r["creation"][label], f"ctime_{what}") if label in r["creation"]
                else np.nan for r in rows], {"color": f"C{k}", "alpha": alpha})
              for k, label in enumerate(engines)
              for what, alpha in (("miss", 1.0), ("blob", 0.6), ("hit", 0.3))]
    _bar_chart(path, rows, series, "primitive creation, ms (log scale; lower is better)",
               log=True, row_height=0.3)


def machine() -> list:
    """Lines that say what the figures were measured on."""
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if "model name" in line)
    except (OSError, StopIteration):
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    v = dnnl.version()
    lines = [f"CPU: {cpu}, {cores} cores available to the process",
             f"OS: {platform.platform()}; Python {platform.python_version()}",
             f"dnnl_py {v.major}.{v.minor}.{v.patch} (git {v.hash[:12]}; {v.blas}); numpy "
             f"{np.__version__} ({_blas_name()}); CPU tuning "
             f"{'on' if dnnl.get_cpu_tuning() else 'off'}"]
    try:
        import torch
        lines.append(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    except ImportError:
        lines.append("torch: not installed (no torch column)")
    return lines


def _blas_name() -> str:
    try:
        return np.show_config(mode="dicts")["Build Dependencies"]["blas"]["name"]
    except Exception:  # older numpy: no dict mode
        return "BLAS unknown"


def markdown(results: dict, command: str, images: str) -> str:
    """The report; `images` is the plots' folder relative to the Markdown file."""
    columns, rows = results["columns"], results["rows"]
    refs = [c for c in columns if not c.startswith("dnnl")]
    out = ["# Performance report", "",
           f"Measured {datetime.date.today().isoformat()} with:", "", "```sh", command, "```",
           "", *[f"- {line}" for line in machine() + results["engines"]], "",
           "GFLOP/s from the minimum time of each (the least disturbed on a shared "
           "machine), f32. References: numpy = im2col convolution or numpy.matmul in float32 "
           "over numpy's BLAS; torch = torch.nn.functional.conv*d (channels-last) or "
           "torch.matmul in a process of its own. Post-ops are left out of the references.",
           "", "## Throughput", "",
           f"![GFLOP/s per problem]({images}gflops.png)", "",
           "| problem | GFLOP | " + " | ".join(f"{c} GFLOP/s" for c in columns)
           + " | dnnl cpu / best reference |",
           "|---|---:|" + "---:|" * len(columns) + "---:|"]
    for r in rows:
        cells = [_rate(r["gflop"] / r["ms"][c] * 1e3) if c in r["ms"] else "-"
                 for c in columns]
        best = min(r["ms"][c] for c in refs)
        ratio = f"{best / r['ms']['dnnl cpu']:.2f}x" if "dnnl cpu" in r["ms"] else "-"
        out.append(f"| {_label(r['case'])} | {r['gflop']:.3g} | " + " | ".join(cells)
                   + f" | {ratio} |")
    out += ["", "## Primitive creation", "",
            "A miss builds the primitive (the primitive cache emptied, no cache directory); a "
            "hit returns it from the primitive cache (best of 5); a blob builds it from "
            "`get_cache_blob()` with the primitive cache off (best of 3).", "",
            f"![creation times]({images}creation.png)", "",
            "| problem | engine | implementation | miss ms | blob ms | hit ms | miss / blob |",
            "|---|---|---|---:|---:|---:|---:|"]
    for r in rows:
        for label, p in r["creation"].items():
            out.append(f"| {_label(r['case'])} | {label} | {r['impl'][label]} | "
                       f"{p.ctime_miss:.3g} | {p.ctime_blob:.3g} | {p.ctime_hit:.3g} | "
                       f"{p.ctime_miss / p.ctime_blob:.1f}x |")
    return "\n".join(out) + "\n"


# What follows this line in an existing report is written by other tools and by hand
# (docs/performance.md: Creation, Memory-bound kinds, vs oneDNN 3.2, Run-order effects):
# a new report keeps it.
KEEP_MARKER = "<!-- kept when --report rewrites this file -->"


def write_report(target: str, cases: list, max_ms: float, fix_times: int = 0,
                 command: Optional[str] = None) -> Path:
    """Measures `cases` and writes the report, keeping whatever follows KEEP_MARKER in
    the file it replaces; returns the Markdown file's path."""
    md_path, images = _paths(target)
    images.mkdir(parents=True, exist_ok=True)
    results = measure(cases, max_ms, fix_times)
    _plot_gflops(results, images / "gflops.png")
    _plot_creation(results, images / "creation.png")
    command = command or "python -m dnnl_py.benchdnn " + shlex.join(sys.argv[1:])
    rel = os.path.relpath(images, md_path.parent)
    old = md_path.read_text() if md_path.exists() else ""
    kept = old[old.index(KEEP_MARKER):] if KEEP_MARKER in old else ""
    md_path.write_text(markdown(results, command, "" if rel == "." else rel + "/")
                       + ("\n" + kept if kept else ""))
    return md_path
