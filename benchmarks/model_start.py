"""How fast a whole network starts and runs: ResNet-50 v1.5 and 4 BERT-base encoder
layers (seq 128), f32, batch 1, random weights, against onnxruntime in the same run
(and MobileNet v2 with --models mobilenetv2).

    PYTHONPATH=. .venv/bin/python benchmarks/model_start.py [--dir DIR] [--runs N]
        [--niter N] [--tuning] [--openvino DIR] [--gpu]

Each start is a fresh process (spawned from here, timed from before the spawn to its
first output): onnxruntime cold (session creation), dnnl_py cold (compile into an empty
CACHE_DIR) and dnnl_py warm (the same CACHE_DIR: LOADED_FROM_CACHE). Steady latency is
measured in one process, the libraries interleaved run by run. The networks are
written with torch (torchvision is not needed) and exported with torch.onnx.export at
opset 17 into DIR once.

OpenVINO is an optional reference, never a dependency: --openvino DIR (or the
MODEL_START_OPENVINO environment variable) names a folder it was installed into
(`pip install --target DIR openvino`), which is put on the path of the processes that
measure it only (after the environment's own packages, so numpy stays the
environment's). It adds OpenVINO cold (compile_model(path, "CPU"), no cache) and
OpenVINO cache hit (CACHE_DIR primed by one compile beforehand) starts, and a third
column of steady latency. It runs in f32 (INFERENCE_PRECISION_HINT): on a CPU with
AVX512_BF16, such as Zen 4, its default would be bf16.

--gpu measures compile_model cold and from the cache on the OpenCL engine instead (the
first OpenCL device: PoCL's CPU device where there is no GPU), with PoCL's and
pyopencl's kernel caches off.
"""
from __future__ import annotations

