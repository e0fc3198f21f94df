"""Prints, after the benchmarks, each group's throughput ratio of dnnl_py against the
references measured in the same run (minimum times), and geometric means per family."""
import json
import math
import pathlib
import subprocess
import sys
from collections import defaultdict

import pytest

_HERE = pathlib.Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def torch_conv_times():
    """{"<mb>:<layer>": seconds} from torch_conv_reference.py in its own process."""
    out = subprocess.run([sys.executable, str(_HERE / "torch_conv_reference.py"), "1", "32"],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


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
