"""Cache blobs (memory descriptors, primitives), CPU tuning and the cache directory:
round trips in this and fresh processes, every kind of bad blob, the primitive cache
winning over a blob, atomic concurrent writes, LRU size bound, encryption, the CLI."""
import os
import stat
import subprocess
import sys
import tempfile
import textwrap
import warnings

import numpy as np
import pytest
from helpers import make_attr, to_memory
from reference import assert_close, conv_fwd

import dnnl_py as dnnl
from dnnl_py import blob, tuning
from dnnl_py import cache as cache_mod
from dnnl_py import store as store_mod
from dnnl_py.cache import __main__ as cache_cli

md, dt, tag = dnnl.memory.desc, dnnl.memory.data_type, dnnl.memory.format_tag
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


pytestmark = pytest.mark.usefixtures("clean_caches")


@pytest.fixture
def tolerant_cache(monkeypatch):
    """Cache failures swallowed, as in production (the suite makes them fatal): for the
    tests of what a swallowed failure does."""
    monkeypatch.setenv(cache_mod.FAILURE_FATAL_ENV_VAR, "0")


def conv_pd(eng, ic=16, oc=32, bias=True, relu=True):
    return dnnl.convolution_forward.primitive_desc(
        eng, dnnl.prop_kind.forward_inference, dnnl.algorithm.convolution_direct,
        md([2, ic, 9, 9], dt.f32, tag.nhwc), md([oc, ic, 3, 3], dt.f32, tag.any),
        md([oc], dt.f32, tag.a) if bias else None, md([2, oc, 9, 9], dt.f32, tag.nhwc),
        [1, 1], [1, 1], [1, 1], attr=make_attr((("eltwise", "eltwise_relu", 0.0, 0.0),)
                                               if relu else ()))


def matmul_pd(eng, m=33, k=40, n=24):
    return dnnl.matmul.primitive_desc(eng, md([m, k], dt.f32, tag.ab), md([k, n], dt.f32, tag.ab),
                                      None, md([m, n], dt.f32, tag.ab))


def run_conv(eng, strm, prim, rng):
    pd = prim.get_primitive_desc()
    x = rng.standard_normal((2, 16, 9, 9), dtype=np.float32)
    w = rng.standard_normal((32, 16, 3, 3), dtype=np.float32)
    b = rng.standard_normal(32, dtype=np.float32)
    dst = dnnl.memory(pd.dst_desc(), eng)
    prim.execute(strm, {dnnl.ARG_SRC: to_memory(eng, strm, x, pd.src_desc()),
                        dnnl.ARG_WEIGHTS: to_memory(eng, strm, w, pd.weights_desc()),
                        dnnl.ARG_BIAS: to_memory(eng, strm, b, pd.bias_desc()),
                        dnnl.ARG_DST: dst})
    want = np.maximum(conv_fwd(x, w[None], b, (1, 1), (0, 0), (1, 1), (1, 1), 1), 0)
    assert_close(dst.to_numpy(), want, 16 * 9)


def child(code: str, **env) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("DNNL", "ONEDNN"))}
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)],
                         env={**base, **env, "PYTHONPATH": ROOT + os.pathsep + ROOT + "/tests"},
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out


# memory descriptor blobs ----------------------------------------------------------

MDS = [md(), md([2, 3], dt.f32, tag.any), md([2, 3], dt.f32, tag.ba),
       md([5, 7], dt.f32, [1, 9]), md([2, 17, 5, 5], dt.f32, tag.aBcd8b),
       md([3, 4, 5, 6, 7], dt.s8, tag.ndhwc), md([0, 4], dt.f32, tag.ab)]


@pytest.mark.parametrize("m", MDS, ids=repr)
def test_md_blob_round_trip(m):
    again = md(m.get_blob())
    assert again == m and again.get_strides() == m.get_strides()
    assert again.get_inner_blks() == m.get_inner_blks() and again.get_size() == m.get_size()


def _bad_md_blobs():
    good = md([2, 17, 5, 5], dt.f32, tag.aBcd8b).get_blob()
    flipped = bytearray(good)
    flipped[60] ^= 1
    _, records = blob.unpack(good, blob.Kind.memory_desc, "x")
    forged = blob.pack(blob.Kind.memory_desc, b"\0" * 32,
                       {**records, "strides": blob.ints([1, 2])})
    return {"empty": (b"", "too short"), "truncated": (good[:-5], "checksum"),
            "flipped": (bytes(flipped), "checksum"), "magic": (b"X" + good[1:], "magic"),
            "kind": (conv_blob(), "holds a primitive"),
            "forged strides": (forged, "2 strides for 4 dims"),
            "not bytes": ("abc", "expected a sequence of integers")}


def conv_blob():
    return dnnl.convolution_forward(conv_pd(dnnl.engine(dnnl.engine.kind.cpu, 0))).get_cache_blob()


@pytest.mark.parametrize("name", ["empty", "truncated", "flipped", "magic", "kind",
                                  "forged strides", "not bytes"])
