"""What a fresh process pays for dnnl_py: `import dnnl_py` and a first CPU convolution load
no module a CPU-only user does not need (each check in a subprocess of its own, so that
the test session's imports do not count), and the BLAS the kernels are linked with is
the one dnnl.version() and the verbose header name."""
import importlib.metadata
import os
import subprocess
import sys

import pytest

import dnnl_py as dnnl

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Never needed by `import dnnl_py` nor by a CPU primitive: SciPy's linalg (~200 ms; the
# kernels link OpenBLAS themselves), the OpenCL engine and pyopencl, plotting, torch (the
# benchdnn report's reference), the benchdnn driver, and the cache directory's code
# before a directory is set.
DENIED = ("scipy.linalg", "pyopencl", "matplotlib", "torch", "dnnl_py.ocl",
          "dnnl_py.ocl_interop", "dnnl_py.benchdnn", "dnnl_py.cache")

FIRST_CONV = """
import numpy as np
import dnnl_py as dnnl
dt, tag, md = dnnl.memory.data_type, dnnl.memory.format_tag, dnnl.memory.desc
eng = dnnl.engine(dnnl.engine.kind.cpu, 0)
src, wei = md([1, 8, 6, 6], dt.f32, tag.nchw), md([4, 8, 3, 3], dt.f32, tag.oihw)
dst = md([1, 4, 6, 6], dt.f32, tag.nchw)
pd = dnnl.convolution_forward.primitive_desc(
    eng, dnnl.prop_kind.forward_inference, dnnl.algorithm.convolution_direct, src, wei,
    None, dst, [1, 1], [1, 1], [1, 1])
y = np.zeros((1, 4, 6, 6), np.float32)
dnnl.convolution_forward(pd).execute(dnnl.stream(eng), {
    dnnl.ARG_SRC: dnnl.memory(src, eng, np.ones((1, 8, 6, 6), np.float32)),
    dnnl.ARG_WEIGHTS: dnnl.memory(wei, eng, np.ones((4, 8, 3, 3), np.float32)),
    dnnl.ARG_DST: dnnl.memory(dst, eng, y)})
assert y[0, 0, 2, 2] == 72.0, y[0, 0, 2, 2]  # 8 channels x 3 x 3 taps of ones
"""


def _fresh(code: str, **env) -> subprocess.CompletedProcess:
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("DNNL_PY_CACHE")}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, env={**child_env, "PYTHONPATH": ROOT, **env}, timeout=120)


def denied_modules(code: str, **env) -> list:
    """The modules of DENIED (or below them) that a fresh process running `code` loaded."""
    out = _fresh(code + "\nimport sys\nprint(' '.join(sorted(sys.modules)))", **env)
    assert out.returncode == 0, out.stderr
    loaded = out.stdout.splitlines()[-1].split()
    return [m for m in loaded if any(m == d or m.startswith(d + ".") for d in DENIED)]


@pytest.mark.parametrize("code", ["import dnnl_py", FIRST_CONV],
                         ids=["import", "first_conv"])
def test_no_denied_module_is_loaded(code):
    assert denied_modules(code) == []


def test_denied_modules_are_seen():
    """The check itself: a process that loads denied modules is caught, each named."""
    found = denied_modules("import dnnl_py\nimport dnnl_py.cache\nimport scipy.linalg")
    assert "dnnl_py.cache" in found and "scipy.linalg" in found


