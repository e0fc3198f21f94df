"""Running one problem: correctness against the numpy reference (--mode=C) and timings
(--mode=P): creation on a cache miss, a primitive-cache hit and from a cache blob, then
repeated executions."""
from __future__ import annotations

import contextlib
import functools
import os
import time
from dataclasses import dataclass, field, replace
from typing import Optional

import numpy as np

import dnnl_py as dnnl

from . import reference
from .driver_base import to_memory
from .options import Setup
from .timing import time_runs


@dataclass(frozen=True)
class Case:
    """One problem as the command line set it up."""
    driver: object
    problem: object
    engine: str = "cpu"   # "cpu" or "gpu[:index]"
    setup: Setup = Setup()

    def repro(self) -> str:
        """The command-line options that reproduce this case, as benchdnn's __REPRO."""
        opts = [f"--{self.driver.name}", f"--engine={self.engine}"]
        return " ".join(opts + self.setup.repro(self.driver.name) + [str(self.problem)])

    def dims(self) -> dict:
        """The dims of every array the case reads or writes: the kind's, and post_op_<i>
        for binary post-op i's src1."""
        src1 = self.driver.post_op_src1(self.problem, self.setup)
        return {**self.driver.dims(self.problem, self.setup),
                **{f"post_op_{i}": d for i, d in src1.items()}}

    def unsupported(self) -> str:
        """Why the driver cannot run this case (benchdnn's SKIPPED), or ''."""
        why = self.setup.unsupported() or self.driver.unsupported(self.problem, self.setup)
        try:
            self.driver.post_op_src1(self.problem, self.setup)
        except ValueError as e:
            why = why or f"--attr-post-ops: {e}"
        return why


@dataclass
class Perf:
    """Milliseconds: creation (miss, hit, blob) and each timed execution."""
    ctime_miss: float
    ctime_hit: float
    ctime_blob: float
    times: list = field(default_factory=list)

    @property
    def min(self) -> float:
        return min(self.times)

    @property
    def avg(self) -> float:
        return sum(self.times) / len(self.times)


@dataclass
class Outcome:
    """PASSED, FAILED, UNIMPLEMENTED (no implementation accepts), INVALID_ARGUMENTS (the
    library refuses the problem), SKIPPED (a configuration the driver cannot run, or
    larger than memory) or, in --mode=P alone, EXECUTED."""
    state: str
    reason: str = ""
    impl: str = ""
    perf: Optional[Perf] = None


def open_engine(kind: str) -> tuple:
    """(engine, stream, note) for "cpu" or "gpu[:index]". gpu is the OpenCL engine: an
    OpenCL GPU when there is one, else the OpenCL device at that index (PoCL's CPU
    device), which the note names."""
    name, _, index = kind.partition(":")
    index = int(index or 0)
    if name == "cpu":
        eng, note = dnnl.engine(dnnl.engine.kind.cpu, index), ""
    elif name != "gpu":
        raise dnnl.error(dnnl.status.invalid_arguments,
                         f"--engine={kind}: expected cpu or gpu[:INDEX]")
    elif dnnl.engine.get_count(dnnl.engine.kind.gpu) > index:
        eng, note = dnnl.engine(dnnl.engine.kind.gpu, index), ""
    else:
        eng, note = _any_ocl_engine(kind, index)
    return eng, dnnl.stream(eng), note


def _any_ocl_engine(kind: str, index: int) -> tuple:
    try:
        import pyopencl as cl
        devices = [d for p in cl.get_platforms() for d in p.get_devices()]
    except Exception:  # no pyopencl, no ICD loader or no platform
        devices = []
    if index >= len(devices):
        raise dnnl.error(dnnl.status.invalid_arguments,
                         f"--engine={kind}: no OpenCL device at index {index} (found "
                         f"{len(devices)}; pyopencl with PoCL comes with `make test`)")
    device = devices[index]
    eng = dnnl.ocl_interop.make_engine(device, cl.Context([device]))
    return eng, f"--engine={kind}: no OpenCL GPU; the OpenCL engine runs on " \
                f"{device.name.strip()} ({device.platform.name.strip()})"