import argparse
import compileall
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _torch_models():
    import torch
    from torch import nn

    class Bottleneck(nn.Module):
        """ResNet v1.5: the stride is on the 3x3 convolution."""

        def __init__(self, cin, width, stride):
            super().__init__()
            cout = width * 4
            self.c1, self.b1 = nn.Conv2d(cin, width, 1, bias=False), nn.BatchNorm2d(width)
            self.c2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
            self.b2 = nn.BatchNorm2d(width)
            self.c3, self.b3 = nn.Conv2d(width, cout, 1, bias=False), nn.BatchNorm2d(cout)
            self.down = None
            if stride != 1 or cin != cout:
                self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                          nn.BatchNorm2d(cout))

        def forward(self, x):
            y = torch.relu(self.b1(self.c1(x)))
            y = torch.relu(self.b2(self.c2(y)))
            y = self.b3(self.c3(y))
            return torch.relu(y + (x if self.down is None else self.down(x)))

    class ResNet50(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64),
                                      nn.ReLU(), nn.MaxPool2d(3, 2, 1))
            layers, cin = [], 64
            for width, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
                for i in range(blocks):
                    layers.append(Bottleneck(cin, width, stride if i == 0 else 1))
                    cin = width * 4
            self.layers = nn.Sequential(*layers)
            self.fc = nn.Linear(2048, 1000)

        def forward(self, x):
            x = self.layers(self.stem(x))
            return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))

    class BertLayer(nn.Module):
        def __init__(self, hidden=768, heads=12, inter=3072):
            super().__init__()
            self.heads, self.dh = heads, hidden // heads
            self.q, self.k, self.v = (nn.Linear(hidden, hidden) for _ in range(3))
            self.o, self.ln1 = nn.Linear(hidden, hidden), nn.LayerNorm(hidden, eps=1e-12)
            self.i, self.out = nn.Linear(hidden, inter), nn.Linear(inter, hidden)
            self.ln2 = nn.LayerNorm(hidden, eps=1e-12)

        def forward(self, x):
            b, s, h = x.shape

            def split(t):
                return t.view(b, s, self.heads, self.dh).transpose(1, 2)
            q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
            att = torch.softmax(q @ k.transpose(-1, -2) / self.dh ** 0.5, dim=-1)
            ctx = (att @ v).transpose(1, 2).reshape(b, s, h)
            x = self.ln1(x + self.o(ctx))
            return self.ln2(x + self.out(nn.functional.gelu(self.i(x))))

    class InvertedResidual(nn.Module):
        def __init__(self, cin, cout, stride, expand):
            super().__init__()
            hidden, self.res = cin * expand, stride == 1 and cin == cout
            layers = []
            if expand != 1:
                layers += [nn.Conv2d(cin, hidden, 1, bias=False), nn.BatchNorm2d(hidden),
                           nn.ReLU6()]
            layers += [nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False),
                       nn.BatchNorm2d(hidden), nn.ReLU6(),
                       nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout)]
            self.conv = nn.Sequential(*layers)

        def forward(self, x):
            return x + self.conv(x) if self.res else self.conv(x)

    class MobileNetV2(nn.Module):
        def __init__(self):
            super().__init__()
            layers, cin = [nn.Conv2d(3, 32, 3, 2, 1, bias=False), nn.BatchNorm2d(32),
                           nn.ReLU6()], 32
            for t, c, n, s in ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                               (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)):
                for i in range(n):
                    layers.append(InvertedResidual(cin, c, s if i == 0 else 1, t))
                    cin = c
            layers += [nn.Conv2d(cin, 1280, 1, bias=False), nn.BatchNorm2d(1280), nn.ReLU6()]
            self.features = nn.Sequential(*layers)
            self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, 1000))

        def forward(self, x):
            x = nn.functional.adaptive_avg_pool2d(self.features(x), 1)
            return self.classifier(torch.flatten(x, 1))

    class Bert4(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.Sequential(*(BertLayer() for _ in range(4)))

        def forward(self, x):
            return self.layers(x)

    return {"resnet50": ResNet50, "bert4": Bert4, "mobilenetv2": MobileNetV2}


MODELS = {"resnet50": ("input", (1, 3, 224, 224)), "bert4": ("hidden", (1, 128, 768)),
          "mobilenetv2": ("input", (1, 3, 224, 224))}


def export(directory: str) -> dict:
    """{name: path} of the two networks, exported once into directory."""
    paths = {name: os.path.join(directory, f"{name}.onnx") for name in MODELS}
    if all(os.path.exists(p) for p in paths.values()):
        return paths
    import torch
    torch.manual_seed(0)
    nets = _torch_models()
    os.makedirs(directory, exist_ok=True)
    for name in MODELS:
        if os.path.exists(paths[name]):
            continue
        net = nets[name]()
        net.eval()
        if name != "bert4":  # random statistics, so that BN folding is exercised
            for mod in net.modules():
                if isinstance(mod, torch.nn.BatchNorm2d):
                    mod.running_mean.uniform_(-0.1, 0.1)
                    mod.running_var.uniform_(0.5, 1.5)
        in_name, shape = MODELS[name]
        torch.onnx.export(net, (torch.randn(*shape),), paths[name], input_names=[in_name],
                          output_names=["output"], opset_version=17, dynamo=False)
    return paths


OV_CONFIG = {"INFERENCE_PRECISION_HINT": "f32"}


def _import_openvino():
    """openvino from the folder named by MODEL_START_OPENVINO (set by _env for the
    processes that measure it), appended to the path: the environment's numpy wins."""
    folder = os.environ.get("MODEL_START_OPENVINO", "")
    if folder and folder not in sys.path:
        sys.path.append(folder)
    import openvino
    return openvino


# -- the child processes ------------------------------------------------------------
def child(kind: str, path: str, cache_dir: str, tuning: bool) -> None:
    """One fresh process's start: prints a JSON line of its timings (ms) and the wall
    clock at its first output."""
    t0 = time.perf_counter()
    import numpy as np
    name = os.path.basename(path)[:-5]
    x = np.random.default_rng(0).standard_normal(MODELS[name][1]).astype(np.float32)
    out = {}
    if kind == "ort":
        import onnxruntime as ort
        t1 = time.perf_counter()
        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        t2 = time.perf_counter()
        y = sess.run(None, {MODELS[name][0]: x})[0]
        t3 = time.perf_counter()
        out.update(import_ms=(t1 - t0) * 1e3, compile_ms=(t2 - t1) * 1e3, read_ms=0.0)
    elif kind == "ov":
        ov = _import_openvino()
        t1 = time.perf_counter()
        core = ov.Core()
        if cache_dir:
            core.set_property({"CACHE_DIR": cache_dir})
        compiled = core.compile_model(path, "CPU", OV_CONFIG)  # from the path: its fast path
        t2 = time.perf_counter()
        y = compiled([x])[0]
        t3 = time.perf_counter()
        out.update(import_ms=(t1 - t0) * 1e3, compile_ms=(t2 - t1) * 1e3, read_ms=0.0,
                   loaded_from_cache=bool(cache_dir)
                   and bool(compiled.get_property("LOADED_FROM_CACHE")))
    else:
        import dnnl_py as dnnl
        device = "CPU"
        if kind == "dnnl-ocl":  # the OpenCL engine on the first OpenCL device
            import pyopencl as cl
            dev = next(d for p in cl.get_platforms() for d in p.get_devices())
            device = dnnl.ocl_interop.make_engine(dev, cl.Context([dev]))
        t1 = time.perf_counter()
        core = dnnl.Core()
        model = core.read_model(path)
        tr = time.perf_counter()
        config = {"CACHE_DIR": cache_dir, "TUNING": "ON" if tuning else "OFF"}
        compiled = core.compile_model(model, device, config)
        t2 = time.perf_counter()
        y = compiled([x])[0]
        t3 = time.perf_counter()
        out.update(import_ms=(t1 - t0) * 1e3, read_ms=(tr - t1) * 1e3,
                   compile_ms=(t2 - tr) * 1e3,
                   loaded_from_cache=compiled.get_property("LOADED_FROM_CACHE"))
    out.update(first_infer_ms=(t3 - t2) * 1e3, first_output_wall=time.time(),
               checksum=float(np.abs(y).sum()))
    print(json.dumps(out))


def _env() -> dict:
    return dict(os.environ, PYTHONPATH=ROOT)


def _spawn(kind: str, path: str, cache_dir: str, tuning: bool) -> dict:
    env = _env()
    start = time.time()
    res = subprocess.run([sys.executable, __file__, "--child", kind, path, cache_dir,
                          str(int(tuning))], capture_output=True, text=True, env=env,
                         check=False)
    if res.returncode:
        raise SystemExit(f"{kind} child failed:\n{res.stderr}")
    out = json.loads(res.stdout.strip().splitlines()[-1])
    out["start_to_first_output_ms"] = (out["first_output_wall"] - start) * 1e3
    return out


def latency(path: str, niter: int) -> dict:
    """Steady latency, the libraries interleaved in one fresh process (no torch in it:
    torch's spinning OpenMP threads would slow dnnl_py's kernels)."""
    import numpy as np  # noqa: I001 - dnnl_py first: its OpenMP settings come first

    import dnnl_py as dnnl
    import onnxruntime as ort
    name = os.path.basename(path)[:-5]
    x = np.random.default_rng(1).standard_normal(MODELS[name][1]).astype(np.float32)
    # onnxruntime's intra-op workers spin after a run, holding a core while the next
    # library runs: interleaved on 2 cores that made dnnl_py's ResNet-50 runs 1.5x slower
    # (75 -> 48 ms median) and onnxruntime's own 10% slower (43 -> 39 ms), so they sleep
    # (docs/models.md, "Measured")
    opts = ort.SessionOptions()
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    compiled = dnnl.Core().compile_model(path, "CPU")
    req = compiled.create_infer_request()
    feed = {MODELS[name][0]: x}
    runs = {"dnnl": lambda: req.infer([x])[0], "ort": lambda: sess.run(None, feed)[0]}
    if os.environ.get("MODEL_START_OPENVINO"):
        ov_req = _import_openvino().Core().compile_model(
            path, "CPU", OV_CONFIG).create_infer_request()
        runs["ov"] = lambda: ov_req.infer([x])[0]
    ref = runs["ort"]()
    errs = {k: float(np.abs(f() - ref).max() / max(np.abs(ref).max(), 1e-30))
            for k, f in runs.items() if k != "ort"}
    times: dict = {k: [] for k in runs}
    for f in runs.values():  # warm-up
        f()
        f()
    for _ in range(niter):
        for k, f in runs.items():
            t = time.perf_counter()
            f()
            times[k].append((time.perf_counter() - t) * 1e3)
    return {"max_rel_err_vs_ort": errs,
            **{k: (statistics.median(v), min(v)) for k, v in times.items()}}


def gpu(paths: dict, args) -> None:
    """Compile cold and from the cache on the OpenCL engine, fresh processes, with PoCL's
    and pyopencl's own kernel caches off (ours is then the only one in play)."""
    os.environ.update(POCL_KERNEL_CACHE="0", PYOPENCL_NO_CACHE="1")
    for name in args.models.split(","):
        cache_dir = os.path.join(args.dir, f"ocl-cache-{name}")
        rows: dict = {"cold": [], "warm": []}
        for _ in range(args.runs):
            shutil.rmtree(cache_dir, ignore_errors=True)
            rows["cold"].append(_spawn("dnnl-ocl", paths[name], cache_dir, False))
            rows["warm"].append(_spawn("dnnl-ocl", paths[name], cache_dir, False))
            assert rows["warm"][-1]["loaded_from_cache"], "the warm start missed the cache"
        med = {k: {f: statistics.median(r[f] for r in v) for f in
                   ("compile_ms", "first_infer_ms")} for k, v in rows.items()}
        print(f"{name} on the OpenCL engine ({args.runs} fresh processes each; medians): "
              f"compile cold {med['cold']['compile_ms']:.0f} ms, from cache "
              f"{med['warm']['compile_ms']:.0f} ms -> "
              f"{med['cold']['compile_ms'] / med['warm']['compile_ms']:.1f}x; first "
              f"inference cold {med['cold']['first_infer_ms']:.0f} ms, warm "
              f"{med['warm']['first_infer_ms']:.0f} ms")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", default="/tmp/dnnl_py_models")
    ap.add_argument("--runs", type=int, default=3, help="fresh processes per start kind")
    ap.add_argument("--niter", type=int, default=20, help="latency iterations")
    ap.add_argument("--tuning", action="store_true", help="compile with TUNING ON")
    ap.add_argument("--models", default="resnet50,bert4")
    ap.add_argument("--openvino", default=os.environ.get("MODEL_START_OPENVINO", ""),
                    metavar="DIR", help="a folder openvino was pip-installed into (--target): "
                    "adds it as a reference")
    ap.add_argument("--gpu", action="store_true", help="compile cold and from the cache on "
                    "the OpenCL engine (the first OpenCL device), its caches off")
    ap.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    ap.add_argument("--latency-child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.latency_child:
        print(json.dumps(latency(args.latency_child[0], int(args.latency_child[1]))))
        return 0
    if args.child:
        kind, path, cache_dir, tuning = args.child
        child(kind, path, cache_dir, tuning == "1")
        return 0
    # what `pip install` does for an installed package, so that an environment with
    # PYTHONDONTWRITEBYTECODE does not make every child compile dnnl_py's sources
    compileall.compile_dir(os.path.join(ROOT, "dnnl_py"), quiet=1)
    if args.gpu:
        gpu(export(args.dir), args)
        return 0
    if args.openvino:  # the children that measure OpenVINO find it here
        os.environ["MODEL_START_OPENVINO"] = os.path.abspath(args.openvino)
    with_ov = bool(args.openvino)
    paths = export(args.dir)
    for name in args.models.split(","):
        path = paths[name]
        cache_dir = os.path.join(args.dir, f"cache-{name}")
        ov_cache = os.path.join(args.dir, f"ov-cache-{name}")
        kinds = [("ort", "onnxruntime cold")]
        if with_ov:
            kinds += [("ov_cold", "OpenVINO cold"), ("ov_hit", "OpenVINO cache hit")]
        kinds += [("cold", "dnnl_py cold"), ("warm", "dnnl_py warm (cache)")]
        rows: dict = {k: [] for k, _ in kinds}
        for _ in range(args.runs):
            shutil.rmtree(cache_dir, ignore_errors=True)
            rows["ort"].append(_spawn("ort", path, cache_dir, args.tuning))
            if with_ov:
                shutil.rmtree(ov_cache, ignore_errors=True)
                rows["ov_cold"].append(_spawn("ov", path, "", False))
                _spawn("ov", path, ov_cache, False)  # primes the cache
                rows["ov_hit"].append(_spawn("ov", path, ov_cache, False))
                assert rows["ov_hit"][-1]["loaded_from_cache"], "OpenVINO missed its cache"
            rows["cold"].append(_spawn("dnnl", path, cache_dir, args.tuning))
            rows["warm"].append(_spawn("dnnl", path, cache_dir, args.tuning))
            assert rows["warm"][-1]["loaded_from_cache"], "the warm start missed the cache"
        size = os.path.getsize(path) / 2**20
        print(f"\n{name} ({size:.0f} MB, {args.runs} fresh processes each; median / min ms)")
        fields = ("import_ms", "read_ms", "compile_ms", "first_infer_ms",
                  "start_to_first_output_ms")
        print("| | " + " | ".join(f.replace("_ms", "") for f in fields) + " |")
        print("|---" * (len(fields) + 1) + "|")
        for kind, label in kinds:
            cells = []
            for f in fields:
                v = [r[f] for r in rows[kind]]
                cells.append(f"{statistics.median(v):.0f} / {min(v):.0f}")
            print(f"| {label} | " + " | ".join(cells) + " |")

        def med(kind, f, rows=rows):
            return statistics.median(r[f] for r in rows[kind])
        start = "start_to_first_output_ms"
        line = (f"warm start / onnxruntime cold start: "
                f"{med('warm', start) / med('ort', start):.2f}x")
        if with_ov:
            line += (f"; warm start / OpenVINO cache-hit start: "
                     f"{med('warm', start) / med('ov_hit', start):.2f}x")
        print(line + f"; compile cold / from cache: "
              f"{med('cold', 'compile_ms') / med('warm', 'compile_ms'):.1f}x")
        res = subprocess.run([sys.executable, __file__, "--latency-child", path,
                              str(args.niter)], capture_output=True, text=True, check=False,
                             env=_env())
        if res.returncode:
            raise SystemExit(f"latency child failed:\n{res.stderr}")
        lat = json.loads(res.stdout.strip().splitlines()[-1])
        line = (f"steady latency (interleaved, {args.niter} runs, median / min ms): dnnl_py "
                f"{lat['dnnl'][0]:.1f} / {lat['dnnl'][1]:.1f}, onnxruntime {lat['ort'][0]:.1f} "
                f"/ {lat['ort'][1]:.1f} -> {lat['dnnl'][0] / lat['ort'][0]:.2f}x")
        if "ov" in lat:
            line += (f"; OpenVINO f32 {lat['ov'][0]:.1f} / {lat['ov'][1]:.1f} -> dnnl_py / "
                     f"OpenVINO {lat['dnnl'][0] / lat['ov'][0]:.2f}x")
        errs = ", ".join(f"{k} {v:.1e}" for k, v in lat["max_rel_err_vs_ort"].items())
        print(line + f"; max difference from onnxruntime (relative to max |output|): {errs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
