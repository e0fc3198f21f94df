"""python -m dnnl_py.benchmark_app -m model.onnx [-d CPU|GPU] [--cache_dir DIR]
[-niter N] [--tuning] [--no_ort]: in the spirit of OpenVINO's benchmark_app: read,
compile (and whether from the cache), first inference, latency percentiles and
throughput; then the same for onnxruntime when it is installed (random inputs)."""
from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np


def _percentiles(ms: list) -> str:
    q = np.percentile(ms, [50, 90, 99])
    return (f"median {q[0]:.2f} ms, p90 {q[1]:.2f} ms, p99 {q[2]:.2f} ms, "
            f"min {min(ms):.2f} ms, mean {statistics.fmean(ms):.2f} ms")


def _loop(run, niter: int, seconds: float) -> list:
    times, start = [], time.perf_counter()
    while len(times) < niter or (not niter and time.perf_counter() - start < seconds):
        t = time.perf_counter()
        run()
        times.append((time.perf_counter() - t) * 1e3)
        if niter and len(times) >= niter:
            break
    return times


def _report(name: str, times: list) -> None:
    print(f"[ INFO ] {name} latency: {_percentiles(times)}")
    print(f"[ INFO ] {name} throughput: {1e3 * len(times) / sum(times):.2f} FPS "
          f"({len(times)} iterations)")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m dnnl_py.benchmark_app",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("-m", "--model", required=True, help="an ONNX file")
    ap.add_argument("-d", "--device", default="CPU", help="CPU or GPU (the OpenCL engine)")
    ap.add_argument("--cache_dir", default="", help="CACHE_DIR: compile from / into it")
    ap.add_argument("-niter", "--niter", type=int, default=0,
                    help="iterations (default: as many as -t seconds allow)")
    ap.add_argument("-t", "--time", type=float, default=5.0, help="seconds without -niter")
    ap.add_argument("--tuning", action="store_true", help="TUNING ON (measured kernels)")
    ap.add_argument("--cache_mode", default="OPTIMIZE_SPEED",
                    choices=["OPTIMIZE_SPEED", "OPTIMIZE_SIZE"])
    ap.add_argument("--no_ort", action="store_true", help="skip onnxruntime")
    args = ap.parse_args(argv)

    from . import Core, error
    core = Core()
    try:
        t = time.perf_counter()
        model = core.read_model(args.model)
        read_ms = (time.perf_counter() - t) * 1e3
        print(f"[ INFO ] read model {args.model}: {read_ms:.1f} ms")
        for kind, ports in (("input", model.inputs), ("output", model.outputs)):
            for p in ports:
                print(f"[ INFO ]   {kind} {p.name}: {list(p.shape)} {p.dtype}")
        config = {"CACHE_DIR": args.cache_dir, "TUNING": "ON" if args.tuning else "OFF",
                  "CACHE_MODE": args.cache_mode}
        t = time.perf_counter()
        compiled = core.compile_model(model, args.device, config)
        compile_ms = (time.perf_counter() - t) * 1e3
    except error as e:
        print(f"[ ERROR ] {e}", file=sys.stderr)
        return 1
    print(f"[ INFO ] compile model on {args.device}: {compile_ms:.1f} ms "
          f"(LOADED_FROM_CACHE {compiled.get_property('LOADED_FROM_CACHE')}, arena "
          f"{compiled.get_property('ARENA_BYTES') / 2**20:.1f} MiB)")
    rng = np.random.default_rng(0)
    inputs = [rng.standard_normal(p.shape).astype(np.float32) for p in model.inputs]
    req = compiled.create_infer_request()
    t = time.perf_counter()
    req.infer(inputs)
    print(f"[ INFO ] first inference: {(time.perf_counter() - t) * 1e3:.1f} ms")
    _report("dnnl_py", _loop(lambda: req.infer(inputs), args.niter, args.time))

    if args.no_ort:
        return 0
    try:
        import onnxruntime as ort
    except ImportError:
        print("[ INFO ] onnxruntime is not installed: no reference run")
        return 0
    t = time.perf_counter()
    sess = ort.InferenceSession(args.model, providers=["CPUExecutionProvider"])
    print(f"[ INFO ] onnxruntime session: {(time.perf_counter() - t) * 1e3:.1f} ms")
    feed = {p.name: x for p, x in zip(model.inputs, inputs)}
    t = time.perf_counter()
    ref = sess.run(None, feed)
    print(f"[ INFO ] onnxruntime first inference: {(time.perf_counter() - t) * 1e3:.1f} ms")
    ours = req.results.to_tuple()
    err = max(float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))
              for a, b in zip(ours, ref))
    print(f"[ INFO ] max difference from onnxruntime: {err:.1e} (relative to max |output|)")
    _report("onnxruntime", _loop(lambda: sess.run(None, feed), args.niter, args.time))
    return 0


if __name__ == "__main__":
    sys.exit(main())
