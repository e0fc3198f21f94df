"""Creating a primitive that is in the primitive cache, against a plain dict lookup of a
tuple the size of the cache key (the floor for any keyed cache in Python), and against
a creation that misses (cache disabled) for scale. Target: a hit under 10 microseconds.

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
