"""CPU matmul implementations, fastest first."""
from __future__ import annotations

import math

from ..impl import Decline, Impl, plain_or_decline
from ..kinds import ARG_BIAS, ARG_DST, ARG_SRC, ARG_WEIGHTS
from ..layout import with_binary_post_ops
from ..memory_desc import blocked_desc, plain_order
from ..tuning import row_chunk_candidates
from . import _kernels

_INT_MAX = 2**31 - 1  # BLAS takes 32-bit sizes


def _operand(md, batch) -> tuple:
    """(batch strides with 0 where broadcast, (row, col) strides) of an operand."""
    bs = tuple(0 if d == 1 else s for d, s in zip(md.dims[:-2], md.strides[:-2]))
    (rows, cols), (rs, cs) = md.dims[-2:], md.strides[-2:]
    return bs, (0 if rows == 1 else rs, 0 if cols == 1 else cs)


def _blas_strides(rows: int, cols: int, rs: int, cs: int):
    """(row, col) strides BLAS can take for a [rows, cols] matrix: one unit stride and a
    leading dimension that does not overlap; the stride of a unit dim is chosen. None
    if BLAS cannot take the matrix."""
    if cols == 1 or cs == 1:
        if rows == 1:
            return cols, 1
        if rs >= cols:
            return rs, 1
    if rows == 1 or rs == 1:
        if cols == 1:
            return 1, rows
        if cs >= rows:
            return 1, cs
    return None


PANEL = 32  # columns per panel of csrc/gemm_packed.c (its NR)


def packed_weights_desc(md, k_axis: int, n_axis: int):
    """md's dims in the packed GEMM's weight panels: n in blocks of PANEL columns
    outermost (after any axes before both), then k and the other axes in order, the
    block's PANEL columns innermost ([n / PANEL][k][PANEL], n zero-padded). Matmul's
    (k, n) weights and a 1x1 convolution's (oc, ic, 1, 1) take the same panels."""
    order = plain_order(md.get_ndims())
    n = order[n_axis]
    order = order.replace(n, "")
    k_pos = order.index(plain_order(md.get_ndims())[k_axis])
    order = order[:k_pos] + n + order[k_pos:]
    return blocked_desc(md.dims, md.data_type, order, [(n_axis, PANEL)])


class _MatmulImpl(Impl):
    def __init__(self, runtime, problem, descs: dict, post_ops: list):
        if len(post_ops) > _kernels.MAX_POST_OPS:
            raise Decline(f"{len(post_ops)} post-ops (the kernels take at most "
                          f"{_kernels.MAX_POST_OPS})")
        super().__init__(runtime, problem, *with_binary_post_ops(descs, post_ops))

    @classmethod
    def _resolve(cls, p) -> dict:
        order = plain_order(p.dst.get_ndims())
        return {arg: plain_or_decline(md, order) for arg, md in
                ((ARG_SRC, p.src), (ARG_WEIGHTS, p.weights), (ARG_BIAS, p.bias), (ARG_DST, p.dst))}

    def operands(self):
        d = self.descs
        return [_operand(d[a], self.problem.batch) if d[a] is not None else None
                for a in (ARG_SRC, ARG_WEIGHTS, ARG_DST, ARG_BIAS)]


