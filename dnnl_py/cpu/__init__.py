"""The CPU engine's implementations and compiled kernels."""
import os
import warnings

# OpenBLAS runs its own threads between our OpenMP regions; OpenMP threads that spin
# after a region steal both cores from it (measured: 4-5x slower convolutions on 2 cores).
# libgomp reads this once, when it loads with the extension; a user's setting wins.
USER_OMP_WAIT_POLICY = os.environ.get("OMP_WAIT_POLICY")  # for child processes (torch's)
if "OMP_WAIT_POLICY" not in os.environ:
    os.environ["OMP_WAIT_POLICY"] = "passive"
    try:
        with open("/proc/self/maps") as maps:
            foreign_gomp = "libgomp" in maps.read()
    except OSError:
        foreign_gomp = False
    if foreign_gomp:  # e.g. torch's libgomp: we will share it, spinning (measured 4-30x slower)
        warnings.warn("dnnl_py: libgomp was already loaded by another library with spinning "
                      "OpenMP threads, which slows dnnl_py's BLAS-based kernels many times; "
                      "import dnnl_py first or set OMP_WAIT_POLICY=passive", RuntimeWarning,
                      stacklevel=2)
