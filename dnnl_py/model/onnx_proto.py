"""The part of ONNX's protobuf schema (onnx/onnx.proto) that a model's graph needs, read
straight from the wire format. Why not `import onnx`: it costs ~0.3-0.9 s of a fresh
process (protobuf, its C++ checker), which is more than a warm start of a whole network
should take, and its parser copies every tensor. Here a tensor's raw bytes stay a
memoryview of the file. Every read is bounds-checked; anything malformed is a
dnnl.error (invalid_arguments) saying where, never a crash.
"""
from __future__ import annotations

import struct

from .._errors import invalid
from ..cpu._kernels import proto_fields

_VARINT, _LEN, _FIXED32 = 0, 2, 5  # wire types the readers below check


def _varint(buf: memoryview, at: int, end: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if at >= end or shift > 63:
            raise invalid("ONNX file: truncated or malformed varint")
        b = buf[at]
        at += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, at
        shift += 7


def fields(buf) -> list:
    """[(field number, wire type, value)] of one message: ints for varints and fixed
    fields, a memoryview for length-delimited ones (scanned in C: csrc/proto.c)."""
    try:
        return proto_fields(buf)
    except ValueError as e:
        raise invalid(f"ONNX file: {e}") from None


def packed_ints(wire: int, value) -> list:
    """A repeated int64 field: packed (one length-delimited run) or one varint."""
    if wire == _VARINT:
        return [_signed(value)]
    out, at = [], 0
    while at < len(value):
        v, at = _varint(value, at, len(value))
        out.append(_signed(v))
    return out


def packed_floats(wire: int, value) -> list:
    if wire == _FIXED32:
        return [struct.unpack("<f", struct.pack("<I", value))[0]]
    if len(value) % 4:
        raise invalid("ONNX file: a packed float field is not a multiple of 4 bytes")
    return list(struct.unpack(f"<{len(value) // 4}f", value))


def _signed(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


def text(value) -> str:
    try:
        return bytes(value).decode("utf-8")
    except (UnicodeDecodeError, TypeError):
        raise invalid("ONNX file: a name is not UTF-8 text") from None


def as_float(wire: int, value) -> float:
    if wire != _FIXED32:
        raise invalid("ONNX file: a float attribute is not a fixed32 field")
    return struct.unpack("<f", struct.pack("<I", value))[0]


def signed(wire: int, value) -> int:
    if wire != _VARINT:
        raise invalid("ONNX file: an int field is not a varint")
    return _signed(value)


def message(wire: int, value, what: str) -> memoryview:
    if wire != _LEN:
        raise invalid(f"ONNX file: {what} is not a message")
    return value
