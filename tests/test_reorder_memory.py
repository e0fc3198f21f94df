"""Reorders between every pair of layouts (on each engine), memory descriptors, and memory
objects."""
import itertools

import numpy as np
import pytest
from helpers import dt, tag

import dnnl_py as dnnl

ACT_TAGS = [tag.nchw, tag.nhwc, tag.chwn, tag.nChw8c, tag.nChw16c, tag.abdc]
WEI_TAGS = [tag.oihw, tag.hwio, tag.ohwi, tag.OIhw16i16o, tag.OIhw16o16i, tag.OIhw8i8o]


def reorder_roundtrip(eng, strm, dims, a, b, rng):
    x = rng.standard_normal(dims).astype(np.float32)
    user = dnnl.memory(dnnl.memory.desc(dims, dt.f32, tag.abcd), eng, x)
    ma = dnnl.memory(dnnl.memory.desc(dims, dt.f32, a), eng)
    mb = dnnl.memory(dnnl.memory.desc(dims, dt.f32, b), eng)
    back = dnnl.memory(user.get_desc(), eng)
    for src, dst in ((user, ma), (ma, mb), (mb, back)):
        dnnl.reorder(src, dst).execute(strm, {dnnl.ARG_FROM: src, dnnl.ARG_TO: dst})
    np.testing.assert_array_equal(ma.to_numpy(), x)
    np.testing.assert_array_equal(mb.to_numpy(), x)
    np.testing.assert_array_equal(back.to_numpy(), x)
    return mb


@pytest.mark.parametrize("a,b", list(itertools.product(ACT_TAGS, ACT_TAGS)), ids=lambda t: t.name)
def test_activation_pairs(engines, rng, a, b):
    reorder_roundtrip(*engines, [2, 19, 5, 3], a, b, rng)  # 19 channels: partial blocks


@pytest.mark.parametrize("a,b", list(itertools.product(WEI_TAGS, WEI_TAGS)), ids=lambda t: t.name)
def test_weight_pairs(engines, rng, a, b):
    reorder_roundtrip(*engines, [20, 35, 3, 3], a, b, rng)


def test_blocked_padding_is_zero(eng, strm, rng):
    mem = reorder_roundtrip(eng, strm, [1, 19, 2, 2], tag.nchw, tag.nChw16c, rng)
    raw = mem.get_data_handle().reshape(1, 2, 2, 2, 16)
    assert mem.get_desc().get_size() == 2 * 2 * 2 * 16 * 4
    assert not raw[:, 1, :, :, 3:].any()


def test_blocked_desc_matches_onednn():
    md = dnnl.memory.desc([2, 19, 5, 3], dt.f32, tag.nChw16c)
    assert md.get_padded_dims() == [2, 32, 5, 3]
    assert md.get_strides() == [32 * 15, 16 * 15, 3 * 16, 16]
    assert md.get_inner_blks() == [16] and md.get_inner_idxs() == [1]
    w = dnnl.memory.desc([20, 35, 3, 3], dt.f32, tag.OIhw16i16o)
    assert w.get_inner_blks() == [16, 16] and w.get_inner_idxs() == [1, 0]
    assert w.tag_str() == "ABcd16b16a"


def test_plain_desc_queries():
    md = dnnl.memory.desc([2, 3, 4, 5], dt.f32, tag.nhwc)
    assert md.get_strides() == [60, 1, 15, 3]
    assert md.get_size() == 2 * 3 * 4 * 5 * 4
    assert md.get_dims() == [2, 3, 4, 5] and md.get_data_type() == dt.f32
    assert md == dnnl.memory.desc([2, 3, 4, 5], dt.f32, [60, 1, 15, 3])
    assert md != dnnl.memory.desc([2, 3, 4, 5], dt.f32, tag.nchw)
    assert tag.nchw is tag.abcd and tag.hwio is tag.cdba and tag.nChw16c is tag.aBcd16b
    assert md.tag_str() == "acdb"
    assert dnnl.memory.desc([3, 4], dt.f32, [1, 3]).get_size() == 48
    assert dnnl.memory.desc().is_zero()


def test_memory_wraps_without_copy(eng):
    x = np.zeros((2, 3), np.float32)
    mem = dnnl.memory(dnnl.memory.desc([2, 3], dt.f32, tag.ab), eng, x)
    x[1, 2] = 7.0
    assert mem.to_numpy()[1, 2] == 7.0
    xt = np.zeros((3, 2), np.float32).T  # a transposed view: strides [1, 2]
    mem = dnnl.memory(dnnl.memory.desc([2, 3], dt.f32, tag.ba), eng, xt)
    xt[0, 1] = 5.0
    assert mem.to_numpy()[0, 1] == 5.0
    flat = np.arange(6, dtype=np.float32)
    mem = dnnl.memory(dnnl.memory.desc([3, 2], dt.f32, tag.ba), eng, flat)
    np.testing.assert_array_equal(mem.to_numpy(), flat.reshape(2, 3).T)


def test_version():
    v = dnnl.version()
    assert (v.major, v.minor) >= (0, 1) and isinstance(v.hash, str) and v.hash
