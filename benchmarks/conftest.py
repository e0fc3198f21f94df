"""Prints, after the benchmarks, each group's throughput ratio of dnnl_py against the
references measured in the same run (minimum times), and geometric means per family."""
import math
from collections import defaultdict

import pytest

from dnnl_py.benchdnn.cli import INPUTS
from dnnl_py.benchdnn.drivers import DRIVERS
from dnnl_py.benchdnn.problems import parse_conv, read_batch
from dnnl_py.benchdnn.report import torch_times
from dnnl_py.benchdnn.run import Case


@pytest.fixture(scope="session")
def torch_conv_times():
    """{"<mb>:<layer>": seconds}: torch's conv2d on ResNet-50's shapes at minibatch 1 (best
    of 10) and 32 (best of 3), timed in a process of its own by the benchdnn report's
    torch reference."""
    shapes = list(read_batch(INPUTS / "shapes_resnet_50", parse_conv))
    times = {}
    for mb, runs in ((1, 10), (32, 3)):
        cases = [Case(DRIVERS["conv"], p.with_mb(mb)) for p in shapes]
        for p, (best_ms, _) in zip(shapes, torch_times(cases, 0, runs)):
            times[f"{mb}:{p.name}"] = best_ms / 1e3
    return times


def pytest_terminal_summary(terminalreporter, config):
    session = getattr(config, "_benchmarksession", None)
    if not session or not session.benchmarks:
        return
    groups = defaultdict(dict)
    for key, seconds in getattr(config, "_torch_conv_times", {}).items():
        mb, name = key.split(":", 1)
        groups[f"conv_mb{mb}:{name}"]["torch"] = seconds
    for bench in session.benchmarks:
        impl = bench["params"].get("impl") if bench["params"] else None
        if impl:
            groups[bench["group"]][impl] = bench.stats.min
    ratios = defaultdict(lambda: defaultdict(list))
    write = terminalreporter.write_line
    write("")
    write("dnnl_py throughput / reference throughput (minimum times, same run: the least "
          "disturbed on a shared machine):")
    for group, times in sorted(groups.items()):
        if "dnnl" not in times:
            continue
        family = group.split(":")[0]
        cells = []
        for ref, t in sorted(times.items()):
            if ref != "dnnl":
                r = t / times["dnnl"]
                ratios[family][ref].append(r)
                cells.append(f"{ref} {r:5.2f}x")
        write(f"  {group:60s} dnnl {times['dnnl'] * 1e3:9.3f} ms  " + "  ".join(cells))
    for family, refs in sorted(ratios.items()):
        for ref, rs in sorted(refs.items()):
            geo = math.exp(sum(math.log(r) for r in rs) / len(rs))
            write(f"  geomean {family} vs {ref}: {geo:.2f}x over {len(rs)} shapes "
                  f"(min {min(rs):.2f}x)")
