"""The CPU engine's implementations and compiled kernels.

OpenMP's wait policy is libgomp's default (spin a while, then sleep) unless the user sets
OMP_WAIT_POLICY: OpenBLAS runs single-threaded inside our OpenMP regions (csrc/gemm.c),
so no second thread pool needs the cores between them, and threads that slept after every
region woke up late on a busy machine (docs/performance.md, "Run-order effects").

The kernels are loaded here, with OPENBLAS_NUM_THREADS=1 in the environment while the
OpenBLAS they link initialises: csrc/gemm.c sets it to one thread only after that, and by
then OpenBLAS has started a worker per core, which spins (sched_yield) for ~2^28 cycles
before it sleeps: measured 77 ms of a core's time, right when a process reads and hashes
its model (docs/models.md, "Measured"). Numpy's own OpenBLAS has read the variable at
numpy's import, before this; the user's value is put back at once."""
import os

import numpy  # noqa: F401 - loaded first, so that its OpenBLAS never sees the value below

_USER_VALUE = os.environ.get("OPENBLAS_NUM_THREADS")
os.environ["OPENBLAS_NUM_THREADS"] = "1"
try:
    from . import _kernels  # noqa: F401
finally:
    if _USER_VALUE is None:
        del os.environ["OPENBLAS_NUM_THREADS"]
    else:
        os.environ["OPENBLAS_NUM_THREADS"] = _USER_VALUE
    del _USER_VALUE
