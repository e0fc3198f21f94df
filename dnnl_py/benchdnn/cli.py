"""`python -m dnnl_py.benchdnn`: benchdnn's command line. Options apply to the problems
that follow them, on the command line and in batch files, until changed or --reset:

    python -m dnnl_py.benchdnn --conv --mode=CP --mb=1 --batch=shapes_resnet_50
    python -m dnnl_py.benchdnn --matmul --engine=gpu 12x128x64:12x64x128
    python -m dnnl_py.benchdnn --report=docs/performance.md
"""
from __future__ import annotations

import csv
import os
import re
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Optional

import dnnl_py as dnnl

from .drivers import DRIVERS
from .options import (
    LIST_OPTIONS,
    OptionError,
    configurations,
    impl_filter,
    parse_bool,
    parse_list_option,
)
from .problems import ProblemError, batch_lines, post_ops_str
from .run import Case, open_engine, run_case

INPUTS = Path(__file__).resolve().parent / "inputs"
USAGE = """usage: python -m dnnl_py.benchdnn [OPTIONS] PROBLEM...

  --conv | --matmul | --pool | --eltwise | --binary | --softmax | --lnorm | --bnorm
  | --concat                 the driver for the problems that follow
  --batch=FILE               problems and options from FILE ('#' comments, '\\' continues
                             a line); a relative FILE is also looked for beside the
                             current batch file and in dnnl_py/benchdnn/inputs/[DRIVER/]
  --engine=cpu|gpu[:N]       gpu: the OpenCL engine (PoCL's CPU device if no GPU)
  --mode=C|P|CP              C: check against numpy; P: creation and execution times
  --max-ms-per-prb=N         timing budget per problem (default 3000)
  --fix-times-per-prb=N      time exactly N executions instead
  --cold-cache=none|all      all: evict the caches before each timed run
  --perf-template=def|csv    csv: stdout is one CSV row per problem, with a header
  --reset                    the driver's options back to their defaults
  --report=DIR|FILE.md       time the problems given (default: inputs/report_set) against
                             the references and write a Markdown report with PNG plots
Driver options hold comma-separated lists; a problem runs once per combination:
  --dt= --sdt= --ddt=        data types (f32 runs; others are SKIPPED), e.g. s8:s8:f32
  --dir=FWD_B|FWD_D|FWD_I    conv: FWD_B (with bias) by default; BWD_* SKIPPED
  --alg= --alpha= --beta= --axis= --flags= --inplace=
  --stag= --wtag= --dtag= --tag= --stat_tag=  format tags: any, abx, axb, acb, nhwc, ...
  --bia-dt= --bia_mask= --strides= --runtime_dims_masks=   matmul
  --attr-post-ops=LIST       e.g. relu, sum:0.5+relu, linear:2:1
  --attr-scales= --attr-zero-points= --attr-fpmath= --attr-scratchpad= --attr-acc-mode=
  --mb= --match=REGEX --impl= --skip-impl= --check-ref-impl= --ctx-init= --ctx-exe=
(docs/benchdnn.md: every option, and what is SKIPPED and why)
"""


class UsageError(ValueError):
    """A bad command line or batch file: the message says where and what was expected."""


@dataclass(frozen=True)
class Options:
    """The common options (kept by --reset, as benchdnn's) and the driver's settings."""
    driver: str = "conv"
    engine: str = "cpu"
    mode: str = "C"
    max_ms: float = 3000.0
    fix_times: int = 0
    template: str = "def"
    report: Optional[str] = None
    cold_cache: str = "none"
    check_ref_impl: bool = False
    # driver settings, back to these by --reset
    mb: int = 0
    match: str = ""
    lists: tuple = ()      # ((Setup field, (values...)), ...): the configurations' lists
    impl: tuple = ()
    skip_impl: tuple = ()

    def reset(self) -> "Options":
        return replace(Options(), **{k: getattr(self, k) for k in COMMON})


COMMON = ("driver", "engine", "mode", "max_ms", "fix_times", "template", "report",
          "cold_cache", "check_ref_impl")


def _int(name: str, value: str, least: int = 0) -> int:
    try:
        n = int(value)
    except ValueError:
        n = least - 1
    if n < least:
        raise UsageError(f"--{name}={value}: expected an integer >= {least}")
    return n


