"""dnnl::engine and dnnl::stream. An engine carries its runtime: the object that
allocates memory and lists the implementations of each primitive kind."""
from __future__ import annotations

import enum

from ._errors import invalid


class engine:
    """dnnl::engine(kind, index)."""

    class kind(enum.IntEnum):
        any = 0
        cpu = 1
        gpu = 2

    def __init__(self, akind: "engine.kind", index: int = 0):
        if akind == engine.kind.cpu:
            if index != 0:
                raise invalid(f"engine: cpu index {index} out of range [0, 1)")
            from .cpu.runtime import CPU_RUNTIME
            self._kind, self._index, self._runtime = akind, 0, CPU_RUNTIME
        elif akind == engine.kind.gpu:
            raise invalid(f"engine: gpu index {index} out of range: no GPU engine is available")
        else:
            raise invalid(f"engine: kind {akind!r} is not cpu or gpu")

    @staticmethod
    def get_count(akind: "engine.kind") -> int:
        return 1 if akind == engine.kind.cpu else 0

    def get_kind(self) -> "engine.kind":
        return self._kind

    def _cache_key(self) -> tuple:
        """What tells this engine's primitives apart from another engine's."""
        return (self._kind.name, self._index, self._runtime.name)

    def __repr__(self) -> str:
        return f"engine({self._kind.name}, {self._index})"


class stream:
    """dnnl::stream. CPU primitives run to completion inside execute()."""

    class flags(enum.IntFlag):
        in_order = 1
        out_of_order = 2
        default_flags = 1

    def __init__(self, aengine: engine, aflags: "stream.flags" = flags.default_flags):
        if not isinstance(aengine, engine):
            raise invalid(f"stream: expected an engine, got {type(aengine).__name__}")
        self._engine = aengine
        self._flags = aflags

    def get_engine(self) -> engine:
        return self._engine

    def wait(self) -> "stream":
        return self
