"""Reorders between every pair of layouts (on each engine), memory descriptors, and memory
objects."""
import itertools

import numpy as np
import pytest
from helpers import dt, tag

import dnnl_py as dnnl
from dnnl_py import blob

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
    # queries are methods, as oneDNN's is_zero()
    assert md.is_plain() and not md.is_any() and not md.is_zero()
    assert dnnl.memory.desc([2, 3], dt.f32, tag.any).is_any()
    assert not dnnl.memory.desc([2, 16, 3, 3], dt.f32, tag.nChw16c).is_plain()


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


def test_reorder_overload(eng, strm):
    """oneDNN's reorder(src, dst).execute(stream, src, dst)."""
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    a = dnnl.memory(dnnl.memory.desc([2, 3], dt.f32, tag.ab), eng, x)
    b = dnnl.memory(dnnl.memory.desc([2, 3], dt.f32, tag.ba), eng)
    dnnl.reorder(a, b).execute(strm, a, b)
    np.testing.assert_array_equal(b.to_numpy(), x)
    with pytest.raises(dnnl.error, match="execute takes"):
        dnnl.reorder(a, b).execute(strm, a, b, a)


# memory desc blobs --------------------------------------------------------------------

def test_md_blob_in_any_bytes_like_form():
    """A blob as a vector<uint8_t> would arrive: list, tuple, numpy uint8 array, bytearray;
    a list of ints that starts with the blob magic is a blob, not dims."""
    m = dnnl.memory.desc([2, 17, 5, 5], dt.f32, tag.aBcd8b)
    data = m.get_blob()
    for form in (list(data), tuple(data), np.frombuffer(data, np.uint8), bytearray(data),
                 memoryview(data), np.array(list(data), np.int64)):
        assert dnnl.memory.desc(form) == m
    with pytest.raises(dnnl.error, match="format tag or strides are needed"):
        dnnl.memory.desc([2, 3])  # dims alone stay dims
    with pytest.raises(dnnl.error, match="sequence of ints in"):
        dnnl.memory.desc(list(data[:-1]) + [256])


def forged_md_blob(**fields) -> bytes:
    """A memory desc blob with valid checksum and id digest whose records are `fields`
    over those of a blocked f32 descriptor."""
    good = dnnl.memory.desc([2, 17, 5, 5], dt.f32, tag.aBcd8b).get_blob()
    _, records = blob.unpack(good, blob.Kind.memory_desc, "x")
    records = {**records, **fields}
    digest = blob.identity_digest({k: v.hex() for k, v in records.items()})
    return blob.pack(blob.Kind.memory_desc, digest, records)


@pytest.mark.parametrize("fields,message", [
    (dict(data_type=b"undef"), "data type undef"),
    (dict(inner_blks=blob.ints([2**62, 4]), inner_idxs=blob.ints([1, 1])), "more than int64"),
    (dict(inner_blks=blob.ints([8, 0]), inner_idxs=blob.ints([1, 1])), "do not fit"),
    (dict(inner_blks=blob.ints([8]), inner_idxs=blob.ints([4])), "do not fit"),
    (dict(dims=blob.ints([2**62, 17, 5, 5])), "more than int64"),
    (dict(format_kind=b"any"), "strides or blocks on a descriptor of format any"),
    (dict(format_kind=b"undef"), "format kind undef with dims"),
    # found by tests/test_fuzz_blobs.py: a blocked f32 descriptor of no dims was accepted,
    # is_zero() yet unequal to desc()
    (dict(dims=blob.ints([]), strides=blob.ints([]), inner_blks=blob.ints([]),
          inner_idxs=blob.ints([])), "blocked without dims"),
    (dict(dims=blob.ints([]), strides=blob.ints([]), inner_blks=blob.ints([]),
          inner_idxs=blob.ints([]), format_kind=b"any"), "any without dims"),
    (dict(format_kind=b"opaque"), "strides or blocks on a descriptor of format opaque"),
    (dict(format_kind=b"opaque", strides=blob.ints([]), inner_blks=blob.ints([]),
          inner_idxs=blob.ints([])), "format opaque without a layout name"),
    (dict(format_kind=b"opaque", strides=blob.ints([]), inner_blks=blob.ints([]),
          inner_idxs=blob.ints([]), opaque=b"wino_9x9"), "unknown opaque layout"),
    (dict(format_kind=b"opaque", strides=blob.ints([]), inner_blks=blob.ints([]),
          inner_idxs=blob.ints([]), opaque=b"wino_2x3_aaio"), "does not take f32 dims"),
    (dict(opaque=b"wino_2x3_aaio"), "opaque layout name 'wino_2x3_aaio' on format blocked"),
], ids=["dt undef", "blocks overflow", "block 0", "block of dim 4", "size overflow",
        "any with strides", "undef with dims", "blocked no dims", "any no dims",
        "opaque with strides", "opaque unnamed", "opaque unknown", "opaque 5x5 dims",
        "blocked named"])
