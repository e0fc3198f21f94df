"""Concat against numpy's concatenate: every axis of 1D to 5D sources, one to five
sources, odd sizes, empty sources, mixed plain layouts, a blocked source, `any` and
explicit dst, on both engines; bad input; a blob round trip; the primitive cache key."""
import itertools

import numpy as np
import pytest
from helpers import ocl_impls, tag, to_memory

import dnnl_py as dnnl
from dnnl_py.cpu import concat as cpu_concat
from dnnl_py.memory_desc import plain_desc, plain_order

IMPLS = [cpu_concat.ConcatStrided, *ocl_impls("concat", "ConcatStrided")]
md, f32 = dnnl.memory.desc, dnnl.memory.data_type.f32


def layout(dims, rng, kind: str):
    """A plain layout of dims: row-major, a random permutation, or reversed."""
    nd = len(dims)
    order = plain_order(nd)
    if kind == "perm":
        order = "".join(rng.permutation(list(order)))
    elif kind == "reversed":
        order = order[::-1]
    return plain_desc(dims, f32, order)


def run_concat(eng, strm, arrays, axis, src_mds, dst_md=None):
    pd = (dnnl.concat.primitive_desc(eng, axis, src_mds) if dst_md is None
          else dnnl.concat.primitive_desc(eng, dst_md, axis, src_mds))
    args = {dnnl.ARG_MULTIPLE_SRC + i: to_memory(eng, strm, a, pd.src_desc(i))
            for i, a in enumerate(arrays)}
    args[dnnl.ARG_DST] = dnnl.memory(pd.dst_desc(), eng)
    dnnl.concat(pd).execute(strm, args)
    strm.wait()
    return args[dnnl.ARG_DST].to_numpy(), pd


# (source dims with the concat axis set to 0, axis, sizes along the axis)
CASES = [
    ((0,), 0, (3, 5, 1)),
    ((2, 0), 0, (1, 3)),
    ((3, 0), 1, (7, 1, 4, 2)),
    ((2, 0, 5), 1, (3, 3)),
    ((0, 3, 5), 0, (2, 1, 2)),
    ((4, 3, 0), 2, (1, 6, 5)),
    ((2, 0, 5, 7), 1, (3, 16, 5)),
    ((0, 3, 4, 5), 0, (1, 1)),
    ((2, 3, 0, 5), 2, (4, 1, 2, 3, 5)),
    ((2, 3, 4, 0), 3, (5, 7)),
    ((1, 2, 3, 4, 0), 4, (3, 2)),
    ((2, 0, 3, 1, 2), 1, (2, 5, 1)),
    ((2, 3, 0, 2, 2), 2, (1,)),
    ((3, 0, 4), 1, (2, 0, 3)),    # an empty source in the middle
    ((1, 1, 0), 2, (1, 1, 1, 1)),
]


def case_id(case) -> str:
    dims, axis, sizes = case
    return f"{len(dims)}d_axis{axis}_" + "+".join(map(str, sizes))


@pytest.mark.parametrize("impl", IMPLS, ids=lambda c: c.name)
@pytest.mark.parametrize("dst_kind", ["none", "any", "plain", "reversed"])
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_shapes(engine_for, rng, impl, dst_kind, case):
    base, axis, sizes = case
    eng, strm = engine_for(impl)
    arrays, mds = [], []
    for n, size in enumerate(sizes):
        dims = list(base)
        dims[axis] = size
        arrays.append(rng.standard_normal(dims).astype(np.float32))
        mds.append(layout(dims, rng, ["plain", "perm", "reversed"][n % 3]))
    dst_dims = list(base)
    dst_dims[axis] = sum(sizes)
    dst_md = {"none": None, "any": md(dst_dims, f32, tag.any),
              "plain": layout(dst_dims, rng, "plain"),
              "reversed": layout(dst_dims, rng, "reversed")}[dst_kind]
    out, pd = run_concat(eng, strm, arrays, axis, mds, dst_md)
    assert pd.impl_info_str() == impl.name
    np.testing.assert_array_equal(out, np.concatenate(arrays, axis))  # a copy: exact
    if dst_kind in ("none", "any"):  # the first source's layout
        assert pd.dst_desc() == plain_desc(dst_dims, f32, mds[0].tag_str())
    else:
        assert pd.dst_desc() == dst_md


