"""dnnl::memory::desc and what it is made of: data types, format tags, memory
descriptors (memory objects, which need an engine, are in memory.py).

A descriptor is oneDNN's blocking descriptor: dims, data type, outer strides (in
elements, over padded dims) and inner blocks. A plain layout has no inner blocks;
`aBcd16b` (nChw16c) splits dim b into blocks of 16 that are innermost in memory.
Format kind `opaque` is a layout that only the implementation asking for it reads, named
(OPAQUE_LAYOUTS), as oneDNN's Winograd weights (`format_kind::wino`): a reorder makes
it, a primitive descriptor's query hands it out, nothing reads it as an array.
"""
from __future__ import annotations

import math
import re
from typing import Sequence, Union

import numpy as np

from . import blob
from ._errors import invalid
from .kinds import IdHashEnum

MAX_NDIMS = 12
INT64_MAX = 2**63 - 1
_LETTERS = "abcdefghijkl"


class data_type(IdHashEnum):
    """dnnl::memory::data_type. Only f32 is computed; others describe memory."""
    undef = "undef"
    f16 = "f16"
    bf16 = "bf16"
    f32 = "f32"
    s32 = "s32"
    s8 = "s8"
    u8 = "u8"
    f64 = "f64"


_NUMPY_DTYPE = {data_type.f16: np.float16, data_type.f32: np.float32, data_type.s32: np.int32,
                data_type.s8: np.int8, data_type.u8: np.uint8, data_type.f64: np.float64,
                data_type.bf16: np.uint16}


def _itemsize(dt: data_type) -> int:
    if dt == data_type.undef:
        return 0
    return np.dtype(_NUMPY_DTYPE[dt]).itemsize


class format_kind(IdHashEnum):
    """dnnl::memory::format_kind."""
    undef = "undef"
    any = "any"
    blocked = "blocked"
    opaque = "opaque"


# Winograd F(2x2, 3x3)'s transformed weights U[4][4][ic][oc] (csrc/conv_winograd.c) of
# 3x3 weights of one group and depth 1 (dims oc, ic, [1,] 3, 3 or 1, oc, ic, [1,] 3, 3)
WINO_2X3 = "wino_2x3_aaio"
# opaque layouts by name -> the elements one takes for the given dims, or None where
# the dims are not the layout's
OPAQUE_LAYOUTS = {WINO_2X3: lambda dims: (16 * math.prod(dims[:-2])
                                          if 4 <= len(dims) <= 6 and dims[-2:] == (3, 3)
                                          else None)}


class format_tag(IdHashEnum):
    """dnnl::memory::format_tag: letters name dims in memory order, outermost first;
    a capital letter is a blocked dim whose block (e.g. `16b`) is innermost."""
    undef = "undef"
    any = "any"
    a = "a"
    ab = "ab"
    ba = "ba"
    abc = "abc"
    acb = "acb"
    bac = "bac"
    bca = "bca"
    cab = "cab"
    cba = "cba"
    abcd = "abcd"
    abdc = "abdc"
    acbd = "acbd"
    acdb = "acdb"
    adbc = "adbc"
    bacd = "bacd"
    bcda = "bcda"
    cdab = "cdab"
    cdba = "cdba"
    dcab = "dcab"
    abcde = "abcde"
    abdec = "abdec"
    acbde = "acbde"
    acdeb = "acdeb"
    bacde = "bacde"
    bcdea = "bcdea"
    cdeab = "cdeab"
    cdeba = "cdeba"
    decab = "decab"
    abcdef = "abcdef"
    abcefd = "abcefd"
    acbdef = "acbdef"
    defcab = "defcab"
    # blocked
    aBc8b = "aBc8b"
    aBc16b = "aBc16b"
    aBcd8b = "aBcd8b"
    aBcd16b = "aBcd16b"
    aBcde8b = "aBcde8b"
    aBcde16b = "aBcde16b"
    Ab8a = "Ab8a"
    Ab16a = "Ab16a"
    ABcd8b8a = "ABcd8b8a"
    ABcd16b16a = "ABcd16b16a"
    ABcd16a16b = "ABcd16a16b"
    ABcde16b16a = "ABcde16b16a"
    # aliases (oneDNN's names for the same layouts)
    x = "a"
    nc = "ab"
    cn = "ba"
    tn = "ab"
    nt = "ba"
    ncw = "abc"
    nwc = "acb"
    nchw = "abcd"
    nhwc = "acdb"
    chwn = "bcda"
    ncdhw = "abcde"
    ndhwc = "acdeb"
    oi = "ab"
    io = "ba"
    oiw = "abc"
    owi = "acb"
    wio = "cba"
    iwo = "bca"
    oihw = "abcd"
    hwio = "cdba"
    ohwi = "acdb"
    ihwo = "bcda"
    iohw = "bacd"
    oidhw = "abcde"
    dhwio = "cdeba"
    odhwi = "acdeb"
    iodhw = "bacde"
    idhwo = "bcdea"
    goiw = "abcd"
    gowi = "abdc"
    wigo = "dcab"
    goihw = "abcde"
    gohwi = "abdec"
    hwigo = "decab"
    giohw = "acbde"
    goidhw = "abcdef"
    godhwi = "abcefd"
    giodhw = "acbdef"
    dhwigo = "defcab"
    nCw8c = "aBc8b"
    nCw16c = "aBc16b"
    nChw8c = "aBcd8b"
    nChw16c = "aBcd16b"
    nCdhw8c = "aBcde8b"
    nCdhw16c = "aBcde16b"
    OIhw8i8o = "ABcd8b8a"
    OIhw16i16o = "ABcd16b16a"
    OIhw16o16i = "ABcd16a16b"
    OIdhw16i16o = "ABcde16b16a"