def inputs(case: Case, seed: int = 0) -> dict:
    """Seeded float32 data of O(1): src, weights, bias and dst (read by a sum post-op)."""
    rng = np.random.default_rng(seed)
    data = {k: rng.standard_normal(d, dtype=np.float32) for k, d in case.dims().items()}
    case.driver.fill(data, case.problem, case.setup)
    return data


def _memories(case: Case, pd, eng, strm, data: dict):
    """{execute argument: memory} holding `data` in the layouts the pd chose, or the
    Outcome that ends the case. With --inplace=true dst is the source's memory, and
    `data` says so (a sum post-op then reads the source)."""
    arg = case.driver.arg
    args = {arg(k): to_memory(eng, strm, a, pd.query_md(arg(k))) for k, a in data.items()}
    if case.setup.inplace:
        src = arg(case.driver.inplace_src)
        if args[src].get_desc() != args[dnnl.ARG_DST].get_desc():
            return Outcome("SKIPPED", "--inplace=true: the dst layout chosen differs from "
                                      "the source's")
        args[dnnl.ARG_DST] = args[src]
        data["dst"] = data[case.driver.inplace_src]
    return args


# bytes per element of src, weights and dst: the seeded float32 inputs, the library's
# memories and the float64 reference (its input copies and its output)
_BYTES_PER_ELEMENT = 4 + 4 + 8 + 8


def run_case(case: Case, mode: str, eng, strm, max_ms: float, fix_times: int,
             cold_cache: str = "none") -> Outcome:
    """--mode=C, P or CP on one case. As benchdnn, a problem larger than memory is
    SKIPPED: refused up front by an estimate, or when an allocation fails; so is a
    configuration the driver cannot run (Case.unsupported). An error the library raises
    while creating or executing (a dnnl.error, or any exception: a bug) is FAILED with
    its message, and the run goes on."""
    why = case.unsupported()
    if why:
        return Outcome("SKIPPED", why)
    if "P" in mode and cold_cache not in ("none", "all"):
        return Outcome("SKIPPED", f"--cold-cache={cold_cache}: only none and all are timed")
    elements = sum(int(np.prod(d)) for d in case.dims().values())
    need, have = elements * _BYTES_PER_ELEMENT, _physical_memory()
    if need > have:
        return Outcome("SKIPPED", f"needs about {need / 2**30:.3g} GiB, the machine has "
                                  f"{have / 2**30:.3g} GiB")
    try:
        outcome = check(case, eng, strm) if "C" in mode else None
        if "P" in mode and (outcome is None or outcome.state == "PASSED"):
            timed = perf(case, eng, strm, max_ms, fix_times, cold_cache == "all")
            outcome = timed if outcome is None or timed.state != "EXECUTED" else \
                replace(timed, state=outcome.state)
        return outcome
    except MemoryError as e:
        return Outcome("SKIPPED", f"out of memory: {e}")
    except dnnl.error as e:
        if e.status != dnnl.status.out_of_memory:
            return Outcome("FAILED", str(e))
        return Outcome("SKIPPED", str(e))
    except Exception as e:  # a library bug: counted as FAILED, and the file goes on
        return Outcome("FAILED", f"{type(e).__name__}: {e}")


def _physical_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return 2**63


def _pd_or_outcome(case: Case, eng):
    """The primitive descriptor, or the Outcome that ends the case: UNIMPLEMENTED when no
    implementation accepts, INVALID_ARGUMENTS when the library refuses the problem as
    invalid (benchdnn's state; oneDNN may accept what dnnl_py refuses, so the reason
    says which rule), FAILED on any other error, SKIPPED when
    --impl or --skip-impl rules out the implementation chosen (dnnl_py's primitive
    descriptors have no next_impl to try another)."""
    try:
        pd = case.driver.pd(eng, case.problem, case.setup)
    except dnnl.error as e:
        state = {dnnl.status.unimplemented: "UNIMPLEMENTED",
                 dnnl.status.invalid_arguments: "INVALID_ARGUMENTS"}.get(e.status, "FAILED")
        return None, Outcome(state, str(e))
    name, setup = pd.impl_info_str(), case.setup
    if any(s in name for s in setup.skip_impl) or \
            setup.impl and not any(s in name for s in setup.impl):
        flag = "--skip-impl" if any(s in name for s in setup.skip_impl) else "--impl"
        return None, Outcome("SKIPPED", f"implementation {name} ruled out by {flag}", name)
    return pd, None