def test_bad_md_blob(name):
    data, message = _bad_md_blobs()[name]
    with pytest.raises(dnnl.error) as e:
        md(data)
    assert e.value.status == dnnl.status.invalid_arguments and message in str(e.value)


def test_every_truncation_is_refused():
    good = conv_blob()
    dnnl.clear_primitive_cache()  # a primitive cache hit wins over a blob: not read then
    for n in range(0, len(good), 7):
        with pytest.raises(dnnl.error):
            dnnl.convolution_forward(conv_pd(dnnl.engine(dnnl.engine.kind.cpu, 0)), good[:n])


# primitive blobs ------------------------------------------------------------------

def test_a_cache_hit_wins_over_a_blob(eng):
    """As in oneDNN, the blob is read only on a primitive cache miss."""
    prim = dnnl.convolution_forward(conv_pd(eng))
    again = dnnl.convolution_forward(conv_pd(eng), b"not a blob at all")
    assert again._kernel is prim._kernel
    dnnl.clear_primitive_cache()
    with pytest.raises(dnnl.error, match="blob"):
        dnnl.convolution_forward(conv_pd(eng), b"not a blob at all")


def test_blob_id_tells_problems_apart(eng):
    ids = {conv_pd(eng).get_cache_blob_id(), conv_pd(eng, ic=32).get_cache_blob_id(),
           conv_pd(eng, bias=False).get_cache_blob_id(),
           conv_pd(eng, relu=False).get_cache_blob_id(), matmul_pd(eng).get_cache_blob_id()}
    assert len(ids) == 5 and all(len(i) == 32 for i in ids)
    assert conv_pd(eng).get_cache_blob_id() == conv_pd(eng).get_cache_blob_id()
    before = conv_pd(eng).get_cache_blob_id()
    dnnl.set_cpu_tuning(True)
    assert conv_pd(eng).get_cache_blob_id() != before


def test_conv_from_blob_computes_the_same(eng, strm, rng, capsys):
    blob_bytes = dnnl.convolution_forward(conv_pd(eng)).get_cache_blob()
    dnnl.clear_primitive_cache()
    dnnl.set_verbose(2)
    try:
        prim = dnnl.convolution_forward(conv_pd(eng), blob_bytes)
        again = dnnl.convolution_forward(conv_pd(eng), blob_bytes)  # the cache wins
    finally:
        dnnl.set_verbose(0)
    states = [line.split(",")[3] for line in capsys.readouterr().out.splitlines()
              if ",create:" in line]
    assert states == ["create:from_cache_blob", "create:cache_hit"]
    assert again._kernel is prim._kernel and prim.get_cache_blob() == blob_bytes
    run_conv(eng, strm, prim, rng)


def test_matmul_and_reorder_blobs(eng, strm, rng):
    a = rng.standard_normal((33, 40), dtype=np.float32)
    b = rng.standard_normal((40, 24), dtype=np.float32)
    blob_bytes = dnnl.matmul(matmul_pd(eng)).get_cache_blob()
    dnnl.clear_primitive_cache()
    prim = dnnl.matmul(matmul_pd(eng), blob_bytes)
    c = dnnl.memory(md([33, 24], dt.f32, tag.ab), eng)
    prim.execute(strm, {dnnl.ARG_SRC: dnnl.memory(md([33, 40], dt.f32, tag.ab), eng, a),
                        dnnl.ARG_WEIGHTS: dnnl.memory(md([40, 24], dt.f32, tag.ab), eng, b),
                        dnnl.ARG_DST: c})
    assert_close(c.to_numpy(), a @ b, 40)
    src, dst = md([4, 5], dt.f32, tag.ab), md([4, 5], dt.f32, tag.ba)
    rpd = dnnl.reorder.primitive_desc(eng, src, eng, dst)
    again = dnnl.reorder(rpd, dnnl.reorder(rpd).get_cache_blob())
    assert again.get_primitive_desc().impl_info_str() == rpd.impl_info_str()


def test_bad_primitive_blobs(eng):
    good = dnnl.convolution_forward(conv_pd(eng)).get_cache_blob()
    _, records = blob.unpack(good, blob.Kind.primitive, "x")
    digest = conv_pd(eng).get_cache_blob_id()
    cases = {
        "other problem": (conv_pd(eng, ic=32), good, "made for problem"),
        "other kind": (matmul_pd(eng), good, "made for problem"),
        "other version": (conv_pd(eng), blob.pack(blob.Kind.primitive, digest,
                                                  {**records, "library": b"dnnl_py 9.9.9"}),
                          "made for library 'dnnl_py 9.9.9'"),
        "other device": (conv_pd(eng), blob.pack(blob.Kind.primitive, digest,
                                                 {**records, "device": b"avx2 elsewhere"}),
                         "made for device"),
        "unknown blocking": (conv_pd(eng), blob.pack(blob.Kind.primitive, digest,
                                                     {**records, "params": blob.ints([7, 7])}),
                             "no blocking [7, 7]"),
        "unknown impl": (conv_pd(eng), blob.pack(blob.Kind.primitive, digest,
                                                 {**records, "impl": b"cpu:magic"}),
                         "cpu:magic does not take"),
        "md blob": (conv_pd(eng), md([2], dt.f32, tag.a).get_blob(), "holds a memory_desc"),
    }
    for name, (pd, data, message) in cases.items():
        dnnl.clear_primitive_cache()
        is_matmul = isinstance(pd, dnnl.matmul.primitive_desc)
        kind = dnnl.matmul if is_matmul else dnnl.convolution_forward
        with pytest.raises(dnnl.error) as e:
            kind(pd, data)
        assert e.value.status == dnnl.status.invalid_arguments, name
        assert message in str(e.value), (name, str(e.value))


