"""OpenCL eltwise (and what binary shares with it): one work-item per element over any
plain strides, scalar code (kernels/walk.cl, eltwise.cl; the algorithm and post-ops
from post_ops.cl). The program is built as ocl/gemm.py builds its own: in the build
worker, launched once with the real launch shape, its binary kept for cache blobs."""
from __future__ import annotations

import pyopencl as cl

from ..impl import Decline
from ..kernel_abi import ELTWISE_ID, POST_OP_ELTWISE
from ..kinds import ARG_DST, ARG_SRC
from ..layout import elementwise_walk
from . import program as ocl_program
from .gemm import post_op_macros
from .program_impl import OclProgramImpl

LOCAL = 64  # work-items per work-group


def decline_blocked(**mds) -> None:
    for name, md in mds.items():
        if not md.is_plain():
            raise Decline(f"{name}: {md.tag_str()} layout (plain layouts only)")


def walk_macros(dims, src0, src1, dst) -> dict:
    """walk.cl's macros (lists as comma-separated values, no spaces: one option each)."""
    total = 1
    for n in dims:
        total *= n
    return {"WALK_ND": len(dims), "WALK_TOTAL": f"{total}UL",
            **{name: ",".join(f"{v}L" for v in values) for name, values in
               (("WALK_DIMS", dims), ("WALK_SRC0", src0), ("WALK_SRC1", src1),
                ("WALK_DST", dst))}}


class ElementwiseKernel:
    """The built program's one kernel: kernel(queue, *buffers) enqueues it over the walk."""

    def __init__(self, name: str, total: int):
        self.name, self.total = name, total
        self.grid = -(-total // LOCAL) * LOCAL
        self.program, self._binary = None, None

    def launches(self, sizes: list) -> list:
        if not self.total:
            return []
        return [[self.name, [self.grid], [LOCAL], [["buffer", n] for n in sizes]]]

    def bind(self, program, binary) -> "ElementwiseKernel":
        self.program, self._binary = program, binary
        self.kernel = cl.Kernel(program, self.name)
        return self

    def __call__(self, queue, *buffers):
        if self.total:
            self.kernel(queue, (self.grid,), (LOCAL,), *buffers)

    def binary(self) -> bytes:
        if self._binary is None:  # costly on PoCL: only when a blob asks
            self._binary = ocl_program.binary(self.program)
        return self._binary


class _OclElementwise(OclProgramImpl):
    """What eltwise and binary share: the program's build, from source or a blob.
    Subclasses give kernel_name, program_sources, _arg_order, and _macros()."""
    kernel_name = "?"
    _arg_order: tuple = ()

    def _macros(self) -> dict:
        raise NotImplementedError

    def _total(self) -> int:
        total = 1
        for n in self.descs[ARG_DST].dims:
            total *= n
        return total

    def _options(self) -> str:
        return " ".join(f"-D{name}={value}" for name, value in self._macros().items())

    def program_options(self, params: tuple) -> str:
        return self._options()

    def new_kernel(self, params: tuple) -> ElementwiseKernel:
        return ElementwiseKernel(self.kernel_name, self._total())

    def launch_args(self) -> tuple:
        return ([self.descs[arg].get_size() for arg in self._arg_order],)


class EltwiseRef(_OclElementwise):
    """Any plain strides, one work-item per element; src may be dst (in place)."""
    name = "ocl:ref:any"
    reference = True
    kernel_name = "eltwise_fwd"
    program_sources = ("post_ops.cl", "walk.cl", "eltwise.cl")
    _arg_order = (ARG_SRC, ARG_DST)

    @classmethod
    def create(cls, rt, p, post_ops):
        decline_blocked(src=p.src, dst=p.dst)
        impl = cls(rt, p, {ARG_SRC: p.src, ARG_DST: p.dst}, post_ops)
        impl.ops = [(POST_OP_ELTWISE, ELTWISE_ID[p.alg], p.alpha, p.beta, 0.0, None), *post_ops]
        post_op_macros(impl.ops)  # declines what the kernel cannot take
        return impl

    def _macros(self) -> dict:
        p = self.problem
        dims, (ss, ds) = elementwise_walk(p.src.dims, p.src.strides, p.dst.strides)
        return {**walk_macros(dims, ss, [0] * len(dims), ds), **post_op_macros(self.ops)}


