"""The CPU engine's implementations and compiled kernels.

OpenMP's wait policy is libgomp's default (spin a while, then sleep) unless the user sets
OMP_WAIT_POLICY: OpenBLAS runs single-threaded inside our OpenMP regions (csrc/gemm.c),
so no second thread pool needs the cores between them, and threads that slept after every
region woke up late on a busy machine (docs/performance.md, "Run-order effects")."""