def test_blob_in_a_fresh_process(eng, tmp_path):
    made = child("""
        import dnnl_py as dnnl, test_persistent_cache as t
        eng = dnnl.engine(dnnl.engine.kind.cpu, 0)
        pd = t.conv_pd(eng)
        open(%r, "wb").write(dnnl.convolution_forward(pd).get_cache_blob())
        print(pd.get_cache_blob_id().hex())
    """ % str(tmp_path / "conv.blob"))
    assert made.stdout.strip() == conv_pd(eng).get_cache_blob_id().hex()
    used = child("""
        import numpy as np, dnnl_py as dnnl, test_persistent_cache as t
        eng = dnnl.engine(dnnl.engine.kind.cpu, 0)
        prim = dnnl.convolution_forward(t.conv_pd(eng), open(%r, "rb").read())
        t.run_conv(eng, dnnl.stream(eng), prim, np.random.default_rng(0))
    """ % str(tmp_path / "conv.blob"), ONEDNN_VERBOSE="2")
    assert "create:from_cache_blob" in used.stdout


# tuning ---------------------------------------------------------------------------

def test_tuning_keeps_the_fastest_and_the_blob_keeps_the_choice(eng, strm, rng, monkeypatch):
    pairs = tuning.candidates(conv_pd(eng))
    assert len(pairs) > 3 and pairs[0][1] == conv_pd(eng)._impl.params()
    assert not any(impl.reference for impl, _ in pairs)
    pick = pairs[-1][1]  # make the last candidate the fastest
    timed = []

    def fake_time(kernel, buffers, to_beat):
        timed.append(1)
        return 0.5 if picked and kernel is picked[0] else 1.0
    picked = []
    real_make = type(pairs[-1][0]).make_kernel

    def make(self, params=None):
        kernel = real_make(self, params)
        if params == pick:
            picked.append(kernel)
        return kernel
    monkeypatch.setattr(type(pairs[-1][0]), "make_kernel", make)
    monkeypatch.setattr(tuning, "_time", fake_time)
    dnnl.set_cpu_tuning(True)
    prim = dnnl.convolution_forward(conv_pd(eng))
    assert len(timed) == len(pairs) and prim._built.params == pick
    run_conv(eng, strm, prim, rng)
    timed.clear()
    dnnl.clear_primitive_cache()
    again = dnnl.convolution_forward(conv_pd(eng), prim.get_cache_blob())
    assert not timed and again._built.params == pick


def test_a_tuned_blob_serves_an_untuned_primitive_never_the_reverse(eng, tmp_path):
    """FFTW's wisdom rule, for blobs given and for the cache directory."""
    dnnl.set_cpu_tuning(True)
    tuned_blob = dnnl.convolution_forward(conv_pd(eng)).get_cache_blob()
    dnnl.set_cpu_tuning(False)
    dnnl.clear_primitive_cache()
    served = dnnl.convolution_forward(conv_pd(eng), tuned_blob)
    assert served._built.source == "from_cache_blob"
    untuned_blob = dnnl.convolution_forward(conv_pd(eng, relu=False)).get_cache_blob()
    dnnl.set_cpu_tuning(True)
    dnnl.clear_primitive_cache()
    with pytest.raises(dnnl.error, match="tuning 'off', this is 'on'"):
        dnnl.convolution_forward(conv_pd(eng, relu=False), untuned_blob)
    # the directory: a tuned process fills it; an untuned one finds the tuned blob
    dnnl.set_cache_dir(tmp_path)
    dnnl.clear_primitive_cache()
    dnnl.convolution_forward(conv_pd(eng, ic=8))
    dnnl.set_cpu_tuning(False)
    dnnl.clear_primitive_cache()
    assert dnnl.convolution_forward(conv_pd(eng, ic=8))._built.source == "from_cache_blob"


def test_tuning_from_environment():
    out = child("import dnnl_py as d; print(d.get_cpu_tuning())", DNNL_PY_CPU_TUNING="1")
    assert out.stdout.strip() == "True"


# the cache directory --------------------------------------------------------------

CREATE_TWICE = """
    import dnnl_py as dnnl, test_persistent_cache as t
    eng = dnnl.engine(dnnl.engine.kind.cpu, 0)
    dnnl.convolution_forward(t.conv_pd(eng))
    dnnl.matmul(t.matmul_pd(eng))
"""


