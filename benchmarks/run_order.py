"""Does a kernel run slower after other problems in the same process? Times vs_onednn.py's
problems with dnnl_py as a suite (all in one process, in order) and each alone in a fresh
process, rounds alternating, and prints suite / alone per problem (docs/performance.md,
"Run-order effects"):

    python benchmarks/run_order.py [--mb32] [--rounds 3] [--only conv]
"""
from __future__ import annotations

import argparse

from vs_onednn import environment, geomean, problems, run_side


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mb32", action="store_true")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--only", default="")
    args = ap.parse_args(argv)
    keys = [k for k in problems(args.mb32) if args.only in k]
    env = environment(args.threads)
    best = {"suite": {}, "alone": {}}

    def keep(mode, results):
        for key, (ms, _) in results.items():
            best[mode][key] = min(ms, best[mode].get(key, ms))

    for r in range(args.rounds):
        runs = [("suite", keys)] + [("alone", [k]) for k in keys]
        for mode, ks in runs if r % 2 == 0 else runs[::-1]:
            keep(mode, run_side("dnnl_py", ks, env=env))
    print(f"dnnl_py, {args.threads} threads, best of 20 executes x {args.rounds} rounds")
    print("| problem | alone ms | in suite ms | suite / alone speed |\n|---|---:|---:|---:|")
    ratios = []
    for key in keys:
        alone, suite = best["alone"][key], best["suite"][key]
        ratios.append(alone / suite)
        print(f"| {key} | {alone:.4g} | {suite:.4g} | {ratios[-1]:.2f} |")
    print(f"\ngeomean {geomean(ratios):.2f}, lowest {min(ratios):.2f}")


if __name__ == "__main__":
    main()
