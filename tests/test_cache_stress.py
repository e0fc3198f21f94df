"""Stress: eight processes share one small cache directory while one writer is killed
with SIGKILL between writing its temp file and renaming it. Every process must compute
correct results, the killed writer's temp file must go, and every entry left must pass
`verify` (checksum and MAC). Failures the cache would swallow are fatal in the workers."""
import os
import signal
import subprocess
import sys
import textwrap

from dnnl_py import cache as cache_mod
from dnnl_py.cache import __main__ as cache_cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKERS = 8
SHAPES = 12        # distinct matmul problems, so distinct entries
MAX_BYTES = 3000   # about 6 of the 12 entries: eviction runs on nearly every write
KEY = "stress-test key"

WORKER = """
    import os, sys, numpy as np, dnnl_py as dnnl
    if sys.argv[1] == "stall":  # stop for good between writing the temp file and renaming
        def stall(src, dst):
            print("stalled", flush=True)
            os.pause()
        os.replace = stall
    md, dt, tag = dnnl.memory.desc, dnnl.memory.data_type, dnnl.memory.format_tag
    eng = dnnl.engine(dnnl.engine.kind.cpu, 0)
    strm = dnnl.stream(eng)
    rng = np.random.default_rng(int(sys.argv[2]))
    sources = []
    for round in range(4):
        dnnl.clear_primitive_cache()  # each round goes to the directory again
        for s in rng.permutation(%(shapes)d):
            m, k, n = 8 + s, 16 + 2 * s, 4 + 3 * s
            a = rng.standard_normal((m, k), dtype=np.float32)
            b = rng.standard_normal((k, n), dtype=np.float32)
            pd = dnnl.matmul.primitive_desc(eng, md([m, k], dt.f32, tag.ab),
                                            md([k, n], dt.f32, tag.ab), None,
                                            md([m, n], dt.f32, tag.ab))
            prim = dnnl.matmul(pd)
            c = dnnl.memory(md([m, n], dt.f32, tag.ab), eng)
            prim.execute(strm, {dnnl.ARG_SRC: dnnl.memory(pd.src_desc(), eng, a),
                                dnnl.ARG_WEIGHTS: dnnl.memory(pd.weights_desc(), eng, b),
                                dnnl.ARG_DST: c})
            want = a.astype(np.float64) @ b
            assert np.allclose(c.to_numpy(), want, rtol=1e-4, atol=1e-4 * k), (m, k, n)
            sources.append(prim._built.source)
    print("ok", sources.count("from_cache_blob"), sources.count("cache_miss"))
""" % {"shapes": SHAPES}


def test_processes_and_a_killed_writer_on_one_small_directory(tmp_path, capsys):
    where = tmp_path / "cache"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("DNNL", "ONEDNN"))},
           "PYTHONPATH": ROOT, "DNNL_PY_CACHE_DIR": str(where),
           "DNNL_PY_CACHE_DIR_MAX_BYTES": str(MAX_BYTES), "DNNL_PY_CACHE_KEY": KEY,
           "DNNL_PY_CACHE_FAILURE_FATAL": "1", "OMP_NUM_THREADS": "1"}

    def start(mode, seed):
        return subprocess.Popen([sys.executable, "-c", textwrap.dedent(WORKER), mode,
                                 str(seed)], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
    victim = start("stall", 0)
    workers = [start("work", seed) for seed in range(1, WORKERS)]
    assert victim.stdout.readline() == "stalled\n", victim.stderr.read()
    orphans = [f for f in os.listdir(where) if f.startswith(f".tmp-{victim.pid}-")]
    victim.send_signal(signal.SIGKILL)
    assert victim.wait(10) == -signal.SIGKILL and len(orphans) == 1

    hits = 0
    for p in workers:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        ok, from_blob, missed = out.split()
        assert ok == "ok" and int(from_blob) + int(missed) == 4 * SHAPES
        hits += int(from_blob)
    assert hits > 0  # the processes did use each other's entries

    os.environ[cache_mod.KEY_ENV_VAR] = KEY  # verify checks the MAC too
    try:
        store = cache_mod.blob_store(where)
        store.evict(MAX_BYTES)  # the clean-up any later write does
        assert not [f for f in os.listdir(where) if f.startswith(".tmp-")]
        assert 0 < sum(e.size for e in store.entries()) <= MAX_BYTES
        capsys.readouterr()
        assert cache_cli.main(["verify", str(where)]) == 0
        assert " 0 damaged" in capsys.readouterr().out
    finally:
        del os.environ[cache_mod.KEY_ENV_VAR]