def test_md_blob_never_gives_what_the_constructor_refuses(fields, message):
    with pytest.raises(dnnl.error, match=message) as e:
        dnnl.memory.desc(forged_md_blob(**fields))
    assert e.value.status == dnnl.status.invalid_arguments


@pytest.mark.parametrize("tag_or_strides", [[], tag.any, None], ids=["strides", "any", "none"])
def test_no_dims_is_the_zero_descriptor(tag_or_strides):
    """As oneDNN's memory_desc_init_by_strides/by_tag: ndims 0 gives the zero md, so there
    is one descriptor that is_zero(), and its blob round-trips."""
    m = dnnl.memory.desc([], dt.f32, tag_or_strides)
    assert m.is_zero() and m == dnnl.memory.desc()
    assert m.get_data_type() == dt.undef and m.get_size() == 0
    assert dnnl.memory.desc(m.get_blob()) == m


def test_format_any_must_fit_int64_once_dense():
    """Found by tests/test_fuzz_api.py: matmul src [2, 0], weights [0, 2^63-1], dst any
    passed (an `any` descriptor has no size), then creation resolved dst to a dense layout
    of more than int64 bytes and failed with OverflowError in the kernel."""
    with pytest.raises(dnnl.error, match="more than int64") as e:
        dnnl.memory.desc([2, 2**63 - 1], dt.f32, tag.any)
    assert e.value.status == dnnl.status.invalid_arguments
    assert dnnl.memory.desc([0, 2**63 - 1], dt.f32, tag.any).get_size() == 0  # no elements
    with pytest.raises(dnnl.error, match="more than int64"):
        dnnl.memory.desc(forged_md_blob(format_kind=b"any", strides=blob.ints([]),
                                        inner_blks=blob.ints([]), inner_idxs=blob.ints([]),
                                        dims=blob.ints([2**62, 3, 5, 5])))


def test_md_blob_id_digest_is_checked():
    good = dnnl.memory.desc([2, 3], dt.f32, tag.ab).get_blob()
    _, records = blob.unpack(good, blob.Kind.memory_desc, "x")
    bad = blob.pack(blob.Kind.memory_desc, b"\1" * 32, records)
    with pytest.raises(dnnl.error, match="id digest"):
        dnnl.memory.desc(bad)


