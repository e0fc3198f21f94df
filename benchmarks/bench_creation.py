"""Primitive creation, in process: from a cache blob ("dnnl") against a tuned cache miss,
an untuned miss and a primitive-cache hit, for conv res4a_branch2b (mb1) and matmul
1024^3. The summary's "tuned_miss Nx" is the blob's speed-up (issue 4's target: 20x).
benchmarks/creation_times.py measures the same in fresh processes.

test_repeated_creation: oneDNN's idiom on a problem both caches hold, per kind of
benchmarks/creation_hit.py: a new primitive descriptor from memory descriptors made
beforehand, then the primitive (a primitive-cache hit); issue 19's target is 20 us. Its
reference is one memory descriptor's creation, measured in the same run.

    PYTHONPATH=. .venv/bin/python -m pytest benchmarks/bench_creation.py \
        -p no:cacheprovider --benchmark-only -q
"""

import pytest
from creation_hit import KINDS as HIT_KINDS

import dnnl_py as dnnl
from dnnl_py.benchdnn.cli import INPUTS
from dnnl_py.benchdnn.problems import parse_conv, read_batch

dt, tag = dnnl.memory.data_type, dnnl.memory.format_tag
md = dnnl.memory.desc
SHAPES = INPUTS / "shapes_resnet_50"


def conv_pd(eng):
    p = next(p for p in read_batch(SHAPES, parse_conv) if "res4a_branch2b" in p.name)
    return dnnl.convolution_forward.primitive_desc(
        eng, dnnl.prop_kind.forward_inference, dnnl.algorithm.convolution_direct,
        md([1, p.ic, *p.i[1:]], dt.f32, tag.nhwc), md([p.oc, p.ic, *p.k[1:]], dt.f32, tag.any),
        None, md([1, p.oc, *p.o[1:]], dt.f32, tag.nhwc), list(p.s[1:]), list(p.p[1:]),
        list(p.pr[1:]))


def matmul_pd(eng):
    square = md([1024, 1024], dt.f32, tag.ab)
    return dnnl.matmul.primitive_desc(eng, square, square, None, square)


KINDS = {"conv_res4a_branch2b": (conv_pd, dnnl.convolution_forward),
         "matmul_1024": (matmul_pd, dnnl.matmul)}


@pytest.fixture
def fresh_caches():
    capacity = dnnl.get_primitive_cache_capacity()
    dnnl.set_cache_dir(None)
    yield
    dnnl.set_primitive_cache_capacity(capacity)
    dnnl.set_cpu_tuning(False)
    dnnl.clear_primitive_cache()


@pytest.mark.skipif(not SHAPES.exists(), reason=f"{SHAPES} not found")
@pytest.mark.parametrize("impl", ["dnnl", "tuned_miss", "untuned_miss", "cache_hit"])
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_creation(benchmark, fresh_caches, kind, impl):
    make_pd, prim_cls = KINDS[kind]
    benchmark.group = f"creation:{kind}"
    pd = make_pd(dnnl.engine(dnnl.engine.kind.cpu, 0))
    dnnl.set_cpu_tuning(impl != "untuned_miss")
    value = prim_cls(pd).get_cache_blob()   # tuned (except untuned_miss), and now cached
    if impl == "cache_hit":
        benchmark(prim_cls, pd)
        return
    dnnl.set_primitive_cache_capacity(0)     # every creation below misses
    if impl == "dnnl":
        benchmark(prim_cls, pd, value)
    else:
        benchmark.pedantic(prim_cls, (pd,), rounds=3 if impl == "tuned_miss" else 20)


@pytest.mark.parametrize("impl", ["dnnl", "one_md"])
@pytest.mark.parametrize("kind", sorted(HIT_KINDS))
def test_repeated_creation(benchmark, fresh_caches, kind, impl):
    benchmark.group = f"creation_hit:{kind}"
    prim_cls, make_pd = HIT_KINDS[kind](0)
    dnnl.set_cpu_tuning(False)
    first = prim_cls(make_pd())
    if impl == "one_md":
        benchmark(md, [1, 64, 56, 56], dt.f32, tag.nhwc)
        return
    again = benchmark(lambda: prim_cls(make_pd()))
    assert again._kernel is first._kernel  # a hit
