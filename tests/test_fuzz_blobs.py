"""Fuzz of every blob reader: memory descriptors, CPU primitive blobs of each kind and,
with an OpenCL device, engine and primitive blobs.

Blobs the library made are mutated: bits flipped or bytes cut and appended (the checksum
then refuses them), and, with the checksum made again with blob.py's own helpers, bits
flipped in the body, length fields set to other values, records edited, dropped, added
or taken from another blob. That reaches the field checks behind the checksum. Every
blob then gives a dnnl.error or is accepted; an accepted one is executed and must
compute what a primitive made from scratch computes, inside guard zones (fuzzing.py).

OpenCL blobs hold program binaries, native code on PoCL's CPU device: a binary with a
valid checksum is trusted by design (docs/persistent-cache.md, threat model), so a
mutated blob that would hand the driver a binary, or pair a binary with another
implementation or blocking than the one it was built for, is not loaded (counted as
"forged code").
"""
from __future__ import annotations

import functools
import struct

import numpy as np
import pytest
from fuzzing import FOUND, LONG_EXAMPLES, Guarded, fuzz_settings, offsets, outcome, record, report
from helpers import dt, tag
from hypothesis import given
from hypothesis import strategies as st
from reference import relative_error, tolerance

import dnnl_py as dnnl
from dnnl_py import blob, primitive_blob
from dnnl_py.kinds import ARG_NAMES
from dnnl_py.layout import overlaps
from dnnl_py.memory_desc import _blob_digest

HEAD = blob._HEAD
CHECKSUM = blob._CHECKSUM_BYTES
MAX_EXEC_BYTES = 4 << 20  # an accepted descriptor larger than this is checked, not run

INTS = st.one_of(
    st.sampled_from([0, 1, 2, 3, 4, 5, 7, 8, 16, 17, 64, -1, -2, 2**31 - 1, 2**31, 2**32,
                     2**62, 2**63 - 1, -2**63]),
    st.integers(-2**63, 2**63 - 1), st.integers(0, 40))
NAMES = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=12)


# -- mutations ---------------------------------------------------------------------------

def rechecksum(body: bytes) -> bytes:
    return body + blob._checksum(body)


def length_fields(data: bytes) -> list:
    """(offset, struct format) of every length field of a well-formed blob: the record
    count, and each record's name and value lengths."""
    fields, at, end = [(HEAD.size - 4, "<I")], HEAD.size, len(data) - CHECKSUM
    while at < end:
        fields.append((at, "<B"))
        at += 1 + data[at]
        fields.append((at, "<I"))
        at += 4 + struct.unpack_from("<I", data, at)[0]
    return fields


