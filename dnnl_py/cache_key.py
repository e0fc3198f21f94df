"""The primitive cache's key (oneDNN's primitive_hashing): everything that makes a
primitive distinct, frozen into plain immutable data with its hash computed once."""
from __future__ import annotations

import dataclasses
import enum

from .memory_desc import desc


class Key:
    """A cache key: an immutable tuple with its hash computed once, so that a hit costs
    one hash of a small object however large the problem."""
    __slots__ = ("parts", "_hash")

    def __init__(self, parts: tuple):
        self.parts, self._hash = parts, hash(parts)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other) -> bool:
        return self is other or (isinstance(other, Key) and self._hash == other._hash
                                 and self.parts == other.parts)

    def __repr__(self) -> str:
        return f"Key{self.parts!r}"


def frozen(value):
    """A problem's field as plain immutable data (the cache key owns it)."""
    if isinstance(value, desc):
        return value._key
    if dataclasses.is_dataclass(value):
        return tuple((f.name, frozen(getattr(value, f.name)))
                     for f in dataclasses.fields(value))
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, (tuple, list)):
        return tuple(frozen(v) for v in value)
    if value is None or isinstance(value, (int, float, str)):
        return value
    raise TypeError(f"cannot key a {type(value).__name__}")


def primitive_key(kind: str, problem, post_ops_key, impl_name: str, args: tuple,
                  engine_key: tuple) -> Key:
    """A primitive descriptor's key: kind, problem, attributes, implementation, the
    layouts it resolved, and the engine (last: blob identities leave it out, since it
    holds this process's OpenCL handles)."""
    return Key((kind, frozen(problem), post_ops_key, impl_name,
                tuple((arg, md._key if md else None) for arg, md in args), engine_key))
