"""The primitive cache: hits share the compiled kernel, every field of the key tells
problems apart, capacity and LRU eviction, single flight, concurrent execution."""
import os
import subprocess
import sys
import threading

import numpy as np
import pytest
from helpers import make_attr, to_memory
from reference import assert_close, conv_fwd

import dnnl_py as dnnl
from dnnl_py.cpu import convolution as cpu_conv
from dnnl_py.cpu.impl_list import IMPLS as CPU_LISTS
from dnnl_py.cpu.runtime import CPU_RUNTIME
from dnnl_py.kinds import primitive_kind

md, dt, tag = dnnl.memory.desc, dnnl.memory.data_type, dnnl.memory.format_tag
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(autouse=True)
def fresh_cache():
    capacity = dnnl.get_primitive_cache_capacity()
    dnnl.clear_primitive_cache()
    yield
    dnnl.set_primitive_cache_capacity(capacity)
    dnnl.clear_primitive_cache()


def conv_pd(eng, mb=1, src_tag=tag.nhwc, wei_tag=tag.any, dst_tag=tag.nhwc, bias=True,
            strides=(1, 1), dilates=(0, 0), pad_l=(1, 1), pad_r=(1, 1),
            prop=dnnl.prop_kind.forward_inference, alg=dnnl.algorithm.convolution_direct,
            ops=(("eltwise", "eltwise_relu", 0.0, 0.0),)):
    oh = (9 + pad_l[0] + pad_r[0] - 2 * (dilates[0] + 1) - 1) // strides[0] + 1
    ow = (9 + pad_l[1] + pad_r[1] - 2 * (dilates[1] + 1) - 1) // strides[1] + 1
    return dnnl.convolution_forward.primitive_desc(
        eng, prop, alg, md([mb, 16, 9, 9], dt.f32, src_tag), md([32, 16, 3, 3], dt.f32, wei_tag),
        md([32], dt.f32, tag.a) if bias else None, md([mb, 32, oh, ow], dt.f32, dst_tag),
        list(strides), list(dilates), list(pad_l), list(pad_r), attr=make_attr(ops))


def test_hit_shares_the_kernel(eng):
    first = dnnl.convolution_forward(conv_pd(eng))
    second = dnnl.convolution_forward(conv_pd(eng))
    assert second._kernel is first._kernel
    stats = dnnl.primitive_cache_stats()
    assert (stats.hits, stats.misses, stats.size) == (1, 1, 1)
    assert dnnl.get_primitive_cache_size() == 1


# One variant per field of the key; each must get an entry of its own.
VARIANTS = {
    "minibatch": dict(mb=2),
    "src layout": dict(src_tag=tag.nchw, dst_tag=tag.nchw),
    "weights layout": dict(wei_tag=tag.oihw),
    "dst layout": dict(dst_tag=tag.nchw),
    "no bias": dict(bias=False),
    "strides": dict(strides=(2, 1)),
    "dilation": dict(dilates=(1, 0)),
    "padding_l": dict(pad_l=(0, 1)),
    "padding_r": dict(pad_r=(1, 0)),
    "prop_kind": dict(prop=dnnl.prop_kind.forward_training),
    "algorithm": dict(alg=dnnl.algorithm.convolution_auto),
    "post-op alpha": dict(ops=(("eltwise", "eltwise_relu", 0.5, 0.0),)),
    "post-op kind": dict(ops=(("eltwise", "eltwise_tanh", 0.0, 0.0),)),
    "post-op sum": dict(ops=(("sum", 1.0), ("eltwise", "eltwise_relu", 0.0, 0.0))),
    "no post-ops": dict(ops=()),
}


@pytest.mark.parametrize("field", VARIANTS)
def test_each_problem_field_makes_its_own_entry(eng, field):
    base = dnnl.convolution_forward(conv_pd(eng))
    other = dnnl.convolution_forward(conv_pd(eng, **VARIANTS[field]))
    assert other._kernel is not base._kernel
    assert dnnl.primitive_cache_stats().misses == 2 and dnnl.get_primitive_cache_size() == 2