def mutate(draw, base: bytes, value_of, digest_of, others: list,
           focus: tuple = ()) -> tuple[str, bytes]:
    """(how, mutated blob). value_of(draw, name, value) gives a record's new value;
    digest_of(records, digest) the id digest to pack with; others: blobs to splice from;
    focus: the records edited half of the time (the rest pass only as the original)."""
    how = draw(st.sampled_from(["flip", "truncate", "extend", "flip+checksum",
                                "length+checksum", "fields+checksum", "fields+checksum",
                                "fields+checksum", "splice+checksum"]))
    data = bytearray(base)
    if how in ("flip", "flip+checksum"):
        body = len(data) - (CHECKSUM if how == "flip+checksum" else 0)
        for bit in draw(st.lists(st.integers(0, body * 8 - 1), min_size=1, max_size=4)):
            data[bit // 8] ^= 1 << bit % 8
        return how, bytes(data[:body]) + (blob._checksum(bytes(data[:body]))
                                           if how == "flip+checksum" else bytes(data[body:]))
    if how == "truncate":
        return how, bytes(data[:draw(st.integers(0, len(data) - 1))])
    if how == "extend":
        return how, bytes(data) + draw(st.binary(min_size=1, max_size=64))
    body = bytes(data[:-CHECKSUM])
    if how == "length+checksum":
        at, fmt = draw(st.sampled_from(length_fields(bytes(data))))
        (old,) = struct.unpack_from(fmt, body, at)
        top = 255 if fmt == "<B" else 2**32 - 1
        new = draw(st.sampled_from([0, 1, old - 1, old + 1, len(body) - at, top, old + 8])
                   | st.integers(0, top))
        buf = bytearray(body)
        struct.pack_into(fmt, buf, at, min(max(new, 0), top))
        return how, rechecksum(bytes(buf))
    kind, digest = data[10], bytes(data[11:43])
    _, records = blob.unpack(base, blob.Kind(kind), "base")
    records = dict(records)
    if how == "splice+checksum":
        _, other = blob.unpack(draw(st.sampled_from(others)), blob.Kind(kind), "other")
        for name in draw(st.lists(st.sampled_from(sorted(other)), min_size=1, max_size=4)):
            records[name] = other[name]
    else:
        for _ in range(draw(st.integers(1, 3))):
            op = draw(st.sampled_from(["set", "set", "set", "drop", "add"]))
            if op == "add" or not records:
                records[draw(NAMES)] = draw(st.binary(max_size=24))
                continue
            names = [n for n in focus if n in records]
            if not names or draw(st.booleans()):
                names = sorted(records)
            name = draw(st.sampled_from(names))
            if op == "drop":
                del records[name]
            else:
                records[name] = value_of(draw, name, records[name])
    digest = digest_of(records, digest)
    if draw(st.integers(0, 19)) == 19:  # the header's other fields, rarely
        kind = draw(st.sampled_from([0, 1, 2, 3, 4, 255]))
    out = blob.pack(kind, digest, records)
    if draw(st.integers(0, 29)) == 29:
        out = rechecksum(out[:8] + struct.pack("<H", draw(st.integers(0, 3))) + out[10:-CHECKSUM])
    return how, out


def ints_value(draw, values: tuple, extra=INTS) -> bytes:
    """An int-list record near `values` (one changed, one added or removed), or random."""
    values = list(values)
    how = draw(st.sampled_from(["change", "change", "grow", "shrink", "random", "bytes"]))
    if how == "change" and values:
        values[draw(st.integers(0, len(values) - 1))] = draw(extra)
    elif how == "grow":
        values.insert(draw(st.integers(0, len(values))), draw(extra))
    elif how == "shrink" and values:
        values.pop(draw(st.integers(0, len(values) - 1)))
    elif how == "bytes":
        return draw(st.binary(max_size=40))
    else:
        values = draw(st.lists(extra, max_size=13))
    return blob.ints(values)


def ints_or_empty(value: bytes) -> tuple:
    """An int-list record's values (an earlier edit may have made it something else)."""
    try:
        return blob.read_ints(value, "base")
    except dnnl.error:
        return ()


def text_value(draw, value: bytes, choices: list) -> bytes:
    return draw(st.sampled_from([c.encode() for c in choices]) | st.binary(max_size=12)
                | st.just(value[:-1]) | st.just(value + b" "))


def classify(family: str, fn) -> object:
    """fn() -> accepted thing, or None on dnnl.error (recorded by message)."""
    try:
        return fn()
    except dnnl.error as e:
        assert isinstance(e.status, dnnl.status), e
        record(family, "refused: " + outcome(e))
        return None


# -- memory descriptors -----------------------------------------------------------------

MD_BASES = [
    dnnl.memory.desc([2, 3, 5, 7], dt.f32, tag.nchw),
    dnnl.memory.desc([2, 19, 5, 3], dt.f32, tag.aBcd8b),
    dnnl.memory.desc([20, 17, 3, 3], dt.f32, tag.ABcd8b8a),
    dnnl.memory.desc([2, 3, 5, 7], dt.f32, tag.nhwc),
    dnnl.memory.desc([4, 6], dt.f32, [10, 1]),          # padded rows
    dnnl.memory.desc([4, 6], dt.f32, [0, 1]),           # broadcast rows (overlapping)
    dnnl.memory.desc([33, 5], dt.s8, tag.ab),
    dnnl.memory.desc([3, 4, 5], dt.bf16, tag.acb),
    dnnl.memory.desc([3, 4, 5], dt.f32, tag.any),
    dnnl.memory.desc([9], dt.f64, tag.a),
    dnnl.memory.desc(),
]
MD_BLOBS = [md.get_blob() for md in MD_BASES]
DATA_TYPES = [d.value for d in dnnl.memory.data_type]
FORMAT_KINDS = [k.value for k in dnnl.memory.format_kind]


def md_value(draw, name: str, value: bytes) -> bytes:
    if name == "data_type":
        return text_value(draw, value, DATA_TYPES)
    if name == "format_kind":
        return text_value(draw, value, FORMAT_KINDS)
    return ints_value(draw, ints_or_empty(value))


def md_digest(draw):
    def digest_of(records, digest):
        pick = draw(st.integers(0, 9))  # mostly a digest that matches the edited records
        return digest if pick == 9 else bytes(32) if pick == 8 else _blob_digest(records)
    return digest_of


def check_accepted_md(eng, strm, md, rng) -> None:
    """An accepted descriptor is one the constructor makes, and memory of it works."""
    assert dnnl.memory.desc(md.get_blob()) == md
    if md.is_zero():
        assert md == dnnl.memory.desc()
        return
    if md.is_any():
        assert md == dnnl.memory.desc(list(md.dims), md.data_type, tag.any)
        return
    if md.is_plain():
        assert md == dnnl.memory.desc(list(md.dims), md.data_type, list(md.strides))
    size = md.get_size()
    if 0 in md.dims:
        assert size == 0
        return
    assert size > 0
    if size > MAX_EXEC_BYTES or np.prod(md.dims, dtype=object) > MAX_EXEC_BYTES:
        return
    # every addressed element lies inside the memory (worked out without the library)
    assert offsets(md).max() < md.nelems_spanned()
    if md.data_type != dt.f32:
        mem = dnnl.memory(md, eng)
        assert mem.to_numpy().shape == tuple(md.dims)
        return
    # through the layout and back, by reorders, inside guard zones
    plain = dnnl.memory.desc(list(md.dims), dt.f32, [int(np.prod(md.dims[i + 1:]))
                                                     for i in range(len(md.dims))])
    values = rng.standard_normal(md.dims).astype(np.float32)
    src, mid, back = Guarded(eng, plain, values), Guarded(eng, md), Guarded(eng, plain)
    try:
        dnnl.reorder(src.mem, mid.mem)
    except dnnl.error:
        assert overlaps(md), f"reorder refused a dst {md} that does not overlap"
        return
    dnnl.reorder(src.mem, mid.mem).execute(strm, src.mem, mid.mem)
    dnnl.reorder(mid.mem, back.mem).execute(strm, mid.mem, back.mem)
    src.check_unchanged("src")
    mid.check_guards("reorder dst")
    back.check_guards("reorder back")
    np.testing.assert_array_equal(back.logical(), values)
    np.testing.assert_array_equal(mid.logical(), values)


@fuzz_settings(short=300)
@given(data=st.data())
def test_memory_desc_blobs(data, eng, strm):
    draw = data.draw
    base = draw(st.sampled_from(MD_BLOBS))
    how, mutated = mutate(draw, base, md_value, md_digest(draw), MD_BLOBS)
    as_list = draw(st.integers(0, 9)) == 9  # the blob as a list of ints, as oneDNN's vector
    md = classify("memory desc", lambda: dnnl.memory.desc(list(mutated) if as_list else mutated))
    if md is not None:
        record("memory desc", f"accepted ({how})")
        check_accepted_md(eng, strm, md, np.random.default_rng(len(mutated)))


def test_memory_desc_blobs_report():
    report("memory desc")


# -- primitive blobs ---------------------------------------------------------------------

class Case:
    """A primitive descriptor, its inputs, and what a from-scratch primitive computes."""

    def __init__(self, name, cls, pd, strm, k, seed, guarded=True):
        self.name, self.cls, self.pd, self.strm, self.k = name, cls, pd, strm, k
        self.guarded = guarded
        rng = np.random.default_rng(seed)
        self.inputs = {arg: rng.uniform(-1, 1, md.dims).astype(np.float32)
                       for arg, md in pd._args if md is not None}
        dnnl.clear_primitive_cache()
        self.expected = self.run(cls(pd))
        self.identity = pd._identity(pd._engine._runtime.threads(), False)
        self.alternatives = {impl.name: impl for impl in pd._alternatives()}

    def run(self, prim) -> np.ndarray:
        eng = self.pd._engine
        if not self.guarded:  # an OpenCL engine: device buffers
            mems = {arg: dnnl.memory(md, eng, np.ascontiguousarray(self.inputs[arg]))
                    for arg, md in self.pd._args if md is not None}
            prim.execute(self.strm, mems)
            self.strm.wait()
            return mems[dnnl.ARG_DST].to_numpy()
        mems = {arg: Guarded(eng, md, self.inputs[arg]) for arg, md in self.pd._args
                if md is not None}
        prim.execute(self.strm, {arg: g.mem for arg, g in mems.items()})
        self.strm.wait()
        for arg, g in mems.items():
            if arg == dnnl.ARG_DST:
                g.check_guards("dst")
            else:
                g.check_unchanged(ARG_NAMES.get(arg, str(arg)))
        return mems[dnnl.ARG_DST].logical()

    def blob(self, impl, params) -> bytes:
        """The blob the library makes when creation picks `impl` with `params`."""
        return primitive_blob.pack(self.identity, impl, params, impl.make_kernel(params))

    def bases(self, per_impl: int) -> list:
        return [self.blob(impl, params) for impl in self.alternatives.values()
                for params in impl.candidates()[:per_impl]]

    def check(self, family: str, how: str, data: bytes, forged=None) -> None:
        dnnl.clear_primitive_cache()  # else creation takes the cached kernel, not the blob's
        if forged is not None and forged(data):
            record(family, "not loaded: forged code (a binary with a valid checksum)")
            return
        prim = classify(family, lambda: self.cls(self.pd, data))
        if prim is None:
            return
        record(family, f"accepted ({how})")
        _, records = blob.unpack(data, blob.Kind.primitive, "accepted")
        assert prim._built.impl.name == records["impl"].decode()
        assert prim._built.params == blob.read_ints(records["params"], "accepted")
        out = self.run(prim)
        if self.k == 0:
            np.testing.assert_array_equal(out, self.expected)
        else:
            err, at = relative_error(out, self.expected)
            assert err <= tolerance(self.k), (
                f"{self.name} from a blob of {prim._built.impl.name} {prim._built.params}: "
                f"error {err:.3g} at {at}")


def _attr(ops):
    from helpers import make_attr
    return make_attr(ops)


def conv_pd(eng, src, wei, bias, dst, strides, pads, ops=(), wei_tag=tag.any):
    return dnnl.convolution_forward.primitive_desc(
        eng, dnnl.prop_kind.forward_inference, dnnl.algorithm.convolution_direct,
        dnnl.memory.desc(src, dt.f32, tag.any), dnnl.memory.desc(wei, dt.f32, wei_tag),
        dnnl.memory.desc(bias, dt.f32, tag.a) if bias else None,
        dnnl.memory.desc(dst, dt.f32, tag.any), strides, pads, pads, attr=_attr(ops))


def matmul_pd(eng, src, wei, bias, dst, ops=()):
    return dnnl.matmul.primitive_desc(
        eng, dnnl.memory.desc(src, dt.f32, PLAIN_TAGS[len(src)]),
        dnnl.memory.desc(wei, dt.f32, PLAIN_TAGS[len(wei)]),
        dnnl.memory.desc(bias, dt.f32, PLAIN_TAGS[len(bias)]) if bias else None,
        dnnl.memory.desc(dst, dt.f32, PLAIN_TAGS[len(dst)]), attr=_attr(ops))


PLAIN_TAGS = {1: tag.a, 2: tag.ab, 3: tag.abc, 4: tag.abcd}
RELU_SUM = [("eltwise", "eltwise_relu", 0.25, 0.0), ("sum", 0.5)]


@functools.lru_cache(maxsize=None)
def cpu_cases(kind: str, eng, strm) -> tuple:
    dnnl.set_cpu_tuning(False)
    if kind == "conv":
        return (
            Case("conv 3x3", dnnl.convolution_forward,
                 conv_pd(eng, [2, 8, 7, 7], [16, 8, 3, 3], [16], [2, 16, 7, 7], [1, 1], [1, 1],
                         RELU_SUM), strm, 72, 1),
            Case("conv depthwise", dnnl.convolution_forward,
                 conv_pd(eng, [1, 8, 6, 6], [8, 1, 1, 3, 3], None, [1, 8, 3, 3], [2, 2], [1, 1],
                         [("eltwise", "eltwise_gelu_tanh", 0.0, 0.0)]), strm, 9, 2),
            Case("conv 1d", dnnl.convolution_forward,
                 conv_pd(eng, [3, 5, 11], [4, 5, 2], [4], [3, 4, 10], [1], [0]), strm, 10, 3),
        )
    if kind == "matmul":
        return (
            Case("matmul bias", dnnl.matmul,
                 matmul_pd(eng, [17, 9], [9, 33], [1, 33], [17, 33],
                           [("eltwise", "eltwise_swish", 1.5, 0.0)]), strm, 9, 4),
            Case("matmul batch", dnnl.matmul,
                 matmul_pd(eng, [3, 1, 5, 4], [1, 2, 4, 6], None, [3, 2, 5, 6], RELU_SUM),
                 strm, 4, 5),
        )
    src = dnnl.memory.desc([2, 19, 3, 5], dt.f32, tag.nchw)
    return (
        Case("reorder blocked", dnnl.reorder,
             dnnl.reorder.primitive_desc(eng, src, eng,
                                         dnnl.memory.desc([2, 19, 3, 5], dt.f32, tag.aBcd8b)),
             strm, 0, 6),
        Case("reorder transpose", dnnl.reorder,
             dnnl.reorder.primitive_desc(eng, dnnl.memory.desc([6, 7], dt.f32, [1, 6]), eng,
                                         dnnl.memory.desc([6, 7], dt.f32, [8, 1])), strm, 0, 7),
    )


IMPL_NAMES = ["cpu:gemm:blas", "cpu:ref:any", "cpu:reorder:strided", "ocl:gemm:tiled",
              "ocl:conv:igemm", "ocl:ref:any", "cpu:direct:avx512", "cpu:direct:avx2",
              "cpu:direct_dw:avx2", "cpu:direct_dw:avx512", "cpu:direct:sse41"]


def primitive_value(cases):
    params = sorted({p for c in cases for i in c.alternatives.values() for p in i.candidates()})
    values = sorted({v for p in params for v in p}) or [0]
    names = sorted(set(IMPL_NAMES) | {n for c in cases for n in c.alternatives})

    def value_of(draw, name, value):
        if name == "impl":
            return text_value(draw, value, names)
        if name == "params":
            if draw(st.booleans()):
                return blob.ints(draw(st.sampled_from(params)))
            return ints_value(draw, ints_or_empty(value),
                              st.sampled_from(values) | INTS)
        if name == "program":  # an OpenCL binary: cut, or another's
            return value[:draw(st.integers(0, len(value)))]
        return text_value(draw, value, [value.decode(errors="replace") + "x", "", "on", "off",
                                        "1", "2"])
    return value_of


def primitive_digest(draw):
    def digest_of(records, digest):
        pick = draw(st.integers(0, 19))
        if pick == 19:
            return bytes(32)
        if pick == 18:
            return blob.identity_digest({k: v.decode(errors="replace") for k, v in records.items()
                                         if k not in ("impl", "params", "program")})
        return digest
    return digest_of


def fuzz_primitive_blobs(draw, family: str, cases: tuple, bases: list, forged=None):
    """One case: a mutated blob of one case, given (mostly) to that case's descriptor."""
    case_i, base = draw(st.sampled_from(bases))
    how, mutated = mutate(draw, base, primitive_value(cases), primitive_digest(draw),
                          [b for _, b in bases], focus=("impl", "params"))
    case = cases[case_i] if draw(st.integers(0, 4)) < 4 else draw(st.sampled_from(cases))
    case.check(family, how, mutated, forged and (lambda b: forged(case, b)))


@functools.lru_cache(maxsize=None)
def cpu_bases(kind, eng, strm) -> list:
    return [(i, b) for i, case in enumerate(cpu_cases(kind, eng, strm))
            for b in case.bases(per_impl=3)]


@pytest.mark.parametrize("kind,short", [("conv", 100), ("matmul", 100), ("reorder", 60)])
def test_cpu_primitive_blobs(kind, short, eng, strm, clean_caches):
    family = f"cpu {kind} blob"
    cases, bases = cpu_cases(kind, eng, strm), cpu_bases(kind, eng, strm)

    @fuzz_settings(short=short, long_share=0.25 if kind == "reorder" else 1.0)
    @given(data=st.data())
    def fuzz(data):
        fuzz_primitive_blobs(data.draw, family, cases, bases)

    fuzz()
    report(family)
    # the fuzz reached past the checksum: some blobs accepted, some refused by a field check
    found = " ".join(FOUND[family])
    assert "accepted" in found and "checksum mismatch" in found, found


def test_blob_helpers_find_every_length_field():
    data = dnnl.memory.desc([2, 3], dt.f32, tag.ab).get_blob()
    _, records = blob.unpack(data, blob.Kind.memory_desc, "t")
    fields = length_fields(data)
    assert len(fields) == 1 + 2 * len(records)
    assert struct.unpack_from("<I", data, fields[0][0])[0] == len(records)


# -- OpenCL ------------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def ocl_state(ocl_pair):
    eng, strm = ocl_pair
    rt = eng._runtime
    return rt.device, rt.context, dnnl.ocl_interop.get_engine_cache_blob(eng)


def test_ocl_engine_blobs(ocl):
    device, context, base = ocl_state(ocl)
    family = "ocl engine blob"
    _, base_records = blob.unpack(base, blob.Kind.engine, "base")
    binary = base_records["utility program"]
    values = np.arange(42, dtype=np.float32).reshape(6, 7)

    def value_of(draw, name, value):
        if name == "utility program":
            return value[:draw(st.integers(0, len(value)))]
        return text_value(draw, value, [value.decode(errors="replace") + "x", ""])

    @fuzz_settings(short=40, long_share=0.05)
    @given(data=st.data())
    def fuzz(data):
        draw = data.draw
        how, mutated = mutate(draw, base, value_of, lambda r, d: d, [base])
        try:
            _, records = blob.unpack(mutated, blob.Kind.engine, "x")
            if records.get("utility program", binary) != binary:
                record(family, "not loaded: forged code (a binary with a valid checksum)")
                return
        except dnnl.error:
            pass
        eng = classify(family, lambda: dnnl.ocl_interop.make_engine(device, context, mutated))
        if eng is None:
            return
        record(family, f"accepted ({how})")
        strm = dnnl.stream(eng)
        src = dnnl.memory(dnnl.memory.desc([6, 7], dt.f32, tag.ab), eng, values)
        dst = dnnl.memory(dnnl.memory.desc([6, 7], dt.f32, [1, 6]), eng)
        dnnl.reorder(src, dst).execute(strm, src, dst)
        strm.wait()
        np.testing.assert_array_equal(dst.to_numpy(), values)

    fuzz()
    report(family)


@functools.lru_cache(maxsize=None)
def ocl_cases(ocl_pair) -> tuple:
    eng, strm = ocl_pair
    return (Case("ocl matmul", dnnl.matmul,
                 matmul_pd(eng, [17, 9], [9, 33], [1, 33], [17, 33], RELU_SUM[:1]),
                 strm, 9, 8, guarded=False),)


def test_ocl_primitive_blobs(ocl, clean_caches):
    family = "ocl primitive blob"
    cases = ocl_cases(ocl)
    # the heuristic's kernel in make test; every implementation in the long run (each
    # base is a program build of about a second)
    bases = [(i, b) for i, c in enumerate(cases)
             for b in (c.bases(per_impl=2) if LONG_EXAMPLES else
                       [c.blob(c.pd._impl, c.pd._impl.params())])]
    made = set()
    for _, b in bases:
        _, r = blob.unpack(b, blob.Kind.primitive, "base")
        made.add((r["impl"], r["params"], r.get("program")))

    def forged(case, data):
        """The blob would reach the driver with a binary the library did not make for
        this implementation and blocking."""
        try:
            digest, r = blob.unpack(data, blob.Kind.primitive, "x")
        except dnnl.error:
            return False
        try:
            impl = case.alternatives.get(r["impl"].decode())
            params = blob.read_ints(r["params"], "x")
        except (KeyError, UnicodeDecodeError, dnnl.error):
            return False
        reaches = (impl is not None and params in impl.candidates()
                   and digest == blob.identity_digest(case.identity)
                   and all(r.get(k) == v.encode() for k, v in case.identity.items()))
        return reaches and (r["impl"], r["params"], r.get("program")) not in made

    @fuzz_settings(short=40, long_share=0.05)
    @given(data=st.data())
    def fuzz(data):
        fuzz_primitive_blobs(data.draw, family, cases, bases, forged)

    fuzz()
    report(family)
