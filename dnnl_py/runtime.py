"""The contract every engine's runtime fills in (cpu/runtime.py, ocl/runtime.py), as
tinygrad's Allocator/Compiled: what an engine allocates memory with, how it runs a
kernel, which implementations it has for each primitive kind, and what tells its
primitives and blobs apart."""
from __future__ import annotations

import numpy as np

from ._errors import unimplemented
from .kinds import primitive_kind


class Runtime:
    """An engine's runtime. A subclass sets `name` and `impl_lists` and fills in the
    methods that raise NotImplementedError."""
    name = "?"
    tunable = False  # whether set_cpu_tuning's measured kernel choice applies
    impl_lists: dict = {}  # primitive_kind -> implementation classes, fastest first

    def threads(self) -> int:
        """Threads a kernel created now would use (part of the primitive cache key)."""
        return 1

    def device_id(self) -> str:
        """The device, as a cache blob's identity names it."""
        raise NotImplementedError

    def key(self) -> tuple:
        """What tells this runtime's primitives apart from another's (in this process)."""
        raise NotImplementedError

    def info_lines(self) -> list:
        """The verbose header's lines about this runtime (`info,<kind>,...`)."""
        return []

    def new_queue(self, owner):
        """The queue of a new stream `owner`, or None where kernels run inside execute."""
        return None

    def alloc(self, md):
        """A zero-filled buffer for md's layout."""
        raise NotImplementedError

    def wrap(self, md, handle):
        """The runtime's buffer over the user's `handle` for md's layout."""
        raise NotImplementedError

    def wrap_constant(self, md, handle):
        """As wrap, for bytes that nothing writes and that the caller keeps alive (a
        model's weights in a memory-mapped cache entry): a runtime that would copy them
        may use them in place instead."""
        return self.wrap(md, handle)

    def read(self, md, buf) -> np.ndarray:
        """buf's contents as a numpy array of md's logical dims."""
        raise NotImplementedError

    def read_raw(self, md, buf) -> np.ndarray:
        """buf's elements as they lie in md's layout (flat, padding included): what
        wrap(md, ...) takes back."""
        raise NotImplementedError

    def launch(self, kernel, queue, buffers: list) -> None:
        """Runs (CPU) or enqueues (on `queue`) a built kernel on the argument buffers."""
        raise NotImplementedError

    def impls(self, kind: primitive_kind) -> list:
        """The implementation classes of `kind`, fastest first (a reference last)."""
        found = self.impl_lists.get(kind)
        if not found:
            raise unimplemented(f"{kind.name}: no implementation on the {self.name} engine")
        return found
