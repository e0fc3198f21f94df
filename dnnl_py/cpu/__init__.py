"""The CPU engine's implementations and compiled kernels."""
import os

# OpenBLAS runs its own threads between our OpenMP regions; OpenMP threads that spin
# after a region steal both cores from it (measured: 4-5x slower convolutions on 2 cores).
# Must be set before libgomp loads with the extension; a user's setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "passive")
