"""Times torch.nn.functional.conv2d (oneDNN inside, channels-last) on ResNet-50's shapes
in a process of its own, at torch's default OpenMP settings: torch and dnnl_py would share
one libgomp in one process, and the wait policy that suits one slows the other.
Prints {"<mb>:<layer name>": minimum seconds} as JSON.

    .venv/bin/python benchmarks/torch_conv_reference.py 1 32
"""
import json
import pathlib
import sys
import time

import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from dnnl_py.benchdnn.problems import parse_conv, read_batch  # noqa: E402

SHARED = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "benchdnn"


def main(minibatches):
    times = {}
    for p in read_batch(SHARED / "shapes_resnet_50", parse_conv):
        for mb in minibatches:
            x = torch.randn(mb, p.ic, *p.i[1:]).contiguous(memory_format=torch.channels_last)
            w = torch.randn(p.oc, p.ic, *p.k[1:]).contiguous(memory_format=torch.channels_last)
            run = lambda x=x, w=w, p=p: torch.nn.functional.conv2d(  # noqa: E731
                x, w, stride=p.s[1:], padding=p.p[1:])
            run()
            best = float("inf")
            for _ in range(3 if mb > 1 else 10):
                t0 = time.perf_counter()
                run()
                best = min(best, time.perf_counter() - t0)
            times[f"{mb}:{p.name}"] = best
    print(json.dumps(times))


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [1])