@pytest.mark.parametrize("impl", IMPLS, ids=lambda c: c.name)
def test_many_sources_all_axes(engine_for, rng, impl):
    eng, strm = engine_for(impl)
    for axis, count in itertools.product(range(4), (1, 2, 9)):
        arrays = []
        for _ in range(count):
            dims = [2, 3, 4, 5]
            dims[axis] = int(rng.integers(1, 4))
            arrays.append(rng.standard_normal(dims).astype(np.float32))
        mds = [md(a.shape, f32, tag.nhwc) for a in arrays]
        out, _ = run_concat(eng, strm, arrays, axis, mds)
        np.testing.assert_array_equal(out, np.concatenate(arrays, axis))


@pytest.mark.parametrize("impl", IMPLS, ids=lambda c: c.name)
def test_nan_and_inf_are_copied(engine_for, impl):
    eng, strm = engine_for(impl)
    a = np.array([[np.nan, np.inf], [-np.inf, 0.0]], np.float32)
    b = np.array([[-0.0], [np.nan]], np.float32)
    out, _ = run_concat(eng, strm, [a, b], 1, [md([2, 2], f32, tag.ab),
                                                md([2, 1], f32, tag.ab)])
    np.testing.assert_array_equal(out, np.concatenate([a, b], 1))
    assert np.signbit(out[0, 2])


@pytest.mark.parametrize("impl", IMPLS, ids=lambda c: c.name)
def test_blocked_source(engine_for, rng, impl):
    """A blocked source whose blocks hold no padding is one strided copy; with padding
    the implementation declines (reorder first)."""
    eng, strm = engine_for(impl)
    a = rng.standard_normal((2, 16, 3, 3)).astype(np.float32)
    b = rng.standard_normal((2, 5, 3, 3)).astype(np.float32)
    out, _ = run_concat(eng, strm, [a, b], 1, [md(a.shape, f32, tag.aBcd8b),
                                                md(b.shape, f32, tag.abcd)])
    np.testing.assert_array_equal(out, np.concatenate([a, b], 1))
    with pytest.raises(dnnl.error) as e:
        dnnl.concat.primitive_desc(eng, 1, [md(b.shape, f32, tag.aBcd8b),
                                            md(a.shape, f32, tag.abcd)])
    assert e.value.status == dnnl.status.unimplemented
    with pytest.raises(dnnl.error) as e:  # a blocked dst
        dnnl.concat.primitive_desc(eng, md([2, 32, 3, 3], f32, tag.aBcd8b), 1,
                                   [md(a.shape, f32, tag.abcd)] * 2)
    assert e.value.status == dnnl.status.unimplemented and "plain layouts only" in str(e.value)