_TAG_RE = re.compile(r"^([a-lA-L]+)((?:\d+[a-l])*)$")


def _parse_tag(tag: format_tag, ndims: int):
    """format tag -> (outer order as dim indices, inner blocks [(dim, size)])."""
    m = _TAG_RE.match(tag.value)
    outer = [_LETTERS.index(ch.lower()) for ch in m.group(1)] if m else []
    if not m or len(outer) != ndims or sorted(outer) != list(range(ndims)):
        raise invalid(f"format tag {tag.name} does not describe {ndims} dims")
    blocks = [(_LETTERS.index(d), int(n)) for n, d in re.findall(r"(\d+)([a-l])", m.group(2))]
    blocked_dims = {ch.lower() for ch in m.group(1) if ch.isupper()}
    if blocked_dims != {_LETTERS[d] for d, _ in blocks}:
        raise invalid(f"format tag {tag.name}: capital letters and blocks disagree")
    return outer, blocks


def _dims_tuple(name: str, dims) -> tuple:
    """dims or strides as oneDNN's int64 values: at most MAX_NDIMS, none negative."""
    try:
        out = tuple(map(int, dims))  # map and min/max, not generators: every desc() runs this
    except (TypeError, ValueError):
        raise invalid(f"{name}: expected a sequence of integers, got {dims!r}") from None
    if len(out) > MAX_NDIMS:
        raise invalid(f"{name}: {len(out)} dims, at most {MAX_NDIMS} are supported")
    if out and min(out) < 0:
        raise invalid(f"{name}: negative value in {list(out)}")
    if out and max(out) > INT64_MAX:
        raise invalid(f"{name}: a value in {list(out)} does not fit int64")
    return out


def _from_blob(data) -> tuple:
    """desc._init's arguments from get_blob()'s bytes, every field validated as the
    constructor validates its arguments, and the id digest checked."""
    what = "memory desc blob"
    digest, rec = blob.unpack(data, blob.Kind.memory_desc, what)

    def enum_of(cls, name):
        value = blob.read_str(blob.get(rec, name, what), what)
        try:
            return cls(value)
        except ValueError:
            raise invalid(f"{what}: unknown {name} '{value}'") from None

    dt, kind = enum_of(data_type, "data_type"), enum_of(format_kind, "format_kind")
    dims, strides, blks, idxs = (
        _dims_tuple(f"{what}: {name}", blob.read_ints(blob.get(rec, name, what), what))
        for name in ("dims", "strides", "inner_blks", "inner_idxs"))
    if len(blks) != len(idxs):
        raise invalid(f"{what}: {len(blks)} inner blocks for {len(idxs)} dims")
    blocks = list(zip(idxs, blks))
    opaque = blob.read_str(rec["opaque"], what) if "opaque" in rec else ""
    _check_fields(what, dims, dt, kind, strides, blocks, opaque)
    if digest != _blob_digest(rec):
        raise invalid(f"{what}: id digest does not match its records")
    return dims, dt, kind, strides, blocks, opaque


def _blob_digest(records: dict) -> bytes:
    return blob.identity_digest({k: v.hex() for k, v in records.items()})