def check(case: Case, eng, strm) -> Outcome:
    """--mode=C: one execution against the float64 numpy reference; the error is measured
    against the reference's scale and must stay within reference.tolerance."""
    pd, ended = _pd_or_outcome(case, eng)
    if ended:
        return ended
    data = inputs(case)
    args = _memories(case, pd, eng, strm, data)
    if isinstance(args, Outcome):
        return args
    driver, p, setup = case.driver, case.problem, case.setup
    refs = driver.reference(p, data, setup)
    refs = refs if isinstance(refs, dict) else {"dst": refs}
    src1 = {int(k[8:]): v for k, v in data.items() if k.startswith("post_op_")}
    refs["dst"] = reference.post_ops(refs["dst"], data["dst"].astype(np.float64),
                                     setup.post_ops, src1)
    driver.primitive(pd).execute(strm, args)
    strm.wait()
    tol = reference.tolerance(driver.accumulation(p, setup))
    impl = pd.impl_info_str()
    for name in driver.outputs(p, setup):
        out = args[driver.arg(name)].to_numpy()
        err, at = reference.relative_error(out, refs[name])
        if err > tol:
            where = ",".join(map(str, at))
            return Outcome("FAILED", f"relative error {err:.3g} > {tol:.3g} at {name}[{where}]"
                           f": got {out[at]:.6g}, expected {refs[name][at]:.6g}", impl)
    return Outcome("PASSED", impl=impl)


@contextlib.contextmanager
def _creation_caches():
    """No cache directory (a miss must compile) and an empty primitive cache that holds
    entries (a hit must hit); the user's settings come back afterwards."""
    cache_dir, capacity = dnnl.get_cache_dir(), dnnl.get_primitive_cache_capacity()
    dnnl.set_cache_dir(None)
    dnnl.set_primitive_cache_capacity(max(capacity, 1))
    dnnl.clear_primitive_cache()
    try:
        yield
    finally:
        dnnl.set_primitive_cache_capacity(capacity)
        dnnl.set_cache_dir(cache_dir)


def _ms(fn, *args) -> tuple:
    t0 = time.perf_counter()
    out = fn(*args)
    return (time.perf_counter() - t0) * 1e3, out


def perf(case: Case, eng, strm, max_ms: float, fix_times: int = 0,
         cold: bool = False) -> Outcome:
    """--mode=P: creation times (miss, then the best of 5 hits and of 3 creations from the
    blob with the primitive cache off) and execution times; `cold` (--cold-cache=all)
    evicts the caches before each timed run."""
    pd, ended = _pd_or_outcome(case, eng)
    if ended:
        return ended
    make = case.driver.primitive
    with _creation_caches():
        miss, prim = _ms(make, pd)
        hit = min(_ms(make, pd)[0] for _ in range(5))
        blob = prim.get_cache_blob()
        dnnl.set_primitive_cache_capacity(0)
        from_blob = min(_ms(make, pd, blob)[0] for _ in range(3))
    args = _memories(case, pd, eng, strm, inputs(case))
    if isinstance(args, Outcome):
        return args

    def run():
        prim.execute(strm, args)
        strm.wait()
    return Outcome("EXECUTED", impl=pd.impl_info_str(),
                   perf=Perf(miss, hit, from_blob,
                             time_runs(run, max_ms, fix_times, _evict if cold else None)))


@functools.lru_cache(maxsize=1)
def _evict_buffer() -> np.ndarray:
    # 64 MiB: larger than the last-level caches the driver runs on (32 MiB per EPYC CCD)
    return np.zeros(1 << 24, np.float32)


def _evict() -> None:
    """benchdnn's --cold-cache=all: write a buffer larger than the caches, so that the
    next run finds none of its data there."""
    buf = _evict_buffer()
    np.add(buf, 1.0, out=buf)
