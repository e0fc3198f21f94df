"""The one binary format of every cache blob (primitives, memory descriptors, engines).

    magic    8 bytes  b"DNNLPYB\\0"
    version  u16      FORMAT_VERSION
    kind     u8       what the blob holds (Kind)
    id       32 bytes the sha256 digest of the identity it was made for
    count    u32      number of records
    records  count x (u8 name length, name (ascii), u32 value length, value)
    checksum 16 bytes blake2b of everything before it

Little-endian. Values are bytes; ints, strings and int tuples have helpers below.
Every read is bounds-checked and every failure is a dnnl.error (invalid_arguments)
that says what was wrong: nothing is unpickled or evaluated.
"""
from __future__ import annotations

import enum
import hashlib
import operator
import struct

from ._errors import invalid

MAGIC = b"DNNLPYB\0"
FORMAT_VERSION = 1
_HEAD = struct.Struct("<8sHB32sI")
_CHECKSUM_BYTES = 16


class Kind(enum.IntEnum):
    primitive = 1
    memory_desc = 2
    engine = 3


def identity_digest(fields: dict) -> bytes:
    """sha256 over an identity's fields (str -> str), order-independent."""
    h = hashlib.sha256()
    for name in sorted(fields):
        for part in (name, fields[name]):
            data = part.encode()
            h.update(struct.pack("<I", len(data)) + data)
    return h.digest()


def _checksum(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=_CHECKSUM_BYTES).digest()


def pack(kind: Kind, digest: bytes, records: dict) -> bytes:
    """records: {name: bytes}, names of at most 255 ascii characters."""
    parts = [_HEAD.pack(MAGIC, FORMAT_VERSION, kind, digest, len(records))]
    for name, value in records.items():
        key = name.encode("ascii")
        parts += [struct.pack("<B", len(key)), key, struct.pack("<I", len(value)), value]
    body = b"".join(parts)
    return body + _checksum(body)


def as_bytes(data, what: str) -> bytes:
    """A blob given as any bytes-like object (bytes, bytearray, a numpy uint8 array) or a
    sequence of ints in [0, 256) (what oneDNN's std::vector<uint8_t> becomes in Python)."""
    try:
        view = memoryview(data)
    except TypeError:
        view = None
    if view is not None and view.itemsize == 1:
        return view.tobytes()
    if not isinstance(data, str) and hasattr(data, "__len__"):
        try:
            return bytes(operator.index(v) for v in data)
        except (TypeError, ValueError):
            pass
    raise invalid(f"{what}: expected bytes or a sequence of ints in [0, 256), got "
                  f"{type(data).__name__}")


def unpack(blob, kind: Kind, what: str) -> tuple[bytes, dict]:
    """(id digest, {name: bytes}) of a blob of `kind` (anything as_bytes takes); `what`
    names it in errors."""
    blob = as_bytes(blob, what)
    if len(blob) < _HEAD.size + _CHECKSUM_BYTES:
        raise invalid(f"{what}: {len(blob)} bytes is too short to be a blob (truncated or empty)")
    magic, version, got_kind, digest, count = _HEAD.unpack_from(blob)
    if magic != MAGIC:
        raise invalid(f"{what}: not a dnnl_py blob (bad magic)")
    if version != FORMAT_VERSION:
        raise invalid(f"{what}: blob format version {version}, this build reads "
                      f"{FORMAT_VERSION}")
    body, checksum = blob[:-_CHECKSUM_BYTES], blob[-_CHECKSUM_BYTES:]
    if _checksum(body) != checksum:
        raise invalid(f"{what}: checksum mismatch (the blob is truncated or corrupted)")
    if got_kind != kind:
        name = Kind(got_kind).name if got_kind in Kind._value2member_map_ else got_kind
        raise invalid(f"{what}: the blob holds a {name}, not a {kind.name}")
    records, at = {}, _HEAD.size
    for _ in range(count):
        if at + 1 > len(body):
            raise invalid(f"{what}: record header beyond the end of the blob")
        n = body[at]
        name = body[at + 1:at + 1 + n]
        at += 1 + n
        if at + 4 > len(body):
            raise invalid(f"{what}: record length beyond the end of the blob")
        (size,) = struct.unpack_from("<I", body, at)
        at += 4
        if at + size > len(body):
            raise invalid(f"{what}: record of {size} bytes runs past the end of the blob")
        try:
            records[name.decode("ascii")] = body[at:at + size]
        except UnicodeDecodeError:
            raise invalid(f"{what}: a record name is not ascii") from None
        at += size
    if at != len(body):
        raise invalid(f"{what}: {len(body) - at} stray bytes after the records")
    return digest, records


def get(records: dict, name: str, what: str) -> bytes:
    try:
        return records[name]
    except KeyError:
        raise invalid(f"{what}: the blob has no '{name}' record") from None


def ints(values) -> bytes:
    values = tuple(values)
    return struct.pack(f"<I{len(values)}q", len(values), *values)


def read_ints(data: bytes, what: str) -> tuple:
    if len(data) < 4:
        raise invalid(f"{what}: int list record too short")
    (n,) = struct.unpack_from("<I", data)
    if len(data) != 4 + 8 * n:
        raise invalid(f"{what}: int list record of {len(data)} bytes does not hold {n} ints")
    return struct.unpack_from(f"<{n}q", data, 4)


def read_str(data: bytes, what: str) -> str:
    try:
        return data.decode()
    except UnicodeDecodeError:
        raise invalid(f"{what}: a text record is not utf-8") from None


def check_identity(records: dict, expected: dict, what: str) -> None:
    """Compares the blob's identity records with `expected` ({name: str}); the first
    that differs is named in the error, with both values."""
    for name, want in expected.items():
        got = read_str(get(records, name, what), what)
        if got != want:
            raise invalid(f"{what}: made for {name} '{got}', this is '{want}'")