def test_cache_dir_from_the_environment_still_loads_the_cache(tmp_path):
    """DNNL_PY_CACHE_DIR alone (no set_cache_dir) brings the cache directory's code in at
    the first creation, which then stores its blob there."""
    code = FIRST_CONV + "\nimport sys\nassert 'dnnl_py.cache' in sys.modules"
    out = _fresh(code, DNNL_PY_CACHE_DIR=str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert [p.suffix for p in tmp_path.iterdir()] == [".blob"]


def test_lazy_public_names():
    """blob_store and cache are dnnl_py's attributes, loaded on first use; an unknown name
    is still an AttributeError."""
    assert dnnl.blob_store is dnnl.cache.blob_store
    with pytest.raises(AttributeError, match="no_such_name"):
        dnnl.no_such_name  # noqa: B018


def _installed_openblas() -> str:
    """x.y.z of the scipy-openblas32 wheel the extension links (its version adds a build
    suffix: 0.3.28.0.2)."""
    return ".".join(importlib.metadata.version("scipy-openblas32").split(".")[:3])


def test_version_names_the_linked_blas():
    blas = dnnl.version().blas
    assert blas.startswith(f"OpenBLAS {_installed_openblas()}"), blas


def test_verbose_header_names_the_blas():
    out = _fresh(FIRST_CONV, ONEDNN_VERBOSE="1")
    assert out.returncode == 0, out.stderr
    header = [line for line in out.stdout.splitlines() if ",info,cpu,blas:" in line]
    assert len(header) == 1, out.stdout
    assert header[0].startswith(f"onednn_verbose,v1,info,cpu,blas:OpenBLAS "
                                f"{_installed_openblas()}")
    assert header[0].rsplit(",", 1)[1].startswith("nthr:")


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs Linux's /proc")
@pytest.mark.parametrize("user_value", [None, "3"], ids=["unset", "user_set"])
def test_kernels_start_no_blas_thread_pool(user_value):
    """Loading the kernels starts no OpenBLAS worker (one would spin a core's time away
    for ~2^28 cycles: dnnl_py/cpu/__init__.py), and the user's OPENBLAS_NUM_THREADS is
    left as it was, for numpy's OpenBLAS and for child processes."""
    code = ("import os, numpy\n"
            "before = len(os.listdir('/proc/self/task'))\n"
            "from dnnl_py.cpu import _kernels\n"
            "print(len(os.listdir('/proc/self/task')) - before,"
            " os.environ.get('OPENBLAS_NUM_THREADS'))")
    env = {} if user_value is None else {"OPENBLAS_NUM_THREADS": user_value}
    child_env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, env={**child_env, "PYTHONPATH": ROOT, **env}, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["0", str(user_value)]


IDLE_BURN = FIRST_CONV + """
import time
big = np.ones((1, 64, 64, 64), np.float32)
src2 = md([1, 64, 64, 64], dt.f32, tag.nhwc)
wei2 = md([64, 64, 3, 3], dt.f32, tag.any)
dst2 = md([1, 64, 64, 64], dt.f32, tag.nhwc)
pd2 = dnnl.convolution_forward.primitive_desc(
    eng, dnnl.prop_kind.forward_inference, dnnl.algorithm.convolution_direct, src2, wei2,
    None, dst2, [1, 1], [1, 1], [1, 1])
conv = dnnl.convolution_forward(pd2)
args = {dnnl.ARG_SRC: dnnl.memory(src2, eng), dnnl.ARG_DST: dnnl.memory(dst2, eng),
        dnnl.ARG_WEIGHTS: dnnl.memory(pd2.weights_desc(), eng)}
burns = []
for _ in range(5):
    conv.execute(dnnl.stream(eng), args)  # a parallel region; then the workers idle
    cpu = time.process_time()
    time.sleep(0.05)
    burns.append((time.process_time() - cpu) * 1e3)
print(os.environ.get("GOMP_SPINCOUNT"), min(burns))
"""


@pytest.mark.parametrize("user_value", [None, "2000000"], ids=["unset", "user_set"])
def test_idle_openmp_workers_sleep_soon(user_value):
    """After a parallel region the OpenMP workers spin only briefly before they sleep
    (GOMP_SPINCOUNT=2000, dnnl_py/cpu/__init__.py): the process burns under 1 ms of CPU
    in the 50 ms after a convolution (~0.04 ms measured), where libgomp's default burned
    3.4 ms and a user's GOMP_SPINCOUNT=2000000 (which wins, and is left in the
    environment) burns more than 5: the check can see a long spin. The minimum of 5
    tries: the machine's other work only adds."""
    env = {"OMP_NUM_THREADS": "2"} | ({} if user_value is None else {"GOMP_SPINCOUNT": user_value})
    child_env = {k: v for k, v in os.environ.items()
                 if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
    out = subprocess.run([sys.executable, "-c", "import os\n" + IDLE_BURN],
                         capture_output=True, text=True, cwd=ROOT,
                         env={**child_env, "PYTHONPATH": ROOT, **env}, timeout=120)
    assert out.returncode == 0, out.stderr
    seen, burn = out.stdout.split()
    assert seen == str(user_value)
    if user_value is None:
        assert float(burn) < 1.0, burn
    else:
        assert float(burn) > 5.0, burn