A, B = md([2, 3, 4], f32, tag.abc), md([2, 5, 4], f32, tag.abc)
BAD = {
    "other dims differ": ((1, [A, md([3, 5, 4], f32, tag.abc)]), "srcs: source 1 dims"),
    "ranks differ": ((1, [A, md([2, 5], f32, tag.ab)]), "srcs: source 1 has 2 dims"),
    "axis too big": ((3, [A, B]), "concat_dimension: 3"),
    "negative axis": ((-1, [A, B]), "concat_dimension: -1"),
    "axis not int": (("1", [A, B]), "concat_dimension"),
    "no sources": ((1, []), "at least one source"),
    "not a list": ((1, A), "srcs: expected a list"),
    "any source": ((1, [A, md([2, 5, 4], f32, tag.any)]), "source 1 needs a concrete"),
    "a non-desc source": ((1, [A, 3]), "source 1 needs a concrete"),
    "dst dims": ((md([2, 9, 4], f32, tag.abc), 1, [A, B]), "dst: dims [2, 9, 4]"),
    "dst not a desc": (("x", 1, [A, B]), "dst: expected a memory descriptor"),
    "too many args": ((None, 1, [A, B], 4), "concat: expected"),
    "overlapping dst": ((md([2, 8, 4], f32, [0, 4, 1]), 1, [A, B]), "overlap"),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_input(eng, case):
    args, words = BAD[case]
    with pytest.raises(dnnl.error) as e:
        dnnl.concat.primitive_desc(eng, *args)
    assert e.value.status == dnnl.status.invalid_arguments and words in str(e.value)


def test_unimplemented(eng):
    with pytest.raises(dnnl.error) as e:
        dnnl.concat.primitive_desc(eng, 1, [A, md([2, 5, 4], dnnl.memory.data_type.bf16,
                                                   tag.abc)])
    assert e.value.status == dnnl.status.unimplemented and "source 1 data type" in str(e.value)
    po = dnnl.post_ops()
    po.append_eltwise(dnnl.algorithm.eltwise_relu, 0.0, 0.0)
    attr = dnnl.primitive_attr()
    attr.set_post_ops(po)
    with pytest.raises(dnnl.error) as e:
        dnnl.concat.primitive_desc(eng, 1, [A, B], attr)
    assert e.value.status == dnnl.status.unimplemented and "post-ops" in str(e.value)


def test_execute_checks_arguments(eng, strm):
    pd = dnnl.concat.primitive_desc(eng, 1, [A, B])
    prim = dnnl.concat(pd)
    mems = {dnnl.ARG_MULTIPLE_SRC: dnnl.memory(A, eng), dnnl.ARG_DST: dnnl.memory(pd.dst_desc(),
                                                                                   eng)}
    with pytest.raises(dnnl.error, match="missing"):
        prim.execute(strm, mems)
    mems[dnnl.ARG_MULTIPLE_SRC + 1] = dnnl.memory(A, eng)
    with pytest.raises(dnnl.error, match="expects"):
        prim.execute(strm, mems)
    mems[dnnl.ARG_MULTIPLE_SRC + 1] = dnnl.memory(B, eng)
    mems[dnnl.ARG_MULTIPLE_SRC + 2] = dnnl.memory(B, eng)
    with pytest.raises(dnnl.error, match="unexpected"):
        prim.execute(strm, mems)
    del mems[dnnl.ARG_MULTIPLE_SRC + 2]
    prim.execute(strm, mems)
    assert pd.query_md(dnnl.ARG_MULTIPLE_SRC + 1) == B
    assert pd.src_desc(1) == B and pd.src_desc() == A
    assert dnnl.concat.primitive_desc(eng, np.int64(1), (A, B)).dst_desc() == pd.dst_desc()


@pytest.mark.parametrize("impl", IMPLS, ids=lambda c: c.name)
def test_blob_round_trip(engine_for, rng, clean_caches, impl):
    eng, strm = engine_for(impl)
    a = rng.standard_normal((2, 3, 4)).astype(np.float32)
    b = rng.standard_normal((2, 5, 4)).astype(np.float32)
    pd = dnnl.concat.primitive_desc(eng, 1, [A, B])
    blob = dnnl.concat(pd).get_cache_blob()
    dnnl.clear_primitive_cache()
    prim = dnnl.concat(pd, blob)
    args = {dnnl.ARG_MULTIPLE_SRC: dnnl.memory(A, eng, a),
            dnnl.ARG_MULTIPLE_SRC + 1: dnnl.memory(B, eng, b),
            dnnl.ARG_DST: dnnl.memory(pd.dst_desc(), eng)}
    prim.execute(strm, args)
    strm.wait()
    np.testing.assert_array_equal(args[dnnl.ARG_DST].to_numpy(), np.concatenate([a, b], 1))
    dnnl.clear_primitive_cache()
    other = dnnl.concat.primitive_desc(eng, 1, [B, A])
    with pytest.raises(dnnl.error) as e:
        dnnl.concat(other, blob)
    assert e.value.status == dnnl.status.invalid_arguments


VARIANTS = {
    "axis": (0, [A, A]),
    "order of sources": (1, [B, A]),
    "a source's dims": (1, [A, md([2, 6, 4], f32, tag.abc)]),
    "a source's layout": (1, [A, md([2, 5, 4], f32, tag.acb)]),
    "number of sources": (1, [A, B, A]),
    "dst layout": (md([2, 8, 4], f32, tag.acb), 1, [A, B]),
    "any dst": (md([2, 8, 4], f32, tag.any), 1, [A, B]),
}


def test_cache_key_tells_every_field_apart(eng, clean_caches):
    kernels = {id(dnnl.concat(dnnl.concat.primitive_desc(eng, 1, [A, B]))._kernel)}
    for args in VARIANTS.values():
        kernels.add(id(dnnl.concat(dnnl.concat.primitive_desc(eng, *args))._kernel))
    assert len(kernels) == len(VARIANTS) + 1
    assert dnnl.primitive_cache_stats().misses == len(VARIANTS) + 1


def test_verbose_fields(eng):
    info = dnnl.concat.primitive_desc(eng, md([2, 8, 4], f32, tag.acb), 1, [A, B])._verbose_info()
    assert info[1] == "concat" and info[6] == "axis:1" and info[7] == "2x3x4:2x5x4"
    assert info[4] == ("src:f32::blocked:abc::f0 src:f32::blocked:abc::f0 "
                       "dst:f32::blocked:acb::f0")