def _check_fields(what: str, dims, dt, kind, strides, blocks, opaque: str = "") -> None:
    """What every descriptor satisfies, however it was made: the zero descriptor has
    nothing; any other has a data type; a blocked one a stride per dim and blocks of
    existing dims; an opaque one a known layout (f32) whose dims fit it and no strides;
    and its size in bytes fits int64."""
    if kind == format_kind.undef:
        if dims or dt != data_type.undef or strides or blocks:
            raise invalid(f"{what}: format kind undef with dims, data type or strides")
        return
    if not dims:  # the constructor makes the zero descriptor of no dims, as oneDNN
        raise invalid(f"{what}: format kind {kind.value} without dims (no dims is the zero "
                      "descriptor, format kind undef)")
    if dt == data_type.undef:
        raise invalid(f"{what}: data type undef")
    if kind in (format_kind.any, format_kind.opaque) and (strides or blocks):
        raise invalid(f"{what}: strides or blocks on a descriptor of format {kind.value}")
    if kind == format_kind.opaque and not opaque:
        raise invalid(f"{what}: format opaque without a layout name")
    if opaque and kind != format_kind.opaque:
        raise invalid(f"{what}: opaque layout name {opaque!r} on format {kind.value}")
    if opaque:
        if opaque not in OPAQUE_LAYOUTS:
            raise invalid(f"{what}: unknown opaque layout {opaque!r}")
        if dt != data_type.f32 or OPAQUE_LAYOUTS[opaque](dims) is None:
            raise invalid(f"{what}: opaque layout {opaque} does not take {dt.value} dims "
                          f"{list(dims)}")
    if kind == format_kind.any and math.prod(dims) * _itemsize(dt) > INT64_MAX:
        # a primitive resolves `any` to a dense layout of these dims: it must fit as well
        raise invalid(f"{what}: dims {list(dims)} need {math.prod(dims) * _itemsize(dt)} "
                      "bytes, more than int64 holds")
    if kind == format_kind.blocked and len(strides) != len(dims):
        raise invalid(f"{what}: {len(strides)} strides for {len(dims)} dims")
    if any(d >= len(dims) or b < 1 for d, b in blocks):
        raise invalid(f"{what}: inner blocks {[b for _, b in blocks]} over dims "
                      f"{[d for d, _ in blocks]} do not fit {len(dims)} dims")
    size = _size(dims, dt, kind, strides, blocks, opaque)
    if size > INT64_MAX:
        raise invalid(f"{what}: dims {list(dims)} need {size} bytes, more than int64 holds")