def states(out) -> list:
    return [line.split(",")[3] for line in out.stdout.splitlines() if ",create:" in line]


def test_cache_dir_across_processes(tmp_path):
    where = tmp_path / "cache"
    first = child(CREATE_TWICE, DNNL_PY_CACHE_DIR=str(where), ONEDNN_VERBOSE="2")
    second = child(CREATE_TWICE, DNNL_PY_CACHE_DIR=str(where), ONEDNN_VERBOSE="2")
    assert states(first) == ["create:cache_miss"] * 2
    assert states(second) == ["create:from_cache_blob"] * 2
    assert stat.S_IMODE(os.stat(where).st_mode) == 0o700
    files = list(where.iterdir())
    assert len(files) == 2 and all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)


def test_damaged_entry_is_a_miss_and_rewritten(eng, tmp_path, caplog, tolerant_cache):
    dnnl.set_cache_dir(tmp_path)
    dnnl.convolution_forward(conv_pd(eng))
    (entry,) = tmp_path.iterdir()
    entry.write_bytes(entry.read_bytes()[:-9])
    dnnl.clear_primitive_cache()
    prim = dnnl.convolution_forward(conv_pd(eng))
    assert prim._built.source == "cache_miss" and "dropping cache entry" in caplog.text
    dnnl.clear_primitive_cache()
    assert dnnl.convolution_forward(conv_pd(eng))._built.source == "from_cache_blob"


def test_encryption(eng, tmp_path, tolerant_cache):
    key = 0x5A
    flip = lambda data: bytes(b ^ key for b in data)  # noqa: E731  (a stand-in cipher)
    dnnl.set_cache_dir(tmp_path, encrypt=flip, decrypt=flip)
    plain = dnnl.convolution_forward(conv_pd(eng)).get_cache_blob()
    (entry,) = tmp_path.iterdir()
    on_disk = entry.read_bytes()
    assert b"DNNLPYB" not in on_disk and b"dnnl_py" not in on_disk and flip(plain) in on_disk
    dnnl.clear_primitive_cache()
    assert dnnl.convolution_forward(conv_pd(eng))._built.source == "from_cache_blob"
    dnnl.set_cache_dir(tmp_path, encrypt=flip, decrypt=lambda data: data)  # the wrong key
    dnnl.clear_primitive_cache()
    assert dnnl.convolution_forward(conv_pd(eng))._built.source == "cache_miss"
    dnnl.set_cache_dir(tmp_path, encrypt=flip, decrypt=lambda data: 1 / 0)  # one that raises
    dnnl.clear_primitive_cache()
    assert dnnl.convolution_forward(conv_pd(eng))._built.source == "cache_miss"


def test_full_dir_warns_once_and_carries_on(eng, strm, rng, tmp_path, monkeypatch, tolerant_cache):
    def no_space(*args, **kwargs):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(tempfile, "mkstemp", no_space)  # put() imports it when it writes
    dnnl.set_cache_dir(tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run_conv(eng, strm, dnnl.convolution_forward(conv_pd(eng)), rng)
        dnnl.matmul(matmul_pd(eng))
    assert [str(w.message) for w in caught if "No space" in str(w.message)] == [
        f"dnnl_py cache dir: cannot write in {tmp_path}: [Errno 28] No space left on device; "
        "carrying on without storing"]


def test_uncreatable_dir_warns_and_carries_on(eng, strm, rng, tmp_path, tolerant_cache):
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    with pytest.warns(RuntimeWarning, match="cannot"):
        dnnl.set_cache_dir(blocker / "sub")
        run_conv(eng, strm, dnnl.convolution_forward(conv_pd(eng)), rng)


def test_max_bytes_evicts_least_recently_used(eng, tmp_path):
    store = dnnl.blob_store(tmp_path)
    for i in range(5):
        store.put(b"key%d" % i, bytes(1000))
        os.utime(store._file(b"key%d" % i), (i, i))
    assert store.get(b"key0") is not None  # now the most recently used
    store.max_bytes = 3 * 1100
    store.put(b"key5", bytes(1000))
    kept = [k for k in (b"key%d" % i for i in range(6)) if store.get(k) is not None]
    assert kept == [b"key0", b"key4", b"key5"]


def test_cache_dir_from_environment_with_bound(tmp_path, monkeypatch):
    monkeypatch.setenv("DNNL_PY_CACHE_DIR", str(tmp_path / "env"))
    monkeypatch.setattr(store_mod._State, "from_env", True)
    monkeypatch.setenv("DNNL_PY_CACHE_DIR_MAX_BYTES", "4096")
    store = store_mod.active_store()
    assert store.path == str(tmp_path / "env") and store.max_bytes == 4096
    monkeypatch.setattr(store_mod._State, "from_env", True)
    monkeypatch.setenv("DNNL_PY_CACHE_DIR_MAX_BYTES", "4 MB")
    with pytest.warns(RuntimeWarning, match="not a byte count"):
        assert store_mod.active_store().max_bytes is None


def test_cache_dir_expands_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    dnnl.set_cache_dir("~/dnnl_cache")
    assert dnnl.get_cache_dir() == str(tmp_path / "dnnl_cache")
    assert (tmp_path / "dnnl_cache").is_dir()


def test_store_get_put_and_bad_arguments(tmp_path):
    store = dnnl.blob_store(tmp_path)
    assert store.get(b"absent") is None
    store.put(b"k", b"value")
    assert store.get(b"k") == b"value"
    for bad in ({"max_bytes": -1}, {"encrypt": bytes}):
        with pytest.raises(dnnl.error):
            dnnl.blob_store(tmp_path, **bad)
    with pytest.raises(dnnl.error):
        store.get("text key")


def test_processes_filling_one_directory(tmp_path):
    """Four processes write the same 40 keys at once: every entry ends whole."""
    code = f"""
        import os, dnnl_py as dnnl
        store = dnnl.blob_store({str(tmp_path)!r})
        for round in range(5):
            for i in range(40):
                store.put(b"key%d" % i, (b"%d:" % i) * (1000 + i) + os.urandom(8) * 0)
                value = store.get(b"key%d" % ((i * 7) % 40))
                assert value is None or value.startswith(b"%d:" % ((i * 7) % 40)), value[:20]
    """
    procs = [subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)],
                              env={**os.environ, "PYTHONPATH": ROOT}, stderr=subprocess.PIPE)
             for _ in range(4)]
    for p in procs:
        assert p.wait(120) == 0, p.stderr.read().decode()
    store = dnnl.blob_store(tmp_path)
    assert len(store.entries()) == 40
    for i in range(40):
        assert store.get(b"key%d" % i) == (b"%d:" % i) * (1000 + i)
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".tmp-")]


