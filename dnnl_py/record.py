"""`record`: the value classes of dataclasses.dataclass (fields from annotations,
__init__, __eq__, __repr__, and with frozen=True immutability and __hash__) without its
cost when a module is imported. dataclass writes each class's methods as source and
compiles them, ~0.45 ms a class: ~11 ms of the 20 classes that `import dnnl_py` and the
model layer define, a twentieth of a warm model start (docs/models.md). Here every class
shares the same generic methods, which read the class's field names
(`__record_fields__`, base classes' first, as dataclass orders them).

Only what the library uses: defaults, field(default_factory=...), frozen. No
__post_init__, no ClassVar, no keyword-only fields."""
from __future__ import annotations

import operator

_MISSING = object()


class _Factory:
    """A field's default made per instance (dataclasses.field(default_factory=...))."""
    __slots__ = ("make",)

    def __init__(self, make):
        self.make = make


def field(*, default_factory) -> _Factory:
    return _Factory(default_factory)


def fields(cls) -> tuple:
    """The field names of a record class, or None for any other class."""
    return getattr(cls, "__record_fields__", None) if isinstance(cls, type) else None


def record(cls=None, *, frozen: bool = False):
    """@record or @record(frozen=True) on a class whose annotations are its fields."""
    def make(cls):
        names, defaults = [], {}
        for base in reversed(cls.__mro__[1:]):  # a base record's fields come first
            names += [n for n in base.__dict__.get("__record_fields__", ()) if n not in names]
            defaults.update(base.__dict__.get("__record_defaults__", {}))
        for n in cls.__dict__.get("__annotations__", {}):
            if n not in names:
                names.append(n)
            value = cls.__dict__.get(n, _MISSING)
            if value is not _MISSING:
                defaults[n] = value
                if isinstance(value, _Factory):
                    delattr(cls, n)  # as dataclass: each instance's own list, not a shared one
        for a, b in zip(names, names[1:]):
            if a in defaults and b not in defaults:
                raise TypeError(f"{cls.__name__}: field {b!r} without a default follows "
                                f"{a!r}, which has one")
        cls.__record_fields__ = tuple(names)
        cls.__record_defaults__ = defaults
        # the values as a tuple in one C call (eq and hash; attrgetter of one name
        # returns the value itself, of none is refused)
        cls.__record_values__ = (operator.attrgetter(*names) if len(names) > 1 else
                                 (lambda self, n=names[0]: (getattr(self, n),)) if names
                                 else (lambda self: ()))
        cls.__init__ = _init
        cls.__repr__ = _repr
        cls.__eq__ = _eq
        if frozen:
            cls.__setattr__ = _refuse
            cls.__delattr__ = _refuse
            cls.__hash__ = _hash
        else:
            cls.__hash__ = None  # mutable and compared by value: unhashable, as dataclass
        return cls
    return make if cls is None else make(cls)


def _init(self, *args, **kwargs) -> None:
    cls = type(self)
    names = cls.__record_fields__
    if len(args) > len(names):
        raise TypeError(f"{cls.__name__}() takes {len(names)} arguments, {len(args)} given")
    values = dict(zip(names, args))
    for k, v in kwargs.items():
        if k not in names or k in values:
            raise TypeError(f"{cls.__name__}() got an unexpected or repeated argument {k!r}")
        values[k] = v
    if kwargs or len(values) < len(names):
        for n in names:
            if n not in values:
                value = cls.__record_defaults__.get(n, _MISSING)
                if value is _MISSING:
                    raise TypeError(f"{cls.__name__}() missing required argument {n!r}")
                values[n] = value.make() if type(value) is _Factory else value
        values = {n: values[n] for n in names}  # in field order, as dataclass sets them
    # straight into the instance's dict: a frozen record refuses setattr, and this is
    # what object.__setattr__ per field would do, at a fraction of the cost
    self.__dict__.update(values)


def _values(self) -> tuple:
    return type(self).__record_values__(self)


def _repr(self) -> str:
    return (f"{type(self).__qualname__}("
            + ", ".join(f"{n}={getattr(self, n)!r}" for n in type(self).__record_fields__)
            + ")")


def _eq(self, other):
    if other.__class__ is not self.__class__:
        return NotImplemented
    return _values(self) == _values(other)


def _hash(self) -> int:
    return hash(_values(self))


def _refuse(self, name, *value):
    raise AttributeError(f"cannot assign to field {name!r}: {type(self).__name__} is frozen")
