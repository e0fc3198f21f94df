"""The timing loop shared by the driver and the torch reference's own process (which
loads this file alone, without dnnl_py: see torch_times.py)."""
import time


def time_runs(run, max_ms: float, fix_times: int = 0, before=None) -> list:
    """Milliseconds of repeated runs after one untimed warm-up: `fix_times` runs when set,
    else runs until `max_ms` have passed (at least one); `before`, when given, is called
    untimed before each timed run."""
    run()
    times, total = [], 0.0
    while True:
        if before:
            before()
        t0 = time.perf_counter()
        run()
        times.append((time.perf_counter() - t0) * 1e3)
        total += times[-1]
        if (len(times) >= fix_times) if fix_times else (total >= max_ms):
            return times