def test_cli(eng, tmp_path, capsys):
    dnnl.set_cache_dir(tmp_path)
    dnnl.convolution_forward(conv_pd(eng))
    dnnl.matmul(matmul_pd(eng))
    assert cache_cli.main(["info", str(tmp_path)]) == 0
    assert "entries   2" in capsys.readouterr().out
    assert cache_cli.main(["ls", str(tmp_path)]) == 0
    assert capsys.readouterr().out.count(".blob") == 2
    assert cache_cli.main(["verify", str(tmp_path)]) == 0
    assert "2 ok, 0 damaged" in capsys.readouterr().out
    victim = sorted(tmp_path.iterdir())[0]
    victim.write_bytes(victim.read_bytes()[:40])
    assert cache_cli.main(["verify", str(tmp_path), "--remove"]) == 1
    assert "DAMAGED" in capsys.readouterr().out and not victim.exists()
    assert cache_cli.main(["clear", str(tmp_path)]) == 0
    assert "removed 1 files" in capsys.readouterr().out
    out = subprocess.run([sys.executable, "-m", "dnnl_py.cache", "info", str(tmp_path)],
                         env={**os.environ, "PYTHONPATH": ROOT}, capture_output=True, text=True)
    assert out.returncode == 0 and "entries   0" in out.stdout


# what the directory may touch -------------------------------------------------------

def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    p = subprocess.Popen([sys.executable, "-c", ""])
    p.wait()
    return p.pid


def names(*paths) -> list:
    """Sorted file names of the paths, or of a directory's files."""
    if len(paths) == 1 and os.path.isdir(paths[0]):
        paths = os.listdir(paths[0])
    return sorted(os.path.basename(p) for p in paths)


def fill(store, n, size=1000):
    for i in range(n):
        store.put(b"key%d" % i, bytes(size))


def test_eviction_and_clear_leave_the_users_files(eng, tmp_path):
    mine = {"my-dataset.blob": os.urandom(5000), "notes.txt": b"x" * 5000,
            "DNNLPYC.blob": b"DNNLPYC"}  # the magic's first bytes: still not an entry
    for name, data in mine.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "sub.blob").mkdir()
    dnnl.set_cache_dir(tmp_path, max_bytes=4096)
    dnnl.convolution_forward(conv_pd(eng))
    fill(dnnl.blob_store(tmp_path, max_bytes=4096), 8)
    assert len(dnnl.blob_store(tmp_path).entries()) == 3  # bounded: 3 x ~1100 bytes
    dnnl.blob_store(tmp_path).clear()
    assert sorted(f.name for f in tmp_path.iterdir()) == sorted([*mine, "sub.blob"])
    assert all((tmp_path / name).read_bytes() == data for name, data in mine.items())


def test_empty_path_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for path in ("", b""):
        with pytest.raises(dnnl.error, match="path is empty") as e:
            dnnl.set_cache_dir(path)
        assert e.value.status == dnnl.status.invalid_arguments
    assert dnnl.get_cache_dir() is None and not list(tmp_path.iterdir())


