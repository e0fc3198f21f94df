"""The model cache's content hash against hashlib's sha256, on one core and on every
core, in one process (best of --runs; MB/s and ms per 100 MiB):

    PYTHONPATH=. .venv/bin/python benchmarks/content_hash.py [--mib 100] [--runs 7]

- one core: `_kernels.blake3` (csrc/blake3.c, the lanes the CPU has) and `hashlib.sha256`
  (OpenSSL, SHA-NI where the CPU has it) over the same buffer; the `blake3` wheel too when
  it is installed (a reference only, never a dependency);
- every core: `model.hashing.digest_each` (the 4 MiB pieces taken by the threads in C,
  without the GIL), and, for the damage check of a cache entry, `crc32c_each`.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import time

from dnnl_py.cpu._kernels import blake3

from dnnl_py.model import hashing


def best_ms(f, data, runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        f(data)
        times.append(time.perf_counter() - t)
    return min(times) * 1e3


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mib", type=int, default=100)
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args(argv)
    data = os.urandom(args.mib << 20)
    cases = {"blake3 (csrc/blake3.c), one core": blake3,
             "sha256 (hashlib), one core": lambda b: hashlib.sha256(b).digest()}
    try:
        import blake3 as wheel  # noqa: PLC0415 - optional reference
        cases["blake3 (the blake3 wheel), one core"] = lambda b: wheel.blake3(b).digest()
    except ImportError:
        pass
    cases[f"digest_each, {os.cpu_count()} cores"] = lambda b: hashing.digest_each([b])
    cases[f"crc32c_each, {os.cpu_count()} cores (one buffer: one core)"] = \
        lambda b: hashing.crc32c_each([b])
    per = 100 / args.mib
    print(f"{args.mib} MiB, best of {args.runs}")
    for name, f in cases.items():
        ms = best_ms(f, data, args.runs)
        mb_s = args.mib * 1.048576 / ms * 1e3
        print(f"  {name:52s} {ms * per:7.1f} ms / 100 MiB  {mb_s:7.0f} MB/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