def _size(dims, dt, kind, strides, blocks, opaque: str = "") -> int:
    """Bytes from the first to the last element the layout addresses (exact integers)."""
    if opaque:
        return OPAQUE_LAYOUTS[opaque](dims) * _itemsize(dt)
    if kind != format_kind.blocked or not dims or 0 in dims:
        return 0
    block = [1] * len(dims)
    for d, b in blocks:
        block[d] *= b
    last = sum((-(-n // blk) - 1) * s for n, blk, s in zip(dims, block, strides))
    return (last + math.prod(b for _, b in blocks)) * _itemsize(dt)


def _is_blob(arg, dt, tag_or_strides) -> bool:
    """desc(x) alone takes x as a blob when it is bytes-like or a sequence of ints that
    starts with the blob magic (dims alone never make a descriptor)."""
    if dt != data_type.undef or tag_or_strides is not None:
        return False
    try:
        if memoryview(arg).itemsize == 1:
            return True
    except TypeError:
        pass
    try:
        return [int(v) for v in arg[:len(blob.MAGIC)]] == list(blob.MAGIC)
    except (TypeError, ValueError):
        return False


def _layout(dims: tuple, dt: data_type, layout) -> tuple:
    """(data type, format kind, strides, inner blocks) of desc(dims, dt, layout), validated:
    layout is a format tag or strides (a tuple), None for the zero descriptor (no dims)."""
    if not dims:
        return data_type.undef, format_kind.undef, (), []
    strides, blocks = (), []
    if isinstance(layout, format_tag):
        if layout == format_tag.undef:
            raise invalid("desc: format tag undef")
        kind = format_kind.any if layout == format_tag.any else format_kind.blocked
        if kind == format_kind.blocked:
            order, blocks = _parse_tag(layout, len(dims))
            strides = desc._strides_for(dims, order, blocks)
    else:
        kind, strides = format_kind.blocked, layout
        if len(strides) != len(dims):
            raise invalid(f"strides {list(strides)} do not match dims {list(dims)}")
    _check_fields("desc", dims, dt, kind, strides, blocks)
    return dt, kind, strides, blocks


def _block(inner_idxs: tuple, inner_blks: tuple, dim: int) -> int:
    """The product of dim's inner blocks (1 for a dim without)."""
    b = 1
    for d, size in zip(inner_idxs, inner_blks):
        if d == dim:
            b *= size
    return b


def _fields(dims, dt, kind, strides, blocks, opaque: str = "") -> tuple:
    """A descriptor's slots, in desc.__slots__ order, from its validated parts."""
    dims, strides = tuple(dims), tuple(strides)
    inner_blks = tuple(b for _, b in blocks)
    inner_idxs = tuple(d for d, _ in blocks)
    block = [_block(inner_idxs, inner_blks, i) for i in range(len(dims))]
    padded = tuple(-(-d // b) * b for d, b in zip(dims, block))
    key = (dims, dt, kind, strides, inner_blks, inner_idxs, opaque)
    size = _size(dims, dt, kind, strides, blocks, opaque)
    return (dims, dt, kind, strides, inner_blks, inner_idxs, opaque, padded, size, key,
            hash(key))


_MADE: dict = {}  # (dims, data type, format tag or strides) -> the desc's fields
_PARSED: dict = {}  # blob bytes -> the desc's fields
_MADE_MAX = 4096


class desc:
    """dnnl::memory::desc: desc(dims, data_type, format_tag | strides), desc(blob) from
    get_blob()'s bytes (any bytes-like object or list of ints), or desc() (zero)."""

    __slots__ = ("dims", "data_type", "format_kind", "strides", "inner_blks", "inner_idxs",
                 "opaque", "padded_dims", "_bytes", "_key", "_hash")

    def __init__(self, dims: Union[Sequence[int], bytes] = (), dt: data_type = data_type.undef,
                 tag_or_strides: Union[format_tag, Sequence[int], None] = None):
        if _is_blob(dims, dt, tag_or_strides):
            # a blob's fields depend on its bytes alone: parsed and validated once (a
            # model cache entry holds a blob per weight, many of one shape)
            key = bytes(dims) if isinstance(dims, (bytes, bytearray)) else None
            fields = _PARSED.get(key) if key is not None else None
            if fields is None:
                fields = _fields(*_from_blob(dims))
                if key is not None:
                    if len(_PARSED) >= _MADE_MAX:
                        _PARSED.clear()
                    _PARSED[key] = fields
            self._set(fields)
            return
        dims = _dims_tuple("dims", dims)
        if not isinstance(dt, data_type):
            raise invalid(f"data_type: expected memory.data_type, got {dt!r}")
        layout = tag_or_strides
        if not dims:  # oneDNN: zero dims make the zero descriptor, whatever else is given
            layout = None
        elif layout is None:
            raise invalid("desc: a format tag or strides are needed")
        elif dt == data_type.undef:
            raise invalid("desc: data_type undef")
        elif not isinstance(layout, format_tag):
            layout = _dims_tuple("strides", layout)
        # a descriptor of these dims, data type and layout was validated before: its
        # fields are the same (a model makes the same few descriptors over and over)
        made = (dims, dt, layout)
        fields = _MADE.get(made)
        if fields is None:
            fields = _fields(dims, *_layout(dims, dt, layout))
            if len(_MADE) >= _MADE_MAX:
                _MADE.clear()
            _MADE[made] = fields
        self._set(fields)

    def _set(self, fields: tuple) -> None:
        (self.dims, self.data_type, self.format_kind, self.strides, self.inner_blks,
         self.inner_idxs, self.opaque, self.padded_dims, self._bytes, self._key,
         self._hash) = fields

    def _init(self, dims, dt, kind, strides, blocks, opaque=""):
        self._set(_fields(dims, dt, kind, strides, blocks, opaque))

    @staticmethod
    def _strides_for(dims, order, blocks):
        block = [1] * len(dims)
        for d, b in blocks:
            block[d] *= b
        stride = math.prod(b for _, b in blocks)
        strides = [0] * len(dims)
        for d in reversed(order):
            strides[d] = stride
            stride *= -(-dims[d] // block[d])
        return tuple(strides)

    @classmethod
    def _make(cls, dims, dt, kind, strides, blocks=()) -> "desc":
        md = cls.__new__(cls)
        md._init(tuple(dims), dt, kind, strides, list(blocks))
        return md

    def _block(self, dim: int) -> int:
        return _block(self.inner_idxs, self.inner_blks, dim)

    def get_blob(self) -> bytes:
        """The descriptor as bytes (blob.py's format); desc(blob) rebuilds it."""
        records = {"data_type": self.data_type.value.encode(),
                   "format_kind": self.format_kind.value.encode(),
                   "dims": blob.ints(self.dims), "strides": blob.ints(self.strides),
                   "inner_blks": blob.ints(self.inner_blks),
                   "inner_idxs": blob.ints(self.inner_idxs)}
        if self.opaque:
            records["opaque"] = self.opaque.encode()
        return blob.pack(blob.Kind.memory_desc, _blob_digest(records), records)

    # queries, as dnnl::memory::desc
    def get_dims(self) -> list:
        return list(self.dims)

    def get_ndims(self) -> int:
        return len(self.dims)

    def get_data_type(self) -> data_type:
        return self.data_type

    def get_format_kind(self) -> format_kind:
        return self.format_kind

    def get_strides(self) -> list:
        return list(self.strides)

    def get_padded_dims(self) -> list:
        return list(self.padded_dims)

    def get_inner_blks(self) -> list:
        return list(self.inner_blks)

    def get_inner_idxs(self) -> list:
        return list(self.inner_idxs)

    def get_size(self) -> int:
        """Bytes the memory needs (0 for format `any`)."""
        return self._bytes

    def nelems_spanned(self) -> int:
        """Elements from the first to the last one the layout addresses, plus one."""
        return self.get_size() // max(_itemsize(self.data_type), 1)

    # queries as methods, as oneDNN's memory::desc::is_zero()
    def is_zero(self) -> bool:
        return not self.dims

    def is_any(self) -> bool:
        return self.format_kind == format_kind.any

    def is_plain(self) -> bool:
        return self.format_kind == format_kind.blocked and not self.inner_blks

    def factors(self, dim: int, extent: int) -> list:
        """(size, stride) pairs, outermost first, that address `extent` elements of dim.
        A blocked dim is addressed over its padded extent only. ValueError for a layout
        that is not a strided one (format opaque)."""
        if self.opaque:
            raise ValueError(f"opaque layout {self.opaque} has no strides")
        if not self.inner_blks:  # plain: every copy plan of a reorder or concat asks
            return [(extent, self.strides[dim])]
        inner = [(b, self._inner_stride(j)) for j, (d, b) in
                 enumerate(zip(self.inner_idxs, self.inner_blks)) if d == dim]
        block = self._block(dim)
        if extent % block:
            raise ValueError("extent is not a multiple of the dim's block")
        return [(extent // block, self.strides[dim])] + inner

    def _inner_stride(self, j: int) -> int:
        return math.prod(self.inner_blks[j + 1:])

    def tag_str(self) -> str:
        """The layout's name as oneDNN's verbose prints it: `acdb`, `aBcd16b`."""
        if self.format_kind != format_kind.blocked:
            return self.opaque or self.format_kind.value
        order = sorted(range(len(self.dims)), key=lambda d: (-self.strides[d], d))
        letters = "".join(_LETTERS[d].upper() if d in self.inner_idxs else _LETTERS[d]
                          for d in order)
        return letters + "".join(f"{b}{_LETTERS[d]}"
                                 for d, b in zip(self.inner_idxs, self.inner_blks))

    def __eq__(self, other) -> bool:
        return isinstance(other, desc) and self._key == other._key

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        if self.is_zero():
            return "memory.desc()"
        return (f"memory.desc({list(self.dims)}, {self.data_type.name}, {self.tag_str()}, "
                f"strides={list(self.strides)})")


def plain_order(ndims: int) -> str:
    """The dense row-major order of `ndims` dims, as format tag letters: "abcd" for 4."""
    return _LETTERS[:ndims]


def plain_desc(dims: Sequence[int], dt: data_type, order: str) -> desc:
    """A dense plain descriptor whose dims lie in memory in `order` (letters, outermost
    first): plain_desc(dims, f32, 'acdb') is nhwc. Covers orders format_tag lacks."""
    return blocked_desc(dims, dt, order, ())


def blocked_desc(dims: Sequence[int], dt: data_type, order: str, blocks) -> desc:
    """plain_desc with inner blocks [(dim index, size)], innermost last: an
    implementation's own layout that format_tag lacks (the packed GEMM's weight panels,
    order 'ba' with [(1, 32)], are oneDNN's BA32b... family)."""
    blocks = list(blocks)
    strides = desc._strides_for(tuple(dims), [_LETTERS.index(c) for c in order], blocks)
    return desc._make(dims, dt, format_kind.blocked, strides, blocks)


def opaque_desc(dims: Sequence[int], dt: data_type, layout: str) -> desc:
    """A descriptor of the opaque layout named `layout` (OPAQUE_LAYOUTS): what an
    implementation's primitive descriptor hands out for its own weights format."""
    dims = _dims_tuple("dims", dims)
    _check_fields("opaque desc", dims, dt, format_kind.opaque, (), [], layout)
    md = desc.__new__(desc)
    md._init(dims, dt, format_kind.opaque, (), [], layout)
    return md