def test_killed_writers_temp_files_are_removed(tmp_path, capsys):
    """A writer killed mid-write leaves its temp file: one whose pid is gone, or that
    is older than STALE_TEMP_SECONDS, is removed by eviction and by clear; a live
    writer's is left alone."""
    store = dnnl.blob_store(tmp_path, max_bytes=1 << 20)
    partial = cache_mod._frame(b"k", bytes(3000), None)[:2000]

    def orphans():
        dead = tmp_path / f".tmp-{dead_pid()}-a1b2_c.blob"
        old = tmp_path / f".tmp-{os.getpid()}-old.blob"
        for f in (dead, old):
            f.write_bytes(partial)
        (tmp_path / f".tmp-{dead_pid()}-empty.blob").write_bytes(b"")  # killed at once
        os.utime(old, (1, 1))
        return dead, old
    live = tmp_path / f".tmp-{os.getpid()}-live.blob"
    live.write_bytes(partial)
    theirs = tmp_path / f".tmp-{dead_pid()}-theirs.blob"  # a name like ours, not our header
    theirs.write_bytes(b"user data")
    orphans()
    assert len(store.stale_temp_files()) == 3
    assert cache_cli.main(["info", str(tmp_path)]) == 0
    assert "orphans   3 temp files of killed writers, 4000 bytes" in capsys.readouterr().out
    store.put(b"key", b"value")  # eviction removes them
    assert names(tmp_path) == names(live, theirs, store._file(b"key"))
    orphans()
    unbounded = dnnl.blob_store(tmp_path)
    unbounded.put(b"key2", b"value")  # without a bound, the first write sweeps them
    assert len(unbounded.stale_temp_files()) == 0
    orphans()
    assert unbounded.clear() == 2 + 3
    assert names(tmp_path) == names(live, theirs)


def test_cli_verify_races_and_directories(tmp_path, capsys, monkeypatch):
    store = dnnl.blob_store(tmp_path)
    fill(store, 3)
    (tmp_path / "dir.blob").mkdir()
    real_entries, real_verify = cache_mod.blob_store.entries, cache_mod.blob_store.verify
    gone = cache_mod.entry("0" * 64 + ".blob", None, 100, 0.0)  # evicted since the listing
    monkeypatch.setattr(cache_mod.blob_store, "entries", lambda self: real_entries(self) + [gone])
    assert cache_cli.main(["verify", str(tmp_path)]) == 0
    assert "3 entries, 3 ok, 0 damaged" in capsys.readouterr().out
    victim = store._file(b"key1")
    with open(victim, "r+b") as f:
        f.truncate(40)

    def verify_then_evicted(self, e):
        checked = real_verify(self, e)
        if e.name == os.path.basename(victim):
            os.unlink(victim)  # another process evicts it before --remove gets to it
        return checked
    monkeypatch.setattr(cache_mod.blob_store, "verify", verify_then_evicted)
    assert cache_cli.main(["verify", str(tmp_path), "--remove"]) == 1
    assert "1 damaged (removed)" in capsys.readouterr().out
    assert (tmp_path / "dir.blob").is_dir()


# whose files are loaded -------------------------------------------------------------

def test_directory_others_can_write_is_not_used(eng, strm, rng, tmp_path, tolerant_cache):
    dnnl.set_cache_dir(tmp_path)
    dnnl.convolution_forward(conv_pd(eng))
    os.chmod(tmp_path, 0o777)  # anyone could have planted the entry now in it
    dnnl.clear_primitive_cache()
    with pytest.warns(RuntimeWarning, match="writable by group or others .mode 777.; not us"):
        prim = dnnl.convolution_forward(conv_pd(eng))
        dnnl.matmul(matmul_pd(eng))  # warned once
    assert prim._built.source == "cache_miss" and len(os.listdir(tmp_path)) == 1
    run_conv(eng, strm, prim, rng)
    os.chmod(tmp_path, 0o755)
    dnnl.clear_primitive_cache()
    assert dnnl.convolution_forward(conv_pd(eng))._built.source == "from_cache_blob"


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
def test_directory_or_entry_of_another_user_is_not_used(eng, tmp_path, tolerant_cache):
    dnnl.set_cache_dir(tmp_path)
    dnnl.convolution_forward(conv_pd(eng))
    (entry_file,) = tmp_path.iterdir()
    for path in (tmp_path, entry_file):
        os.chown(path, 12345, 12345)
        dnnl.set_cache_dir(tmp_path)
        dnnl.clear_primitive_cache()
        with pytest.warns(RuntimeWarning, match="owned by uid 12345; not using it"):
            assert dnnl.convolution_forward(conv_pd(eng))._built.source == "cache_miss"
        os.chown(path, 0, 0)