def _apply(opts: Options, key: str, value: str) -> Options:
    """The options after one `--key=value` token."""
    if key == "mode":
        mode = value.upper()
        if not mode or set(mode) - set("CP"):
            raise UsageError(f"--mode={value}: expected C, P or CP")
        return replace(opts, mode=mode)
    if key == "engine":
        name, _, index = value.partition(":")
        if name not in ("cpu", "gpu") or (index and not index.isdigit()):
            raise UsageError(f"--engine={value}: expected cpu or gpu[:INDEX]")
        return replace(opts, engine=value)
    if key == "mb":
        if opts.driver not in ("conv", "pool", "bnorm"):
            raise UsageError(f"--mb: not an option of the --{opts.driver} driver")
        return replace(opts, mb=_int(key, value))
    if key == "max-ms-per-prb":
        return replace(opts, max_ms=_int(key, value, 1))
    if key == "fix-times-per-prb":
        return replace(opts, fix_times=_int(key, value))
    if key == "perf-template":
        if value not in ("def", "csv"):
            raise UsageError(f"--perf-template={value}: expected def or csv")
        return replace(opts, template=value)
    if key == "report":
        return replace(opts, report=value)
    if key == "match":
        try:
            re.compile(value)
        except re.error as e:
            raise UsageError(f"--match={value}: not a regular expression ({e})") from None
        return replace(opts, match=value)
    if key in ("impl", "skip-impl"):
        return replace(opts, **{key.replace("-", "_"): impl_filter(value)})
    if key == "cold-cache":
        if value not in ("none", "wei", "all", "custom"):
            raise UsageError(f"--cold-cache={value}: expected none, wei, all or custom")
        return replace(opts, cold_cache=value)
    if key == "check-ref-impl":
        return replace(opts, check_ref_impl=parse_bool(key, value))
    if key in LIST_OPTIONS:
        field, values = parse_list_option(opts.driver, key, value)
        lists = dict(opts.lists)
        lists[field] = values
        return replace(opts, lists=tuple(lists.items()))
    raise UsageError(f"unknown option --{key} (see --help)")


def _find_batch(name: str, here: Path, driver: str) -> Path:
    for path in (Path(name), here / name, INPUTS / driver / name, INPUTS / name):
        if path.is_file():
            return path
    raise UsageError(f"--batch={name}: no such file (looked in ., {here}, "
                     f"{INPUTS / driver} and {INPUTS})")


def parse_args(argv: list) -> tuple[Options, list]:
    """(the final options, the cases) of a command line; batch files are read in place.
    A problem gives one case per configuration of the option lists."""
    cases: list = []

    def walk(tokens, opts: Options, here: Path, where: str) -> Options:
        for token in tokens:
            try:
                opts = step(token, opts, here)
            except (UsageError, ProblemError, OptionError) as e:
                raise UsageError(f"{where}{e}") from None
        return opts

    def step(token: str, opts: Options, here: Path) -> Options:
        if token.startswith("--") and token[2:] in DRIVERS:
            # a driver's settings are its own, as in benchdnn: another driver starts afresh
            return opts if opts.driver == token[2:] else replace(opts.reset(),
                                                                 driver=token[2:])
        if token == "--reset":
            return opts.reset()
        if token.startswith("--batch="):
            path = _find_batch(token[len("--batch="):], here, opts.driver)
            for lineno, line in batch_lines(path):
                opts = walk(line, opts, path.parent, f"{path}:{lineno}: ")
            return opts
        if token.startswith("--"):
            key, eq, value = token[2:].partition("=")
            if not eq:
                raise UsageError(f"option {token}: expected --{key}=VALUE")
            return _apply(opts, key, value)
        driver = DRIVERS[opts.driver]
        problem = driver.parse(token)
        if opts.match and not re.fullmatch(opts.match, token):
            return opts                       # benchdnn's --match: neither run nor counted
        if opts.mb:
            problem = problem.with_mb(opts.mb)
        for setup in configurations(dict(opts.lists), driver.name, impl=opts.impl,
                                    skip_impl=opts.skip_impl):
            cases.append((Case(driver, problem, opts.engine, setup), opts))
        return opts

    final = walk(argv, Options(), Path.cwd(), "")
    return final, cases


class Progress:
    """A one-line bar on stderr, drawn only when stderr is a terminal."""

    def __init__(self, total: int, stream):
        self.total, self.stream = total, stream
        self.shown = total > 1 and stream.isatty()

    def draw(self, done: int, label: str) -> None:
        if self.shown:
            filled = 30 * done // self.total
            self.stream.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {done}/{self.total} "
                              f"{label[:40]}\033[K")
            self.stream.flush()

    def clear(self) -> None:
        if self.shown:
            self.stream.write("\r\033[K")
            self.stream.flush()


PERF_TEMPLATE = ("perf,%engine%,%impl%,%name%,%prb%,%Gops%,%ctime_miss%,%ctime_hit%,"
                 "%ctime_blob%,%-time%,%-Gflops%,%0time%,%0Gflops%")
CSV_HEADER = ["index", "state", "engine", "impl", "name", "driver", "prb", "post_ops",
              "gops", "ctime_miss_ms", "ctime_hit_ms", "ctime_blob_ms", "min_ms",
              "min_gflops", "avg_ms", "avg_gflops", "reason"]


# the memory-bound kinds: GB read and written once, and GB/s, where the others have
# GFLOP and GFLOP/s
PERF_TEMPLATE_BYTES = (PERF_TEMPLATE.replace("%Gops%", "%Gbytes%")
                       .replace("Gflops%", "GBps%"))


def _giga(case: Case) -> float:
    return case.driver.work(case.problem, case.setup) / 1e9


def _perf_line(case: Case, outcome, engine_kind: str) -> str:
    p, gops = outcome.perf, _giga(case)
    return (f"perf,{engine_kind},{outcome.impl},\"{case.problem.name}\",{case.repro()},"
            f"{gops:.6g},{p.ctime_miss:.4g},{p.ctime_hit:.4g},{p.ctime_blob:.4g},"
            f"{p.min:.6g},{gops / p.min * 1e3:.6g},{p.avg:.6g},{gops / p.avg * 1e3:.6g}")