class MatmulGemm(_MatmulImpl):
    """BLAS sgemm per batch and row tile; bias and post-ops fused per tile."""
    name = "cpu:gemm:blas"
    OUT_TILE = 1 << 18
    METHOD = _kernels.MATMUL_GEMM

    @classmethod
    def create(cls, rt, p, post_ops):
        impl = cls(rt, p, cls._resolve(p), post_ops)
        impl.args = impl._blas_args()
        return impl

    def _blas_args(self):
        """Kernel arguments with BLAS-compatible strides; a column-major dst is computed
        as dst^T = weights^T . src^T."""
        p = self.problem
        m, n, k = p.m, p.n, p.k
        src, wei, dst, bia = self.operands()
        if max(m, n, k) > _INT_MAX:
            raise Decline("sizes beyond BLAS's 32-bit integers")
        dst_rc = _blas_strides(m, n, *dst[1])
        if dst_rc is None:
            raise Decline("dst has neither unit row nor unit column stride")
        self.swapped = dst_rc[1] != 1
        if self.swapped:  # column-major dst: transpose the whole problem
            m, n = n, m
            src, wei = (wei[0], wei[1][::-1]), (src[0], src[1][::-1])
            dst = (dst[0], dst_rc[::-1])
            bia = bia and (bia[0], bia[1][::-1])
        else:
            dst = (dst[0], dst_rc)
        src_rc, wei_rc = _blas_strides(m, k, *src[1]), _blas_strides(k, n, *wei[1])
        if src_rc is None or wei_rc is None:
            raise Decline("an operand has neither unit row nor unit column stride")
        if max(*src_rc, *wei_rc, *dst[1]) > _INT_MAX:
            raise Decline("strides beyond BLAS's 32-bit integers")
        return m, n, k, (src[0], src_rc), (wei[0], wei_rc), dst, bia

    def params(self) -> tuple:
        """(rows per GEMM step,): all of them, unless bias or post-ops are applied per
        tile while it is in cache."""
        m, n, bia = self.args[0], self.args[1], self.args[6]
        if self.post_ops or bia is not None:
            return (min(m, max(64, self.OUT_TILE // max(n, 1))),)
        return (m,)

    def candidates(self) -> list:
        return row_chunk_candidates(self.params()[0], self.args[0])

    def make_kernel(self, params: tuple):
        m, n, k, src, wei, dst, bia = self.args
        (chunk,) = params
        kernel = _kernels.MatmulKernel(self.METHOD, self.problem.batch, m, n, k, src, wei, dst,
                                       bia, self.post_ops, chunk, self.runtime.threads())
        if self.swapped:
            return lambda src_buf, wei_buf, bias_buf, dst_buf, *post_op_src1: kernel(
                wei_buf, src_buf, bias_buf, dst_buf, *post_op_src1)
        return kernel


class MatmulBatched(MatmulGemm):
    """Many small batches (attention's QK^T and softmax . V): all (batch, row tile) GEMMs
    in one OpenMP loop, one single-threaded BLAS call each. MatmulGemm splits each
    batch's GEMM over the threads instead, a team started and joined per batch."""
    name = "cpu:gemm_batched:blas"
    METHOD = _kernels.MATMUL_GEMM_BATCHED
    # per batch; above it splitting one GEMM over the threads costs nothing noticeable
    MAX_MACS = 1 << 22

    @classmethod
    def create(cls, rt, p, post_ops):
        if math.prod(p.batch) < 2:
            raise Decline("one batch (nothing to run side by side)")
        if p.m * p.n * p.k > cls.MAX_MACS:
            raise Decline(f"{p.m}x{p.n}x{p.k} per batch is large enough to split over the "
                          "threads")
        return super().create(rt, p, post_ops)

    def params(self) -> tuple:
        """(rows per tile,): MatmulGemm's, split further when the batches alone do not
        share out evenly over the threads (3 batches on 2 threads: 6 half-batch tiles)."""
        (rows,) = super().params()
        split = self.runtime.threads() // math.gcd(math.prod(self.problem.batch),
                                                   self.runtime.threads())
        return (max(1, min(rows, -(-self.args[0] // split))),)


class MatmulBatchedAvx512(MatmulBatched):
    """MatmulBatched's tiles on the register-blocked micro-kernel of csrc/matmul.c instead
    of BLAS: at attention's sizes OpenBLAS's packing and call overhead cost ~15%. AVX-512
    only (its 14 x 32 block needs 31 vector registers, AVX2 has 16) and n a multiple of
    16 with contiguous weight rows (read in place, not packed)."""
    name = "cpu:gemm_batched:avx512"
    METHOD = _kernels.MATMUL_MICRO_BATCHED

    @classmethod
    def create(cls, rt, p, post_ops):
        if _kernels.cpu_isa() != "avx512":
            raise Decline(f"needs AVX-512 (this CPU: {_kernels.cpu_isa()})")
        impl = super().create(rt, p, post_ops)
        n, (_, wei_rc) = impl.args[1], impl.args[4]
        if n % 16 or wei_rc[1] != 1:
            raise Decline("n is not a multiple of 16 or weights rows are not contiguous")
        return impl


class MatmulPacked(_MatmulImpl):
    """One GEMM on the packed AVX-512 kernel of csrc/gemm_packed.c: weights in
    panels of 32 columns, k-major (oneDNN's brgemm matmul packs its weights the same
    way). Weights created with format_tag.any take that layout, so a reorder packs them
    once; plain weights (any strides) are packed per call. One batch, dst rows
    contiguous; AVX-512 only (its 14 x 32 block needs 31 of the 32 zmm; without it the
    OpenBLAS path is used)."""
    name = "cpu:gemm_packed:avx512"
    PANEL = PANEL
    # below this many multiply-adds OpenBLAS's single call costs less than the packing
    MIN_MACS = 1 << 15

    @classmethod
    def create(cls, rt, p, post_ops):
        if _kernels.cpu_isa() != "avx512":
            raise Decline(f"needs AVX-512 (this CPU: {_kernels.cpu_isa()})")
        if math.prod(p.batch) != 1:
            raise Decline("more than one batch (the batched implementations take them)")
        if p.k == 0 or p.m * p.n * p.k < cls.MIN_MACS:
            raise Decline(f"{p.m}x{p.n}x{p.k} is too small to pay for packing")
        descs = cls._resolve(p)
        prepacked = p.weights.is_any()
        if prepacked:
            nd = p.weights.get_ndims()
            descs[ARG_WEIGHTS] = packed_weights_desc(p.weights, nd - 2, nd - 1)
        impl = cls(rt, p, descs, post_ops)
        impl.prepacked = prepacked
        impl.blas_declines = False
        if not prepacked:
            try:
                MatmulGemm.create(rt, p, post_ops)
            except Decline:
                impl.blas_declines = True
        if impl.operands()[2][1][1] != 1 and p.n > 1:
            raise Decline("dst rows are not contiguous")
        return impl

    def defers(self) -> bool:
        """OpenBLAS first unless the weights come packed (then this was 1.02-1.15x
        OpenBLAS from 128^3 to 1024^3, best of 20 alternating; docs/performance.md):
        packing plain weights on every call made it 0.4-1.0x OpenBLAS, which packs too.
        Plain weights land here only where OpenBLAS declines their strides."""
        return not self.prepacked and not self.blas_declines

    def make_kernel(self, params: tuple):
        src, wei, dst, bia = self.operands()
        p = self.problem
        dst = (dst[0], (dst[1][0], 1))  # n == 1: its column stride is never used
        if self.prepacked:  # the kernel reads panels, not strides
            wei = ((0,) * len(p.batch), (self.PANEL, 1))
        method = _kernels.MATMUL_PREPACKED if self.prepacked else _kernels.MATMUL_PACKED
        return _kernels.MatmulKernel(method, p.batch, p.m, p.n, p.k, src, wei, dst, bia,
                                     self.post_ops, 0, self.runtime.threads())


class MatmulRef(_MatmulImpl):
    """Plain loops over any strides."""
    name = "cpu:ref:any"
    reference = True

    @classmethod
    def create(cls, rt, p, post_ops):
        return cls(rt, p, cls._resolve(p), post_ops)

    def make_kernel(self, params: tuple):
        src, wei, dst, bia = self.operands()
        p = self.problem
        return _kernels.MatmulKernel(_kernels.MATMUL_REF, p.batch, p.m, p.n, p.k, src, wei,
                                     dst, bia, self.post_ops)
