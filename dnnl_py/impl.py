"""What an implementation of a primitive kind is: it accepts a problem (resolving `any`
layouts) or declines with a reason, and builds its kernel. Each engine keeps an ordered
list of them per kind (cpu/impl_list.py, ocl/impl_list.py), fastest first, a reference
last, as oneDNN's cpu_convolution_list.cpp."""
from __future__ import annotations

from typing import Optional

from .kinds import algorithm
from .memory_desc import desc, plain_desc


class Decline(Exception):
    """Raised by an implementation that does not handle a problem; says why."""


def plain_or_decline(md: Optional[desc], order: str) -> Optional[desc]:
    """An implementation's layout for md: `any` becomes the dense layout of `order`
    (letters, outermost first), a plain layout stays, a blocked one declines."""
    if md is None:
        return None
    if md.is_any():
        return plain_desc(md.dims, md.data_type, order)
    if not md.is_plain():
        raise Decline(f"{md.tag_str()} layout (plain layouts only)")
    return md


class Impl:
    """One implementation of a primitive kind on an engine. create() accepts the problem
    (resolving `any` layouts) or raises Decline; make_kernel(params) builds the kernel
    with blocking parameters (a tuple of ints): params() is the heuristic's choice,
    candidates() what tuning measures."""
    name = "?"
    reference = False  # plain loops, for correctness: never worth timing against the rest
    winograd = False  # a convolution by Winograd's algorithm (cpu:wino_2x3)

    def __init__(self, runtime, problem, descs: dict, post_ops: list):
        self.runtime, self.problem, self.descs, self.post_ops = runtime, problem, descs, post_ops

    @classmethod
    def create(cls, runtime, problem, post_ops: list) -> "Impl":
        """An instance for `problem` on `runtime` (the engine's), or raises Decline."""
        raise NotImplementedError

    def params(self) -> tuple:
        return ()

    def candidates(self) -> list:
        """Parameter sets worth timing, the heuristic's first; a cache blob may only
        name one of these."""
        return [self.params()]

    def make_kernel(self, params: tuple):
        raise NotImplementedError

    def kernel_from_blob(self, params: tuple, records: dict, what: str):
        """The kernel a cache blob describes; its records hold what blob_records()
        returned (an OpenCL program binary, say). Raises dnnl.error if they are bad."""
        return self.make_kernel(params)

    def blob_records(self, kernel) -> dict:
        """What a cache blob keeps of a built kernel besides the choice of params."""
        return {}

    def defers(self) -> bool:
        """True when heuristics expect a later implementation in the list to be
        faster on this problem; this one is used only if none of those accepts."""
        return False

    @classmethod
    def decline_conv_algorithm(cls, problem) -> None:
        """Raises Decline where a convolution asks for another algorithm than this
        implementation's: convolution_winograd only a Winograd one, convolution_direct
        never one; convolution_auto any (each engine's convolutions call this)."""
        if problem.alg == (algorithm.convolution_direct if cls.winograd
                           else algorithm.convolution_winograd):
            raise Decline(f"algorithm {problem.alg.name}")