def _csv_row(index: int, case: Case, outcome, engine_kind: str) -> list:
    gops, p = _giga(case), outcome.perf
    row = [index, outcome.state, engine_kind, outcome.impl, case.problem.name,
           case.driver.name, case.repro(), post_ops_str(case.setup.post_ops), gops]
    if p:
        row += [p.ctime_miss, p.ctime_hit, p.ctime_blob, p.min, gops / p.min * 1e3, p.avg,
                gops / p.avg * 1e3]
    else:
        row += [""] * 7
    return row + [outcome.reason]


# benchdnn's summary line; mistrusted and listed stay 0 here (no mistrust heuristics, no
# --mode=L)
SUMMARY = ("tests", "passed", "skipped", "mistrusted", "unimplemented", "invalid_arguments",
           "failed", "listed")
_COUNTED = {"FAILED": "failed", "SKIPPED": "skipped", "UNIMPLEMENTED": "unimplemented",
            "INVALID_ARGUMENTS": "invalid_arguments"}


def run_cases(cases: list, template: str = "def", out=None, err=None) -> int:
    """Runs each case as its options say; prints benchdnn's lines (or CSV rows) and the
    summary. Returns the exit status: 0, or 1 when a case failed."""
    out, err = out or sys.stdout, err or sys.stderr
    start = time.perf_counter()
    engines: dict = {}
    counts = dict.fromkeys(SUMMARY, 0)
    mins, avgs = [], []
    writer = csv.writer(out) if template == "csv" else None
    if writer:
        writer.writerow(CSV_HEADER)
    unit = None
    bar = Progress(len(cases), err)
    interrupted = False
    try:
        for index, (case, opts) in enumerate(cases):
            bar.draw(index, case.problem.name or str(case.problem))
            if case.engine not in engines:
                engines[case.engine] = open_engine(case.engine)
                if engines[case.engine][2]:
                    bar.clear()
                    print(engines[case.engine][2], file=err)
            eng, strm, _ = engines[case.engine]
            outcome = run_case(case, opts.mode, eng, strm, opts.max_ms, opts.fix_times,
                               opts.cold_cache)
            if opts.check_ref_impl and "ref" in outcome.impl and outcome.state == "PASSED":
                outcome = replace(outcome, state="FAILED", reason=f"--check-ref-impl: "
                                  f"the reference implementation {outcome.impl} ran")
            counts["tests"] += 1
            counts[_COUNTED.get(outcome.state, "passed")] += 1
            if outcome.perf:
                mins.append(outcome.perf.min)
                avgs.append(outcome.perf.avg)
            bar.clear()
            kind = eng.get_kind().name
            if writer:
                writer.writerow(_csv_row(index, case, outcome, kind))
            else:
                if outcome.perf and case.driver.work_unit != unit:  # again when it changes
                    unit = case.driver.work_unit
                    template = PERF_TEMPLATE if unit == "flops" else PERF_TEMPLATE_BYTES
                    print(f"Output template: {template}", file=out)
                if outcome.perf:
                    print(_perf_line(case, outcome, kind), file=out)
                if outcome.state != "EXECUTED":
                    reason = f" ({outcome.reason})" if outcome.reason else ""
                    print(f"{index}:{outcome.state}{reason} __REPRO: {case.repro()}", file=out)
            out.flush()
    except KeyboardInterrupt:  # Ctrl-C: the summary of what ran, no traceback
        bar.clear()
        interrupted = True
    summary = out if writer is None else err
    if interrupted:
        print(f"interrupted after {counts['tests']} of {len(cases)} problems", file=summary)
    print(" ".join(f"{k}:{v}" for k, v in counts.items()), file=summary)
    if mins:
        print(f"total perf: min(ms):{sum(mins):.6g} avg(ms):{sum(avgs):.6g}", file=summary)
    print(f"total: {time.perf_counter() - start:.2f}s", file=summary)
    return 130 if interrupted else 1 if counts["failed"] else 0


def main(argv: Optional[list] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # A creation "on a miss" must include the OpenCL compiler: neither PoCL's program
    # cache nor pyopencl's, unless the user set them (both are read when OpenCL starts).
    os.environ.setdefault("POCL_KERNEL_CACHE", "0")
    os.environ.setdefault("PYOPENCL_NO_CACHE", "1")
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE, end="")
        return 0 if argv else 2
    try:
        opts, cases = parse_args(argv)
        if opts.report:
            from .report import write_report
            cases = cases or parse_args(["--batch=report_set"])[1]  # the report's default
            if any(c.driver.work_unit != "flops" for c, _ in cases):
                raise UsageError("--report: conv and matmul problems only (the report "
                                 "compares GFLOP/s)")
            write_report(opts.report, [c for c, _ in cases], opts.max_ms, opts.fix_times)
            return 0
        if not cases:
            raise UsageError("no problem given (a problem string or --batch=FILE)")
        return run_cases(cases, opts.template)
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except dnnl.error as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