def test_implementation_engine_threads_and_kind_are_in_the_key(eng, only_impl, monkeypatch):
    kernels = {dnnl.convolution_forward(conv_pd(eng))._kernel}
    with monkeypatch.context() as m:  # the same problem, another implementation
        m.setitem(CPU_LISTS, primitive_kind.convolution, [cpu_conv.ConvRef])
        kernels.add(dnnl.convolution_forward(conv_pd(eng))._kernel)
    with monkeypatch.context() as m:  # created for another thread count
        m.setattr(CPU_RUNTIME, "threads", lambda: 1)
        kernels.add(dnnl.convolution_forward(conv_pd(eng))._kernel)
    other_engine = dnnl.engine(dnnl.engine.kind.cpu, 0)
    other_engine._index = 1  # as a second device would be
    kernels.add(dnnl.convolution_forward(conv_pd(other_engine))._kernel)
    a, b = md([16, 16], dt.f32, tag.ab), md([16, 16], dt.f32, tag.ab)
    kernels.add(dnnl.matmul(dnnl.matmul.primitive_desc(eng, a, b, a))._kernel)
    kernels.add(dnnl.reorder(dnnl.reorder.primitive_desc(eng, a, eng, b))._kernel)
    assert len(kernels) == 6 and dnnl.primitive_cache_stats().misses == 6


def test_key_owns_its_data(eng):
    """Changing the caller's post-ops or attr after creation changes nothing cached."""
    po = dnnl.post_ops()
    po.append_eltwise(dnnl.algorithm.eltwise_relu, 0.0, 0.0)
    attr = dnnl.primitive_attr()
    attr.set_post_ops(po)
    src, wei, dst = (md([1, 16, 9, 9], dt.f32, tag.nhwc), md([32, 16, 3, 3], dt.f32, tag.any),
                     md([1, 32, 9, 9], dt.f32, tag.nhwc))
    args = (eng, dnnl.prop_kind.forward_inference, dnnl.algorithm.convolution_direct, src, wei,
            dst, [1, 1], [1, 1], [1, 1])
    pd = dnnl.convolution_forward.primitive_desc(*args, attr=attr)
    first = dnnl.convolution_forward(pd)
    po.append_eltwise(dnnl.algorithm.eltwise_tanh, 0.0, 0.0)
    attr.set_post_ops(po)
    changed = dnnl.convolution_forward(dnnl.convolution_forward.primitive_desc(*args, attr=attr))
    assert changed._kernel is not first._kernel
    assert dnnl.convolution_forward(pd)._kernel is first._kernel
    assert pd.get_primitive_attr().get_post_ops().len() == 1  # the pd kept its own copy


def test_capacity_eviction_and_disable(eng):
    pds = [conv_pd(eng, mb=n) for n in (1, 2, 3)]
    kernels = [dnnl.convolution_forward(pd)._kernel for pd in pds]
    dnnl.convolution_forward(pds[0])  # pds[1] is now the least recently used
    dnnl.set_primitive_cache_capacity(2)
    assert dnnl.get_primitive_cache_capacity() == 2 and dnnl.get_primitive_cache_size() == 2
    assert dnnl.convolution_forward(pds[0])._kernel is kernels[0]
    assert dnnl.convolution_forward(pds[2])._kernel is kernels[2]
    assert dnnl.convolution_forward(pds[1])._kernel is not kernels[1]  # evicted, rebuilt
    dnnl.set_primitive_cache_capacity(0)
    assert dnnl.get_primitive_cache_size() == 0
    assert dnnl.convolution_forward(pds[0])._kernel is not dnnl.convolution_forward(pds[0])._kernel
    assert dnnl.get_primitive_cache_size() == 0


@pytest.mark.parametrize("bad", [-1, 1.5, "8", None, True])
def test_bad_capacity(bad):
    with pytest.raises(dnnl.error) as e:
        dnnl.set_primitive_cache_capacity(bad)
    assert e.value.status == dnnl.status.invalid_arguments and "capacity" in str(e.value)


def _capacity_in_child(env):
    code = "import dnnl_py as d; print(d.get_primitive_cache_capacity())"
    full = {k: v for k, v in os.environ.items() if "PRIMITIVE_CACHE_CAPACITY" not in k}
    return subprocess.run([sys.executable, "-c", code], env={**full, **env, "PYTHONPATH": ROOT},
                          capture_output=True, text=True)


