"""dnnl::memory: a memory descriptor bound to a buffer on an engine (the descriptor and
its parts are in memory_desc.py)."""
from __future__ import annotations

from typing import Optional

import numpy as np

from ._errors import error, invalid, status
from .engine import engine
from .memory_desc import data_type, desc, format_kind, format_tag


class memory:
    """dnnl::memory: a descriptor bound to a buffer on an engine.

    memory(md, engine) allocates (zero-filled). memory(md, engine, array) wraps a numpy
    array without copying: either one of the descriptor's dims, dtype and strides, or a
    1-D buffer of at least md.get_size() bytes that holds the layout as it is.
    """
    desc = desc
    data_type = data_type
    format_tag = format_tag
    format_kind = format_kind

    def __init__(self, md: desc, aengine, handle: Optional[np.ndarray] = None):
        if not isinstance(md, desc):
            raise invalid(f"memory: expected a memory.desc, got {type(md).__name__}")
        if md.format_kind not in (format_kind.blocked, format_kind.opaque):
            raise invalid(f"memory: cannot create memory with format {md.format_kind.name}; "
                          "query the primitive descriptor for a concrete one")
        if not isinstance(aengine, engine):
            raise invalid(f"memory: expected an engine, got {type(aengine).__name__}")
        self._md, self._engine = md, aengine
        if handle is not None:
            self._buf = aengine._runtime.wrap(md, handle)
            return
        try:
            self._buf = aengine._runtime.alloc(md)
        except MemoryError:
            raise error(status.out_of_memory,
                        f"memory: cannot allocate {md.get_size()} bytes for {md}") from None

    def get_desc(self) -> desc:
        return self._md

    def get_engine(self):
        return self._engine

    def get_data_handle(self):
        """The flat buffer the memory reads and writes."""
        return self._buf

    def set_data_handle(self, handle) -> None:
        self._buf = self._engine._runtime.wrap(self._md, handle)

    def to_numpy(self) -> np.ndarray:
        """A copy of the contents: logical dims, plain C-contiguous layout."""
        if self._md.opaque:
            raise invalid(f"memory: layout {self._md.opaque} is opaque (only the primitive "
                          "that asked for it reads it): keep the values it was reordered from")
        return self._engine._runtime.read(self._md, self._buf)
