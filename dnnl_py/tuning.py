"""Measured choice of kernel (FFTW's planner, cuDNN's benchmark mode): with tuning on,
creating a primitive times every implementation that takes the primitive descriptor's
layouts, with each of its blocking candidates, on the real problem, and keeps the
fastest. A cache blob records the choice, so it is measured once per machine."""
from __future__ import annotations

import os
import time

import numpy as np

from ._errors import invalid

ENV_VAR = "DNNL_PY_CPU_TUNING"
RUNS = 3             # timed runs per candidate after one warm-up; the minimum counts
BUDGET_S = 0.25      # ... or fewer, once a candidate has taken this long

_enabled = None  # None: not decided yet, read from the environment


def _from_env() -> bool:
    value = os.environ.get(ENV_VAR, "0").strip()
    if value not in ("0", "1"):
        raise invalid(f"{ENV_VAR}: expected 0 or 1, got {value!r}")
    return value == "1"


def set_cpu_tuning(enable: bool) -> None:
    """Tune primitives created from now on (True) or take the heuristic's choice."""
    global _enabled
    if not isinstance(enable, bool):
        raise invalid(f"set_cpu_tuning: expected a bool, got {enable!r}")
    _enabled = enable


def get_cpu_tuning() -> bool:
    global _enabled
    if _enabled is None:
        _enabled = _from_env()
    return _enabled


def row_chunk_candidates(rows: int, most: int) -> list:
    """Blocking candidates of a GEMM that runs `rows` rows per step out of `most`: the
    heuristic's, then half and double that where they stay in [64, most]."""
    return [(rows,)] + [(r,) for r in (rows // 2, rows * 2) if 64 <= r <= most]


def candidates(pd) -> list:
    """(impl, params) pairs that can run pd's problem with pd's layouts, the
    heuristic's choice first."""
    first = pd._impl
    pairs = [(first, p) for p in first.candidates()]
    for impl in pd._alternatives():
        if impl.name != first.name and not impl.reference:
            pairs += [(impl, p) for p in impl.candidates()]
    return pairs


def _inputs(pd) -> list:
    """Buffers for one execution: random inputs (no denormals, no zero pages)."""
    rng = np.random.default_rng(0)
    runtime = pd._engine._runtime
    buffers = []
    for _, md in pd._args:
        if md is None:
            buffers.append(None)
            continue
        buf = runtime.alloc(md)
        buf[:] = rng.standard_normal(buf.shape[0], dtype=np.float32)
        buffers.append(buf)
    return buffers


def _time(kernel, buffers, to_beat: float) -> float:
    start = time.perf_counter()
    kernel(*buffers)  # warm-up: caches, pages, scratch
    best = time.perf_counter() - start
    if best > 3 * to_beat:  # hopeless: not worth more runs
        return best
    for _ in range(RUNS):
        t0 = time.perf_counter()
        kernel(*buffers)
        best = min(best, time.perf_counter() - t0)
        if t0 - start > BUDGET_S:
            break
    return best


def tune(pd) -> tuple:
    """(impl, params, kernel) of the fastest candidate for pd."""
    pairs = candidates(pd)
    if len(pairs) == 1:
        impl, params = pairs[0]
        return impl, params, impl.make_kernel(params)
    buffers = _inputs(pd)
    best = None
    for impl, params in pairs:
        kernel = impl.make_kernel(params)
        seconds = _time(kernel, buffers, best[0] if best else float("inf"))
        if best is None or seconds < best[0]:
            best = (seconds, impl, params, kernel)
    return best[1:]