def test_capacity_from_environment():
    assert _capacity_in_child({}).stdout.strip() == "1024"
    assert _capacity_in_child({"DNNL_PRIMITIVE_CACHE_CAPACITY": "9"}).stdout.strip() == "9"
    both = {"ONEDNN_PRIMITIVE_CACHE_CAPACITY": "7", "DNNL_PRIMITIVE_CACHE_CAPACITY": "9"}
    assert _capacity_in_child(both).stdout.strip() == "7"
    bad = _capacity_in_child({"ONEDNN_PRIMITIVE_CACHE_CAPACITY": "-3"})
    assert bad.returncode != 0 and "ONEDNN_PRIMITIVE_CACHE_CAPACITY" in bad.stderr


def _race(n, create):
    barrier, results = threading.Barrier(n), [None] * n

    def worker(i):
        barrier.wait()
        try:
            results[i] = create()
        except dnnl.error as e:
            results[i] = e
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_single_flight(eng, monkeypatch):
    pd = conv_pd(eng)
    calls, gate = [], threading.Event()
    build = pd._impl.make_kernel

    def slow_build(params):
        calls.append(1)
        gate.wait(5)  # hold the creation until every thread has asked
        return build(params)
    monkeypatch.setattr(pd._impl, "make_kernel", slow_build)
    threading.Timer(0.3, gate.set).start()
    prims = _race(8, lambda: dnnl.convolution_forward(pd))
    assert len(calls) == 1
    assert all(p._kernel is prims[0]._kernel for p in prims)
    stats = dnnl.primitive_cache_stats()
    assert (stats.misses, stats.hits) == (1, 7)


def test_failed_creation_is_shared_and_not_cached(eng, monkeypatch):
    pd = conv_pd(eng)
    calls, gate = [], threading.Event()

    def failing_build(params):
        calls.append(1)
        gate.wait(5)
        raise dnnl.error(dnnl.status.out_of_memory, "no room for the kernel")
    monkeypatch.setattr(pd._impl, "make_kernel", failing_build)
    threading.Timer(0.3, gate.set).start()
    results = _race(6, lambda: dnnl.convolution_forward(pd))
    assert len(calls) == 1
    assert all(r is results[0] for r in results) and isinstance(results[0], dnnl.error)
    assert results[0].status == dnnl.status.out_of_memory
    assert dnnl.get_primitive_cache_size() == 0
    gate.set()
    with pytest.raises(dnnl.error):
        dnnl.convolution_forward(pd)
    assert len(calls) == 2  # tried again, not served from the cache