def test_entry_others_can_write_is_not_loaded(eng, tmp_path, tolerant_cache):
    dnnl.set_cache_dir(tmp_path)
    dnnl.convolution_forward(conv_pd(eng))
    (entry_file,) = tmp_path.iterdir()
    os.chmod(entry_file, 0o666)
    dnnl.clear_primitive_cache()
    with pytest.warns(RuntimeWarning, match=f"entry {entry_file} is writable by group or"):
        assert dnnl.convolution_forward(conv_pd(eng))._built.source == "cache_miss"
    assert stat.S_IMODE(entry_file.stat().st_mode) == 0o600  # rewritten by us
    assert cache_cli.main(["verify", str(tmp_path)]) == 0


def test_symlinks_in_the_directory_are_not_followed(eng, tmp_path, capsys, tolerant_cache):
    where, elsewhere = tmp_path / "cache", tmp_path / "elsewhere"
    dnnl.set_cache_dir(elsewhere)
    dnnl.convolution_forward(conv_pd(eng))
    (target,) = elsewhere.iterdir()
    target.write_bytes(target.read_bytes() + bytes(100_000))  # ours by its header, and big
    os.utime(target, (2e9, 2e9))  # used "last", so LRU eviction would keep it
    where.mkdir(mode=0o700)
    link = where / target.name
    link.symlink_to(target)
    store = dnnl.blob_store(where, max_bytes=4096)
    fill(store, 2)
    assert len(store.entries()) == 2  # the link's target is not counted
    dnnl.set_cache_dir(where)
    dnnl.clear_primitive_cache()
    with pytest.warns(RuntimeWarning, match="is a symlink"):
        assert dnnl.convolution_forward(conv_pd(eng))._built.source == "cache_miss"
    assert target.stat().st_mtime == 2e9 and not link.is_symlink()  # replaced by an entry
    link.unlink()
    link.symlink_to(target)
    assert cache_cli.main(["verify", str(where)]) == 0 and target.stat().st_mtime == 2e9
    assert "2 entries, 2 ok" in capsys.readouterr().out


# the user's callbacks, and failures made fatal --------------------------------------

def test_callbacks_must_be_callable(tmp_path):
    for bad in ({"encrypt": 1, "decrypt": 2}, {"encrypt": bytes, "decrypt": b"key"}):
        with pytest.raises(dnnl.error, match="must be a callable") as e:
            dnnl.set_cache_dir(tmp_path, **bad)
        assert e.value.status == dnnl.status.invalid_arguments


@pytest.mark.parametrize("encrypt", [lambda data: 1 / 0, lambda data: None],
                         ids=["raises", "returns None"])
def test_failing_encrypt_writes_nothing_and_warns_once(eng, strm, rng, tmp_path, encrypt,
                                                       tolerant_cache):
    dnnl.set_cache_dir(tmp_path, encrypt=encrypt, decrypt=lambda data: data)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run_conv(eng, strm, dnnl.convolution_forward(conv_pd(eng)), rng)
        dnnl.matmul(matmul_pd(eng))
    assert [str(w.message).split(" raised")[0] for w in caught] == [
        "dnnl_py cache dir: encrypt"]
    assert not os.listdir(tmp_path)


def test_failures_are_fatal_in_the_test_suite(eng, tmp_path):
    assert os.environ[cache_mod.FAILURE_FATAL_ENV_VAR] == "1"  # tests/conftest.py
    dnnl.set_cache_dir(tmp_path)
    dnnl.convolution_forward(conv_pd(eng))
    (entry_file,) = tmp_path.iterdir()
    entry_file.write_bytes(entry_file.read_bytes()[:-9])
    dnnl.clear_primitive_cache()
    with pytest.raises(dnnl.error, match="damaged entry .* checksum mismatch") as e:
        dnnl.convolution_forward(conv_pd(eng))
    assert e.value.status == dnnl.status.runtime_error and not entry_file.exists()
    dnnl.set_cache_dir(tmp_path, encrypt=lambda data: 1 / 0, decrypt=lambda data: data)
    with pytest.raises(dnnl.error, match="encrypt raised ZeroDivisionError"):
        dnnl.convolution_forward(conv_pd(eng))


# a secret key ---------------------------------------------------------------------

def forge(store, key: bytes, value: bytes) -> None:
    """What someone who can write the directory but lacks the secret key can do: a
    well-framed entry with a valid checksum."""
    with open(store._file(key), "wb") as f:
        f.write(cache_mod._frame(key, value, None))


def test_secret_key_authenticates_entries(eng, tmp_path, tolerant_cache):
    blob_id = conv_pd(eng).get_cache_blob_id()
    forged = dnnl.convolution_forward(conv_pd(eng, relu=False)).get_cache_blob()
    dnnl.set_cache_dir(tmp_path)
    forge(dnnl.blob_store(tmp_path), blob_id, forged)
    dnnl.clear_primitive_cache()
    with pytest.raises(dnnl.error, match="made for problem"):  # without a key: read
        dnnl.convolution_forward(conv_pd(eng), dnnl.blob_store(tmp_path).get(blob_id))
    dnnl.set_cache_dir(tmp_path, key=b"secret")
    dnnl.clear_primitive_cache()
    assert dnnl.convolution_forward(conv_pd(eng))._built.source == "cache_miss"  # refused
    dnnl.clear_primitive_cache()
    assert dnnl.convolution_forward(conv_pd(eng))._built.source == "from_cache_blob"
    assert cache_mod.blob_store(tmp_path, key=b"secret").get(blob_id) is not None
    assert cache_mod.blob_store(tmp_path, key=b"other").get(blob_id) is None


