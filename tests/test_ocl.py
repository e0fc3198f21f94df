"""The OpenCL engine's own surface: ocl_interop, memory over cl.Buffer objects, engine and
primitive cache blobs (program binaries), each bad blob, the cache directory. The
numerics run in the shared suites (test_convolution, test_matmul, test_reorder_memory)."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import ocl_device
from helpers import make_attr, to_memory
from reference import assert_close, conv_fwd

import dnnl_py as dnnl
from dnnl_py import blob

cl = pytest.importorskip("pyopencl", reason="pyopencl is not installed")
program = pytest.importorskip("dnnl_py.ocl.program")
md, dt, tag = dnnl.memory.desc, dnnl.memory.data_type, dnnl.memory.format_tag
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
interop = dnnl.ocl_interop


pytestmark = pytest.mark.usefixtures("clean_caches")


@pytest.fixture(scope="module")
def device():
    found = ocl_device()
    if found is None:
        pytest.skip("no OpenCL device (pyopencl with PoCL comes with `make test`)")
    return found


def conv_pd(eng, relu=True):
    return dnnl.convolution_forward.primitive_desc(
        eng, dnnl.prop_kind.forward_inference, dnnl.algorithm.convolution_direct,
        md([2, 5, 9, 9], dt.f32, tag.any), md([20, 5, 3, 3], dt.f32, tag.any),
        md([20], dt.f32, tag.a), md([2, 20, 9, 9], dt.f32, tag.any), [1, 1], [1, 1], [1, 1],
        attr=make_attr([("eltwise", "eltwise_relu", 0.0, 0.0)] if relu else []))


def check_conv(eng, strm, prim, rng):
    pd = prim.get_primitive_desc()
    x = rng.standard_normal((2, 5, 9, 9), dtype=np.float32)
    w = rng.standard_normal((20, 5, 3, 3), dtype=np.float32)
    b = rng.standard_normal(20, dtype=np.float32)
    dst = dnnl.memory(pd.dst_desc(), eng)
    prim.execute(strm, {dnnl.ARG_SRC: to_memory(eng, strm, x, pd.src_desc()),
                        dnnl.ARG_WEIGHTS: to_memory(eng, strm, w, pd.weights_desc()),
                        dnnl.ARG_BIAS: dnnl.memory(pd.bias_desc(), eng, b),
                        dnnl.ARG_DST: dst})
    strm.wait()
    want = np.maximum(conv_fwd(x, w[None], b, (1, 1), (0, 0), (1, 1), (1, 1), 1), 0)
    assert_close(dst.to_numpy(), want, 5 * 9)


# engines and streams -----------------------------------------------------------------

def test_engine_over_user_objects(device, rng):
    ctx = cl.Context([device])
    eng = interop.make_engine(device, ctx)
    assert eng.get_kind() == dnnl.engine.kind.gpu
    assert interop.get_device(eng) == device and interop.get_context(eng) == ctx
    queue = cl.CommandQueue(ctx, device)
    strm = interop.make_stream(eng, queue)
    assert interop.get_command_queue(strm) is queue
    check_conv(eng, strm, dnnl.convolution_forward(conv_pd(eng)), rng)


def test_engine_interop_refusals(device, ocl):
    eng, _ = ocl
    ctx = interop.get_context(eng)
    cpu = dnnl.engine(dnnl.engine.kind.cpu, 0)
    with pytest.raises(dnnl.error, match="pyopencl.Device"):
        interop.make_engine("device 0", ctx)
    with pytest.raises(dnnl.error, match="OpenCL engine"):
        interop.get_engine_cache_blob(cpu)
    with pytest.raises(dnnl.error, match="out of order"):
        interop.make_stream(eng, cl.CommandQueue(
            ctx, device, cl.command_queue_properties.OUT_OF_ORDER_EXEC_MODE_ENABLE))
    with pytest.raises(dnnl.error, match="another context"):
        other = cl.Context([device])
        interop.make_stream(eng, cl.CommandQueue(other, device))
    n = dnnl.engine.get_count(dnnl.engine.kind.gpu)
    with pytest.raises(dnnl.error, match="out of range"):
        dnnl.engine(dnnl.engine.kind.gpu, n)


# memory ------------------------------------------------------------------------------

def test_memory_on_device(ocl, rng):
    eng, strm = ocl
    ctx, queue = interop.get_context(eng), interop.get_command_queue(strm)
    x = rng.standard_normal((3, 4), dtype=np.float32)
    copied = dnnl.memory(md([3, 4], dt.f32, tag.ab), eng, x)
    x[0, 0] = 99.0  # the memory holds a copy on the device
    assert isinstance(interop.get_mem_object(copied), cl.Buffer)
    assert copied.to_numpy()[0, 0] != 99.0
    assert not dnnl.memory(md([3, 4], dt.f32, tag.ab), eng).to_numpy().any()  # zeroed
    buf = cl.Buffer(ctx, cl.mem_flags.READ_WRITE, 48)
    wrapped = interop.make_memory(md([4, 3], dt.f32, tag.ba), eng, buf)
    cl.enqueue_copy(queue, buf, np.arange(12, dtype=np.float32)).wait()
    np.testing.assert_array_equal(wrapped.to_numpy(), np.arange(12).reshape(3, 4).T)
    with pytest.raises(dnnl.error, match="smaller"):
        interop.make_memory(md([5, 3], dt.f32, tag.ab), eng, buf)
    with pytest.raises(dnnl.error, match="shape"):
        dnnl.memory(md([3, 5], dt.f32, tag.ab), eng, x)


def test_constant_bytes_in_place_on_unified_memory(ocl):
    """wrap_constant (a model's weights from a mapped cache entry): on a device that
    shares the host's memory, a read-only buffer over the host bytes (no copy); a
    read-only array, or a device with its own memory, gets a copy. Either way the
    memory reads back the same values."""
    eng, _ = ocl
    rt = eng._runtime
    d = md([64, 16], dt.f32, tag.ab)
    page = np.zeros(1024 + 4096 // 4, np.float32)  # a page-aligned writable array
    start = (-page.ctypes.data % 4096) // 4
    x = page[start:start + 1024]
    x[:] = np.arange(1024, dtype=np.float32)
    buf = rt.wrap_constant(d, x)
    in_place = bool(buf.flags & cl.mem_flags.USE_HOST_PTR)
    assert in_place == bool(rt.device.host_unified_memory)
    np.testing.assert_array_equal(dnnl.memory(d, eng, buf).to_numpy(), x.reshape(64, 16))
    frozen = x.copy()
    frozen.flags.writeable = False
    copied = rt.wrap_constant(d, frozen)
    assert not copied.flags & cl.mem_flags.USE_HOST_PTR
    np.testing.assert_array_equal(dnnl.memory(d, eng, copied).to_numpy(), frozen.reshape(64, 16))


@pytest.mark.parametrize("options", ["-cl-mad-enable -DOC=64 -DALPHA=0.5f  -DB0_DIM=-1",
                                     '-cl-mad-enable -I "a dir" -DX=1', "-DX=a\\ b"])
def test_build_options_split_as_shlex_does(options):
    """Options handed to pyopencl as a list (program._option_list) are the tokens its own
    shlex split would make; a string that needs shlex is left to it."""
    import shlex

    from dnnl_py.ocl.program import _option_list
    got = _option_list(options)
    assert (shlex.split(got) if isinstance(got, str) else got) == shlex.split(options)
    assert isinstance(got, str) == any(c in options for c in "\"'\\")


def test_execute_refuses_memory_of_another_engine(ocl, eng, rng):
    ocl_eng, ocl_strm = ocl
    pd = dnnl.matmul.primitive_desc(ocl_eng, md([4, 5], dt.f32, tag.ab),
                                    md([5, 6], dt.f32, tag.ab), md([4, 6], dt.f32, tag.ab))
    prim = dnnl.matmul(pd)
    args = {dnnl.ARG_SRC: dnnl.memory(pd.src_desc(), eng),
            dnnl.ARG_WEIGHTS: dnnl.memory(pd.weights_desc(), ocl_eng),
            dnnl.ARG_DST: dnnl.memory(pd.dst_desc(), ocl_eng)}
    with pytest.raises(dnnl.error, match="src: memory belongs to engine"):
        prim.execute(ocl_strm, args)
    with pytest.raises(dnnl.error, match="stream does not belong"):
        prim.execute(dnnl.stream(eng), args)


# cache blobs -------------------------------------------------------------------------

def test_engine_blob_round_trip(device, rng):
    ctx = cl.Context([device])
    eng = interop.make_engine(device, ctx)
    key, value = interop.get_engine_cache_blob_id(device), interop.get_engine_cache_blob(eng)
    assert len(key) == 32 and key == interop.get_engine_cache_blob_id(device)
    again = interop.make_engine(device, ctx, value)
    assert again._runtime.source == "from_cache_blob"
    strm = dnnl.stream(again)
    x = rng.standard_normal((2, 19, 3, 3), dtype=np.float32)  # a reorder runs the utility kernel
    user = dnnl.memory(md(x.shape, dt.f32, tag.nchw), again, x)
    blocked = dnnl.memory(md(x.shape, dt.f32, tag.nChw16c), again)
    dnnl.reorder(user, blocked).execute(strm, {dnnl.ARG_FROM: user, dnnl.ARG_TO: blocked})
    np.testing.assert_array_equal(blocked.to_numpy(), x)


def retyped(value: bytes, kind, **changes) -> bytes:
    """The blob with records changed and a valid checksum: what a blob made elsewhere
    (another device, driver, build) looks like."""
    digest, records = blob.unpack(value, kind, "test")
    records.update({k.replace("_", " "): v for k, v in changes.items()})
    return blob.pack(kind, digest, records)


def test_bad_engine_blobs(device):
    ctx = cl.Context([device])
    value = interop.get_engine_cache_blob(interop.make_engine(device, ctx))
    cases = [(value[:-5], "checksum"), (b"", "too short"),
             (retyped(value, blob.Kind.engine, driver=b"0.0-other"), "driver '0.0-other'"),
             (retyped(value, blob.Kind.engine, device=b"another GPU"), "device 'another GPU'"),
             (retyped(value, blob.Kind.engine, **{"utility_program": b"\0garbage" * 64}),
              "rejected the program binary")]
    for bad, why in cases:
        with pytest.raises(dnnl.error, match=why) as e:
            interop.make_engine(device, ctx, bad)
        assert e.value.status == dnnl.status.invalid_arguments


def test_primitive_blob_round_trip(ocl, rng):
    eng, strm = ocl
    pd = conv_pd(eng)
    prim = dnnl.convolution_forward(pd)
    key, value = pd.get_cache_blob_id(), prim.get_cache_blob()
    assert len(key) == 32 and len(value) > 1000  # it carries the program binary
    assert dnnl.convolution_forward(conv_pd(eng), value) is not None  # a primitive-cache hit
    dnnl.clear_primitive_cache()
    again = dnnl.convolution_forward(conv_pd(eng), value)
    assert again._built.source == "from_cache_blob"
    check_conv(eng, strm, again, rng)


def test_bad_primitive_blobs(ocl, eng):
    ocl_eng, _ = ocl
    value = dnnl.convolution_forward(conv_pd(ocl_eng)).get_cache_blob()
    cpu_value = dnnl.convolution_forward(conv_pd(eng)).get_cache_blob()
    dnnl.clear_primitive_cache()
    cases = [(cpu_value, "made for engine"), (value[:100], "truncated"),
             (retyped(value, blob.Kind.primitive, device=b"another GPU"), "device"),
             (retyped(value, blob.Kind.primitive, program=b"\x7fELF" + bytes(500)),
              "rejected the program binary"),
             (dnnl.convolution_forward(conv_pd(ocl_eng, relu=False)).get_cache_blob(),
              "problem"),
             # a valid binary of another blocking, or the reference named over the GEMM's
             (retyped(value, blob.Kind.primitive, params=blob.ints((12, 1))),
              "built from another source or options"),
             (retyped(value, blob.Kind.primitive, impl=b"ocl:ref:any", params=blob.ints(())),
              "built from another source or options")]
    for bad, why in cases:
        with pytest.raises(dnnl.error, match=why) as e:
            dnnl.convolution_forward(conv_pd(ocl_eng), bad)
        assert e.value.status == dnnl.status.invalid_arguments


def test_cache_dir_keeps_engine_and_primitives(device, tmp_path, rng):
    dnnl.set_cache_dir(tmp_path)
    ctx = cl.Context([device])
    first = interop.make_engine(device, ctx)
    dnnl.convolution_forward(conv_pd(first))
    assert len(list(tmp_path.iterdir())) == 2  # the engine's blob and the primitive's
    dnnl.clear_primitive_cache()
    eng = interop.make_engine(device, ctx)
    prim = dnnl.convolution_forward(conv_pd(eng))
    assert eng._runtime.source == "from_cache_blob" and prim._built.source == "from_cache_blob"
    check_conv(eng, dnnl.stream(eng), prim, rng)


FRESH = """
    import pathlib, sys, numpy as np, pyopencl as cl, dnnl_py as dnnl
    import test_ocl as t
    device = t.ocl_device()
    ctx = cl.Context([device])
    where = pathlib.Path(sys.argv[1])
    engine_blob = where / "engine"
    eng = dnnl.ocl_interop.make_engine(device, ctx, engine_blob.read_bytes()
                                       if engine_blob.exists() else None)
    engine_blob.write_bytes(dnnl.ocl_interop.get_engine_cache_blob(eng))
    prim_blob = where / "conv"
    prim = dnnl.convolution_forward(t.conv_pd(eng), prim_blob.read_bytes()
                                    if prim_blob.exists() else None)
    prim_blob.write_bytes(prim.get_cache_blob())
    t.check_conv(eng, dnnl.stream(eng), prim, np.random.default_rng(0))
    print(eng._runtime.source, prim._built.source)
"""


def test_blobs_across_processes(device, tmp_path):
    def child():
        out = subprocess.run([sys.executable, "-c", textwrap.dedent(FRESH), str(tmp_path)],
                             capture_output=True, text=True, cwd=os.path.join(ROOT, "tests"),
                             env={**os.environ, "PYTHONPATH": ROOT, "POCL_KERNEL_CACHE": "0"})
        assert out.returncode == 0, out.stderr
        return out.stdout.split()
    assert child() == ["cache_miss", "cache_miss"]
    assert child() == ["from_cache_blob", "from_cache_blob"]


# build isolation: a compiler that crashes or hangs is an error, not the process's end ---

# test-only kernels that take the build worker down at their first launch
CRASH = ("__kernel void crash(__global int *p) {"
         " *(__global volatile int *)((ulong)1 << 46) = p[0]; }")
SPIN = "__kernel void spin(__global volatile int *p) { while (p[0] == 0) {} }"
CRASH_GEMM = "*(__global volatile int *)((ulong)1 << 46) = 0;\n    const int panel"


def launch_of(name):
    return [[name, [1], [1], [["buffer", 4]]]]


def test_a_crashing_build_is_an_error_and_not_retried(ocl, rng):
    eng, strm = ocl
    rt = eng._runtime
    for why in ("the build worker died", "not built again"):
        with pytest.raises(dnnl.error, match=why) as e:
            program.build(rt.device, rt.context, CRASH, "", launch_of("crash"), "crash-test")
        assert e.value.status == dnnl.status.runtime_error and "crash-test" in str(e.value)
    check_conv(eng, strm, dnnl.convolution_forward(conv_pd(eng)), rng)  # a new worker builds


def test_a_hanging_build_times_out(ocl, monkeypatch):
    eng, _ = ocl
    rt = eng._runtime
    monkeypatch.setenv("DNNL_PY_OCL_BUILD_TIMEOUT", "3")
    with pytest.raises(dnnl.error, match="did not finish in 3 s") as e:
        program.build(rt.device, rt.context, SPIN, "", launch_of("spin"), "spin-test")
    assert e.value.status == dnnl.status.runtime_error


def test_a_kernel_that_cannot_be_built_falls_back_to_the_reference(ocl, rng, monkeypatch,
                                                                   capsys):
    eng, strm = ocl
    real = program.source
    monkeypatch.setattr(program, "source", lambda *names: real(*names).replace(
        "const int panel", CRASH_GEMM, 1))
    dnnl.set_verbose(2)
    try:
        prim = dnnl.convolution_forward(conv_pd(eng))
    finally:
        dnnl.set_verbose(0)
    lines = capsys.readouterr().out.splitlines()
    dispatch = [line for line in lines if ",create:dispatch," in line]
    assert len(dispatch) == 1 and "ocl:conv:igemm" in dispatch[0]
    assert "build worker died" in dispatch[0]
    assert prim.get_primitive_desc().impl_info_str() == "ocl:ref:any"
    check_conv(eng, strm, prim, rng)
    value = prim.get_cache_blob()  # names the reference, which a blob can rebuild
    dnnl.clear_primitive_cache()
    again = dnnl.convolution_forward(conv_pd(eng), value)
    assert again.get_primitive_desc().impl_info_str() == "ocl:ref:any"
    check_conv(eng, strm, again, rng)


def test_build_in_process_when_isolation_is_off(ocl, rng, monkeypatch):
    eng, strm = ocl
    assert interop.get_build_isolation()
    monkeypatch.setattr(program._WORKER, "build", None)  # any use of the worker fails
    interop.set_build_isolation(False)
    try:
        prim = dnnl.convolution_forward(conv_pd(eng))
    finally:
        interop.set_build_isolation(True)
    check_conv(eng, strm, prim, rng)
    assert len(prim.get_cache_blob()) > 1000  # the binary, read on demand


def test_verbose_names_the_device_code(device, capsys):
    dnnl.set_verbose(2)
    try:
        eng = interop.make_engine(device, cl.Context([device]))
        dnnl.convolution_forward(conv_pd(eng))
    finally:
        dnnl.set_verbose(0)
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if ",info,gpu,engine," in x)
    assert f"name:{device.name.strip()}" in line and "vector_width:" in line
    if "PoCL" in device.version:
        assert f"llvm_target:{device.version.split('-')[-1]}" in line


def test_the_build_worker_runs_in_a_plain_process(tmp_path):
    """As a user runs it: pyopencl's own cache on (it imports the standard library's
    `copy`), and a current directory holding a module named like a standard one: the
    worker's imports must come from neither dnnl_py/ocl/ nor the current directory."""
    (tmp_path / "copy.py").write_text("raise ImportError('the wrong copy module')\n")
    code = textwrap.dedent("""
        import sys
        sys.path[0] = sys.argv[1]  # this process does not import from the current directory
        import numpy as np, pyopencl as cl, dnnl_py as dnnl, test_ocl as t
        device = t.ocl_device()
        eng = dnnl.ocl_interop.make_engine(device, cl.Context([device]))
        prim = dnnl.convolution_forward(t.conv_pd(eng))
        t.check_conv(eng, dnnl.stream(eng), prim, np.random.default_rng(0))
        print(prim.get_primitive_desc().impl_info_str())
    """)
    env = {k: v for k, v in os.environ.items() if k != "PYOPENCL_NO_CACHE"}
    out = subprocess.run([sys.executable, "-c", code, os.path.join(ROOT, "tests")],
                         capture_output=True, text=True, cwd=tmp_path,
                         env={**env, "PYTHONPATH": ROOT, "POCL_KERNEL_CACHE": "0"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["ocl:conv:igemm"]



@pytest.mark.parametrize("n", [64, 40])
def test_gemm_packing_writes_every_byte_it_does_not_zero(ocl, rng, monkeypatch, n):
    # the packed-weights buffer is zero-filled only when the last panel is partial: fresh
    # device memory full of NaN must not reach a result either way
    from dnnl_py.ocl.runtime import OclRuntime
    plain_empty = OclRuntime.empty

    def nan_filled(self, nbytes):
        buf = plain_empty(self, nbytes)
        cl.enqueue_fill_buffer(self.queue, buf, np.float32(np.nan), 0, buf.size).wait()
        return buf

    monkeypatch.setattr(OclRuntime, "empty", nan_filled)
    eng, strm = ocl
    a = rng.standard_normal((33, 24), dtype=np.float32)
    b = rng.standard_normal((24, n), dtype=np.float32)
    pd = dnnl.matmul.primitive_desc(eng, md([33, 24], dt.f32, tag.ab), md([24, n], dt.f32, tag.ab),
                                    md([33, n], dt.f32, tag.ab))
    assert pd.impl_info_str().startswith("ocl:gemm")
    dst = dnnl.memory(pd.dst_desc(), eng)
    dnnl.matmul(pd).execute(strm, {dnnl.ARG_SRC: dnnl.memory(pd.src_desc(), eng, a),
                                   dnnl.ARG_WEIGHTS: dnnl.memory(pd.weights_desc(), eng, b),
                                   dnnl.ARG_DST: dst})
    strm.wait()
    assert_close(dst.to_numpy(), a.astype(np.float64) @ b, 24)
