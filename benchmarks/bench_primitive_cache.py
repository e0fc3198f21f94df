"""Creating a primitive that is in the primitive cache, against a plain dict lookup of a
tuple the size of the cache key (the floor for any keyed cache in Python), and against
a creation that misses (cache disabled) for scale. Target: a hit under 10 microseconds.
And oneDNN's idiom, the primitive descriptor rebuilt for every creation (its memory
descriptors made beforehand), against one memory descriptor's creation for scale.

    .venv/bin/python -m pytest benchmarks/bench_primitive_cache.py --benchmark-only
"""
import pytest

import dnnl_py as dnnl
from dnnl_py.primitive_cache import CACHE

dt, tag = dnnl.memory.data_type, dnnl.memory.format_tag


def conv_pd():
    eng = dnnl.engine(dnnl.engine.kind.cpu, 0)
    md = dnnl.memory.desc
    attr = dnnl.primitive_attr()
    po = dnnl.post_ops()
    po.append_eltwise(dnnl.algorithm.eltwise_relu, 0.0, 0.0)
    attr.set_post_ops(po)
    return dnnl.convolution_forward.primitive_desc(
        eng, dnnl.prop_kind.forward_inference, dnnl.algorithm.convolution_direct,
        md([1, 64, 56, 56], dt.f32, tag.nhwc), md([64, 64, 3, 3], dt.f32, tag.any),
        md([64], dt.f32, tag.a), md([1, 64, 56, 56], dt.f32, tag.nhwc), [1, 1], [1, 1], [1, 1],
        attr=attr)


@pytest.mark.parametrize("impl", ["dnnl", "dict_lookup", "miss"])
def test_create_hit(benchmark, impl):
    pd = conv_pd()
    benchmark.group = "primitive_cache:create_on_hit"
    capacity = dnnl.get_primitive_cache_capacity()
    if impl == "dnnl":
        dnnl.convolution_forward(pd)
        fn = lambda: dnnl.convolution_forward(pd)  # noqa: E731
    elif impl == "dict_lookup":
        # the key's parts, rebuilt as plain tuples (which hash afresh on every lookup)
        key = (tuple(pd._cache_key.parts), pd._engine._runtime.threads())
        table = {key: object()}
        fn = lambda: table[key]  # noqa: E731
    else:
        dnnl.set_primitive_cache_capacity(0)
        fn = lambda: dnnl.convolution_forward(pd)  # noqa: E731
    try:
        benchmark(fn)
    finally:
        dnnl.set_primitive_cache_capacity(capacity)
    assert impl != "dnnl" or CACHE.stats().hits > 0


@pytest.mark.parametrize("what", ["pd_and_hit", "one_md"])
def test_repeated_pd(benchmark, what):
    benchmark.group = "primitive_cache:repeated_pd"
    eng, md = dnnl.engine(dnnl.engine.kind.cpu, 0), dnnl.memory.desc
    src, wei = md([1, 64, 56, 56], dt.f32, tag.nhwc), md([64, 64, 3, 3], dt.f32, tag.any)
    dst = md([1, 64, 56, 56], dt.f32, tag.nhwc)

    def pd_and_hit():
        pd = dnnl.convolution_forward.primitive_desc(
            eng, dnnl.prop_kind.forward_inference, dnnl.algorithm.convolution_direct, src,
            wei, None, dst, [1, 1], [1, 1], [1, 1])
        return dnnl.convolution_forward(pd)
    pd_and_hit()
    benchmark(pd_and_hit if what == "pd_and_hit"
              else lambda: md([1, 64, 56, 56], dt.f32, tag.nhwc))