def test_a_repeated_desc_is_not_validated_again(monkeypatch):
    """desc(dims, dt, layout) remembers the fields of what it validated: the same
    arguments again make an equal, separate descriptor without parsing the tag again,
    and other arguments are still validated."""
    from dnnl_py import memory_desc

    first = dnnl.memory.desc([2, 19, 5, 3], dt.f32, tag.nChw16c)
    strided = dnnl.memory.desc([3, 4], dt.f32, [1, 3])

    def refuse(*args):
        raise AssertionError("validated again")
    monkeypatch.setattr(memory_desc, "_parse_tag", refuse)
    monkeypatch.setattr(memory_desc, "_check_fields", refuse)
    again = dnnl.memory.desc((2, 19, 5, 3), dt.f32, tag.aBcd16b)
    assert again == first and again is not first and hash(again) == hash(first)
    assert again.get_padded_dims() == [2, 32, 5, 3] and again.get_strides() == first.get_strides()
    assert dnnl.memory.desc([3, 4], dt.f32, (1, 3)) == strided
    with pytest.raises(AssertionError, match="validated again"):
        dnnl.memory.desc([2, 19, 5, 4], dt.f32, tag.nChw16c)
    monkeypatch.undo()
    for args in (([2, -19, 5, 3], dt.f32, tag.nChw16c), ([2, 19, 5, 3], dt.undef, tag.nChw16c),
                 ([2, 19, 5, 3], dt.f32, tag.abc),
                 ([3, 4], dt.f32, [1, -3]), ([2, 19, 5, 3], "f32", tag.nChw16c)):
        with pytest.raises(dnnl.error) as e:
            dnnl.memory.desc(*args)
        assert e.value.status == dnnl.status.invalid_arguments


def test_a_repeated_blob_is_not_parsed_again(monkeypatch):
    """desc(blob) remembers the fields of the bytes it parsed and validated (a model
    cache entry holds a blob per weight, many alike): the same bytes again make an equal
    descriptor without parsing; other bytes, a damaged copy included, are parsed."""
    from dnnl_py import memory_desc
    good = dnnl.memory.desc([2, 19, 5, 3], dt.f32, tag.aBcd16b).get_blob()
    first = dnnl.memory.desc(good)

    def refuse(*args):
        raise AssertionError("parsed again")
    monkeypatch.setattr(memory_desc, "_from_blob", refuse)
    assert dnnl.memory.desc(bytes(good)) == first
    assert dnnl.memory.desc(bytearray(good)) == first
    damaged = bytearray(good)
    damaged[-1] ^= 1
    with pytest.raises(AssertionError, match="parsed again"):
        dnnl.memory.desc(bytes(damaged))
    monkeypatch.undo()
    with pytest.raises(dnnl.error) as e:
        dnnl.memory.desc(bytes(damaged))
    assert e.value.status == dnnl.status.invalid_arguments


def test_opaque_descs(engines):
    """Winograd's transformed weights (format opaque, wino_2x3_aaio), as a primitive
    descriptor hands them out: 16/9 of the weights, a blob that round-trips, memory of
    them on either engine, and no way to read them as an array or copy them back (the
    OpenCL engine has no reorder into them either)."""
    eng, strm = engines
    from dnnl_py.memory_desc import WINO_2X3, opaque_desc
    w = opaque_desc([32, 16, 3, 3], dt.f32, WINO_2X3)
    assert w.get_format_kind() == dnnl.memory.format_kind.opaque and w.tag_str() == WINO_2X3
    assert w.get_size() == 16 * 32 * 16 * 4 and w.get_strides() == []
    assert dnnl.memory.desc(w.get_blob()) == w and w != opaque_desc([16, 32, 3, 3], dt.f32,
                                                                    WINO_2X3)
    with pytest.raises(dnnl.error, match="does not take f32 dims"):
        opaque_desc([32, 16, 5, 5], dt.f32, WINO_2X3)
    mem = dnnl.memory(w, eng)
    with pytest.raises(dnnl.error, match="opaque") as e:
        mem.to_numpy()
    assert e.value.status == dnnl.status.invalid_arguments
    plain = dnnl.memory(dnnl.memory.desc([32, 16, 3, 3], dt.f32, tag.abcd), eng)
    with pytest.raises(dnnl.error) as e:  # oneDNN has no reorder out of wino either
        dnnl.reorder(mem, plain)
    assert e.value.status == dnnl.status.unimplemented
    with pytest.raises(dnnl.error, match="opaque layout wino_2x3_aaio") as e:
        dnnl.reorder(mem, plain)
    with pytest.raises(dnnl.error) as e:  # 5x5 weights have no such transform
        dnnl.reorder(dnnl.memory(dnnl.memory.desc([32, 16, 5, 5], dt.f32, tag.abcd), eng),
                     mem)
    assert e.value.status == dnnl.status.invalid_arguments
