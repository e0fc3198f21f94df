"""The primitive cache's key (oneDNN's primitive_hashing): everything that makes a
primitive distinct, frozen into plain immutable data with its hash computed once."""
from __future__ import annotations

import enum
from typing import Optional

from .kinds import algorithm, normalization_flags, prop_kind
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


_ATOMS = frozenset((int, float, str, bool, type(None)))


def _field_names(cls) -> Optional[tuple]:
    """A record's field names (dnnl_py/record.py), or None for any other type."""
    return getattr(cls, "__record_fields__", None)


def frozen(value):
    """A problem's field as plain immutable data (the cache key owns it). Dispatches on
    the exact type first: this runs for every primitive descriptor, hits included."""
    t = type(value)
    if t in _ATOMS:
        return value
    if t is desc:
        return value._key
    if t is tuple or t is list:
        return value if t is tuple and all(type(v) in _ATOMS for v in value) \
            else tuple(frozen(v) for v in value)
    if isinstance(value, enum.Enum):
        return value.name
    names = _field_names(t)
    if names is not None:
        return tuple((name, frozen(getattr(value, name))) for name in names)
    if isinstance(value, (int, float, str)):  # subclasses (numpy scalars are not)
        return value
    raise TypeError(f"cannot key a {t.__name__}")


def primitive_key(kind: str, frozen_problem, post_ops_key, impl_name: str, args: tuple,
                  engine_key: tuple) -> Key:
    """A primitive descriptor's key: kind, problem (frozen), attributes, implementation,
    the layouts it resolved, and the engine (last: blob identities leave it out, since it
    holds this process's OpenCL handles)."""
    return Key((kind, frozen_problem, post_ops_key, impl_name,
                tuple((arg, md._key if md else None) for arg, md in args), engine_key))


def problem_key(problem) -> Key:
    """frozen(problem) as a Key, computed once per problem object and kept in its
    __dict__ as functools.cached_property does (the problem records are frozen, not
    slotted; their eq and hash see only their fields). A repeated primitive descriptor
    gets the same problem object back from its kind's argument memo (call_key)."""
    cached = problem.__dict__.get("_frozen_key")
    if cached is None:
        cached = problem.__dict__["_frozen_key"] = Key(frozen(problem))
    return cached


# Types whose equal values a problem's validation treats alike: an enum member equals
# only itself; normalization_flags equal their int, which the kinds take as such. Any
# other value is keyed with its type, so that True, 1.0 or numpy.int64(1) never find
# the result validated for 1 (a bool flag is an error where 1 is not).
_SAME_AS_EQUAL = frozenset((int, str, type(None), desc, prop_kind, algorithm,
                            normalization_flags))


def call_key(values: tuple) -> tuple:
    """A primitive descriptor's arguments as a dict key: equal keys make equal problems.
    Lists and tuples become tuples, their items keyed as the values are. Raises
    TypeError for an unhashable value (the caller then validates without the memo)."""
    out = []
    for v in values:
        t = type(v)
        if t in _SAME_AS_EQUAL:
            out.append(v)
        elif t is list or t is tuple:  # the kinds take either, alike
            out.append(tuple(v) if _SAME_AS_EQUAL.issuperset(map(type, v)) else call_key(v))
        else:
            out.append((t, v))
    return tuple(out)
