"""The torch reference of the report, run as a script in a process of its own: torch and
dnnl_py would share one libgomp in one process, and the OpenMP wait policy that suits one
slows the other. It imports torch and timing.py, never dnnl_py.

stdin: {"max_ms": N, "fix_times": N, "problems": [{"kind": "conv", "src": dims,
"weights": dims (with a groups dim when grouped), "groups", "strides", "dilates" (oneDNN's:
0 = dense), "pad_l", "pad_r"} | {"kind": "matmul", "src": dims, "weights": dims}, ...]}
stdout: JSON [[min_ms, avg_ms], ...], one per problem.
"""
import json
import pathlib
import sys

import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from timing import time_runs  # noqa: E402

CONV = {1: torch.nn.functional.conv1d, 2: torch.nn.functional.conv2d,
        3: torch.nn.functional.conv3d}


def conv_runner(p: dict):
    src = torch.randn(p["src"])
    wei = torch.randn(p["weights"])
    if p["groups"] > 1:
        wei = wei.flatten(0, 1)          # (G, O/G, I/G, k) -> (O, I/G, k)
    sp = src.dim() - 2
    if sp == 2:  # channels-last: oneDNN's fast path inside torch, as dnnl_py's nhwc
        src = src.contiguous(memory_format=torch.channels_last)
        wei = wei.contiguous(memory_format=torch.channels_last)
    pad = p["pad_l"]
    extra = []                           # F.pad order: last dim first, (left, right)
    if p["pad_r"] != p["pad_l"]:
        extra = [x for pl, pr in zip(reversed(p["pad_l"]), reversed(p["pad_r"]))
                 for x in (pl, pr)]
        pad = [0] * sp
    conv = CONV[sp]
    dil = [d + 1 for d in p["dilates"]]

    def run():
        x = torch.nn.functional.pad(src, extra) if extra else src
        conv(x, wei, stride=p["strides"], padding=pad, dilation=dil, groups=p["groups"])
    return run


def matmul_runner(p: dict):
    a, b = torch.randn(p["src"]), torch.randn(p["weights"])
    out = torch.matmul(a, b)
    return lambda: torch.matmul(a, b, out=out)


def main() -> None:
    request = json.load(sys.stdin)
    results = []
    with torch.inference_mode():
        for p in request["problems"]:
            runner = conv_runner(p) if p["kind"] == "conv" else matmul_runner(p)
            times = time_runs(runner, request["max_ms"], request["fix_times"])
            results.append([min(times), sum(times) / len(times)])
    print(json.dumps(results))


if __name__ == "__main__":
    main()