def test_concurrent_execution_of_one_primitive(eng, strm, rng):
    """Executions release the GIL and share one kernel; each thread has its memories."""
    pd = conv_pd(eng, ops=())
    prim = dnnl.convolution_forward(pd)
    wei = rng.standard_normal((32, 16, 3, 3)).astype(np.float32)
    bias = rng.standard_normal(32).astype(np.float32)
    wei_mem = to_memory(eng, strm, wei, pd.weights_desc())
    bia_mem = dnnl.memory(pd.bias_desc(), eng, bias)
    srcs = [rng.standard_normal((1, 16, 9, 9)).astype(np.float32) for _ in range(6)]

    def run(src):
        dst = dnnl.memory(pd.dst_desc(), eng)
        args = {dnnl.ARG_SRC: to_memory(eng, strm, src, pd.src_desc()), dnnl.ARG_WEIGHTS: wei_mem,
                dnnl.ARG_BIAS: bia_mem, dnnl.ARG_DST: dst}
        for _ in range(20):
            prim.execute(strm, args)
        return dst.to_numpy()
    outs = [None] * len(srcs)
    threads = [threading.Thread(target=lambda i=i: outs.__setitem__(i, run(srcs[i])))
               for i in range(len(srcs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for src, out in zip(srcs, outs):
        ref = conv_fwd(src, wei[None], bias, (1, 1), (0, 0), (1, 1), (1, 1), 1)
        assert_close(out, ref, 16 * 9)


def test_a_repeated_descriptor_does_not_walk_the_list_again(eng, monkeypatch):
    """oneDNN's idiom rebuilds the pd for every creation: the second pd of a problem takes
    the first one's choice without asking any implementation again."""
    pd = conv_pd(eng)
    for cls in CPU_LISTS[primitive_kind.convolution]:
        monkeypatch.setattr(cls, "create", classmethod(lambda *a: pytest.fail("walked again")))
    again = conv_pd(eng)
    assert again._impl is pd._impl and again._cache_key == pd._cache_key
    assert again.dst_desc() == pd.dst_desc()


def test_a_repeated_descriptor_is_not_validated_again(eng, monkeypatch):
    """The second pd of the same arguments takes the first one's validated problem (the
    same object, whose key is computed once); new arguments are validated."""
    from dnnl_py import convolution

    pd = conv_pd(eng)

    def refuse(dst):
        raise AssertionError("validated again")
    monkeypatch.setattr(convolution, "check_dst", refuse)
    again = conv_pd(eng)
    assert again._problem is pd._problem and again._cache_key == pd._cache_key
    with pytest.raises(AssertionError, match="validated again"):
        conv_pd(eng, mb=13)  # a minibatch no other test uses


def test_unhashable_arguments_are_validated_every_time(eng):
    """Strides as a numpy array cannot key the memo: validated each time, same result."""
    pd = conv_pd(eng)
    args = (eng, dnnl.prop_kind.forward_inference, dnnl.algorithm.convolution_direct,
            md([1, 16, 9, 9], dt.f32, tag.nhwc), md([32, 16, 3, 3], dt.f32, tag.any),
            md([32], dt.f32, tag.a), md([1, 32, 9, 9], dt.f32, tag.nhwc))
    for _ in range(2):
        other = dnnl.convolution_forward.primitive_desc(
            *args, np.array([1, 1]), np.array([0, 0]), np.array([1, 1]), np.array([1, 1]),
            attr=make_attr((("eltwise", "eltwise_relu", 0.0, 0.0),)))
        assert other._cache_key == pd._cache_key
    with pytest.raises(dnnl.error):
        dnnl.convolution_forward.primitive_desc(*args, np.array([0, 1]), np.array([0, 0]),
                                                np.array([1, 1]), np.array([1, 1]))


def _softmax(eng, axis):
    src = md([4, 8], dt.f32, tag.ab)
    return dnnl.softmax_forward.primitive_desc(eng, dnnl.prop_kind.forward_inference,
                                               dnnl.algorithm.softmax_accurate, src, src, axis)


def _eltwise(eng, alpha):
    src = md([4, 8], dt.f32, tag.ab)
    return dnnl.eltwise_forward.primitive_desc(eng, dnnl.prop_kind.forward_inference,
                                               dnnl.algorithm.eltwise_linear, src, src, alpha)


def _layer_norm(eng, flags):
    src = md([4, 8], dt.f32, tag.ab)
    return dnnl.layer_normalization_forward.primitive_desc(
        eng, dnnl.prop_kind.forward_inference, src, src, 1e-5, flags)


def _concat(eng, axis):
    return dnnl.concat.primitive_desc(eng, axis, [md([4, 8], dt.f32, tag.ab)] * 2)


@pytest.mark.parametrize("make, good, bad", [
    (_softmax, 1, 1.0), (_eltwise, 1, True), (_layer_norm, 1, True), (_layer_norm, 2, 2.0),
    (_concat, 1, True)], ids=["softmax axis float", "eltwise alpha bool", "lnorm flags bool",
                              "lnorm flags float", "concat axis bool"])
def test_the_memo_never_passes_a_value_its_kind_refuses(eng, make, good, bad):
    """Equal values of another type (True == 1 == 1.0) are other memo keys: a value that
    validation refuses stays refused after an equal one passed."""
    make(eng, good)
    make(eng, good)
    with pytest.raises(dnnl.error) as e:
        make(eng, bad)
    assert e.value.status == dnnl.status.invalid_arguments


def test_a_miss_without_blobs_leaves_the_identity_for_later(eng, clean_caches, monkeypatch):
    """A blob's identity (a sha256 over the key) is computed when a blob is first made
    or read, not on every miss; the blob made later reads back into the primitive."""
    from dnnl_py.primitive import primitive_desc

    calls = []
    real = primitive_desc._identity
    monkeypatch.setattr(primitive_desc, "_identity",
                        lambda self, *a: calls.append(a) or real(self, *a))
    pd = conv_pd(eng, mb=17)  # a minibatch no other test uses
    prim = dnnl.convolution_forward(pd)
    assert calls == []
    blob = prim.get_cache_blob()
    assert calls == [(CPU_RUNTIME.threads(), False)] and prim.get_cache_blob() == blob
    assert len(calls) == 1  # kept
    dnnl.set_primitive_cache_capacity(0)  # a miss from the blob: its identity at once
    from_blob = dnnl.convolution_forward(pd, blob)
    assert from_blob._kernel is not prim._kernel and len(calls) == 2
    assert from_blob.get_cache_blob() == blob and len(calls) == 2