def test_secret_key_from_environment_and_verify(eng, tmp_path, monkeypatch, capsys,
                                                tolerant_cache):
    monkeypatch.setenv("DNNL_PY_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("DNNL_PY_CACHE_KEY", "a passphrase, of any length " * 5)
    monkeypatch.setattr(store_mod._State, "from_env", True)
    dnnl.convolution_forward(conv_pd(eng))
    assert cache_cli.main(["verify", str(tmp_path)]) == 0
    monkeypatch.setenv("DNNL_PY_CACHE_KEY", "another")
    assert cache_cli.main(["verify", str(tmp_path)]) == 1
    assert "MAC mismatch" in capsys.readouterr().out
    monkeypatch.delenv("DNNL_PY_CACHE_KEY")
    assert cache_cli.main(["verify", str(tmp_path)]) == 0  # the framing needs no key


@pytest.mark.parametrize("key", ["text", b"", 7], ids=["str", "empty", "int"])
def test_bad_secret_key(tmp_path, key):
    with pytest.raises(dnnl.error, match="key must be non-empty bytes") as e:
        dnnl.set_cache_dir(tmp_path, key=key)
    assert e.value.status == dnnl.status.invalid_arguments


def test_entry_of_the_format_before_the_mac(tmp_path, tolerant_cache):
    store = dnnl.blob_store(tmp_path, max_bytes=10)
    old = cache_mod._frame(b"k", b"value", None)
    old = b"DNNLPYC\0" + old[8:-32] + old[-16:]  # no MAC field (its checksum is off too)
    with open(store._file(b"k"), "wb") as f:
        f.write(old)
    assert store.verify(store.entries()[0]).problem == "entry format 0, this build writes 1"
    assert store.get(b"k") is None and not os.listdir(tmp_path)  # a miss, and removed
    for short in (b"DNNLPYC", b"DNNLPYC\0"):
        with open(store._file(b"k"), "wb") as f:
            f.write(short)
        assert store.get(b"k") is None
    with open(store._file(b"k"), "wb") as f:
        f.write(old)
    store.put(b"k2", bytes(100))  # ours to evict
    assert not os.listdir(tmp_path)


class DictStore:
    """A store of the user's own (the BlobStore protocol: get, put, discard)."""
    def __init__(self):
        self.values, self.discarded = {}, []

    def get(self, key):
        return self.values.get(key)

    def put(self, key, value):
        self.values[key] = value

    def discard(self, key, why):
        self.discarded.append(why)
        self.values.pop(key, None)


def test_any_store_plugs_in(eng, rng, tolerant_cache):
    store = DictStore()
    dnnl.set_cache_store(store)
    assert dnnl.get_cache_store() is store and dnnl.get_cache_dir() is None
    assert isinstance(store, dnnl.BlobStore)
    pd = conv_pd(eng)
    dnnl.convolution_forward(pd)
    assert list(store.values) == [pd.get_cache_blob_id()]
    dnnl.clear_primitive_cache()
    assert dnnl.convolution_forward(conv_pd(eng))._built.source == "from_cache_blob"
    store.values[pd.get_cache_blob_id()] = b"damaged"
    dnnl.clear_primitive_cache()
    assert dnnl.convolution_forward(conv_pd(eng))._built.source == "cache_miss"
    assert len(store.discarded) == 1 and pd.get_cache_blob_id() in store.values  # rewritten
    with pytest.raises(dnnl.error, match="get, put and discard"):
        dnnl.set_cache_store(object())
    dnnl.set_cache_dir(None)
    assert dnnl.get_cache_store() is None


def test_a_sealed_store_frames_authenticates_and_encrypts(eng, tolerant_cache):
    """The directory store's framing, MAC and encryption around any store's values."""
    inner = DictStore()
    flip = bytes.maketrans(bytes(range(256)), bytes(range(255, -1, -1)))
    sealed = cache_mod.sealed_store(inner, key=b"secret", encrypt=lambda b: b.translate(flip),
                                    decrypt=lambda b: b.translate(flip))
    dnnl.set_cache_store(sealed)
    pd = conv_pd(eng)
    value = dnnl.convolution_forward(pd).get_cache_blob()
    stored = inner.values[pd.get_cache_blob_id()]
    assert stored != value and value not in stored  # framed and encrypted
    dnnl.clear_primitive_cache()
    assert dnnl.convolution_forward(conv_pd(eng))._built.source == "from_cache_blob"
    other = cache_mod.sealed_store(inner, key=b"another", encrypt=lambda b: b.translate(flip),
                                   decrypt=lambda b: b.translate(flip))
    assert other.get(pd.get_cache_blob_id()) is None and len(inner.discarded) == 1

