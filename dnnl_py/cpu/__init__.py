"""The CPU engine's implementations and compiled kernels.

The kernels are loaded here, with two variables set in the environment while the
libraries they link initialise (each reads its variables once, then) and the user's
values put back at once:

- OPENBLAS_NUM_THREADS=1: csrc/gemm.c runs OpenBLAS one thread per call inside OpenMP's
  regions, but sets that only after OpenBLAS has started; by then OpenBLAS has started a
  worker per core, which spins (sched_yield) for ~2^28 cycles before it sleeps: measured
  77 ms of a core's time, right when a process reads and hashes its model (docs/models.md,
  "Measured"). Numpy's own OpenBLAS has read the variable at numpy's import, before this.
- GOMP_SPINCOUNT=2000, unless the user sets OMP_WAIT_POLICY or GOMP_SPINCOUNT: an OpenMP
  worker spins ~70 us (a PAUSE is ~35 ns on Zen 4) after a parallel region before it
  sleeps. That covers the gap between back-to-back primitives (a network's run loop
  spends ~10 us between executes), so they find their workers awake, as with libgomp's
  default; but the default spins 300,000 times (~10 ms), and on a machine busier than
  its cores a spinning worker holds a core its partner waits for: BERT-4's latency was
  1.5-3x that with a short spin, interleaved under load 3.5 on 2 cores
  (docs/performance.md, "Run-order effects")."""
import os

import numpy  # noqa: F401 - loaded first, so that its OpenBLAS never sees the values below

_AT_LOAD = {"OPENBLAS_NUM_THREADS": "1"}
if "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ:
    _AT_LOAD["GOMP_SPINCOUNT"] = "2000"
_USER_VALUES = {name: os.environ.get(name) for name in _AT_LOAD}
os.environ.update(_AT_LOAD)
try:
    from . import _kernels  # noqa: F401
finally:
    for _name, _value in _USER_VALUES.items():
        if _value is None:
            del os.environ[_name]
        else:
            os.environ[_name] = _value
    del _AT_LOAD, _USER_VALUES, _name, _value
