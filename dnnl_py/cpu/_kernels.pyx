# cython: language_level=3, boundscheck=False, wraparound=False, auto_pickle=False
"""Thin Cython wrappers over the C kernels in csrc/.

A kernel object is built once per primitive (the C problem struct and post-ops are
filled here) and called per execution on flat float32 buffers. Every call checks that
each buffer covers the farthest element the kernel will touch, then releases the GIL.
"""
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from libc.stdint cimport int64_t, uint32_t, uint64_t
from libc.string cimport memset

import numpy as np

from . import pages

cpdef enum:
    CONV_GEMM = 0
    CONV_DW = 1
    CONV_REF = 2
    CONV_DIRECT = 3
    CONV_WINOGRAD = 4
    MATMUL_GEMM = 0
    MATMUL_REF = 1
    MATMUL_GEMM_BATCHED = 2
    MATMUL_MICRO_BATCHED = 3
    MATMUL_PACKED = 4      # csrc/gemm_packed.c, weights strided, packed per call
    MATMUL_PREPACKED = 5   # csrc/gemm_packed.c, weights already in its panels


MAX_POST_OPS = DNNL_MAX_POST_OPS  # the size of the kernels' post-op table
CONV_STREAM_BYTES = DNNL_CONV_STREAM_BYTES  # where the direct convolution streams
WINOGRAD_TILE_BLOCK = DNNL_WINO_TILE_BLOCK  # its work items: 2x2-pixel tiles per block


def _check_abi():
    """The header's numbers against dnnl_py/kernel_abi.py, where they are declared: a
    mismatch would silently run the wrong post-op, so the import fails instead."""
    from .. import kernel_abi as abi
    c = {"DNNL_PO_ELTWISE": DNNL_PO_ELTWISE, "DNNL_PO_SUM": DNNL_PO_SUM,
         "DNNL_PO_BINARY": DNNL_PO_BINARY,
         "DNNL_MAX_POST_OPS": DNNL_MAX_POST_OPS,
         "DNNL_ELT_RELU": DNNL_ELT_RELU, "DNNL_ELT_GELU_TANH": DNNL_ELT_GELU_TANH,
         "DNNL_ELT_GELU_ERF": DNNL_ELT_GELU_ERF, "DNNL_ELT_TANH": DNNL_ELT_TANH,
         "DNNL_ELT_LOGISTIC": DNNL_ELT_LOGISTIC, "DNNL_ELT_SWISH": DNNL_ELT_SWISH,
         "DNNL_ELT_LINEAR": DNNL_ELT_LINEAR, "DNNL_ELT_CLIP": DNNL_ELT_CLIP,
         "DNNL_ELT_EXP": DNNL_ELT_EXP, "DNNL_ELT_LOG": DNNL_ELT_LOG,
         "DNNL_ELT_SQRT": DNNL_ELT_SQRT, "DNNL_ELT_SQUARE": DNNL_ELT_SQUARE,
         "DNNL_ELT_ABS": DNNL_ELT_ABS, "DNNL_ELT_POW": DNNL_ELT_POW,
         "DNNL_ELT_SOFT_RELU": DNNL_ELT_SOFT_RELU, "DNNL_ELT_HARDSWISH": DNNL_ELT_HARDSWISH,
         "DNNL_ELT_HARDSIGMOID": DNNL_ELT_HARDSIGMOID, "DNNL_ELT_ELU": DNNL_ELT_ELU,
         "DNNL_ELT_ROUND": DNNL_ELT_ROUND}
    py = {"DNNL_PO_ELTWISE": abi.POST_OP_ELTWISE, "DNNL_PO_SUM": abi.POST_OP_SUM,
          "DNNL_PO_BINARY": abi.POST_OP_BINARY,
          "DNNL_MAX_POST_OPS": abi.MAX_POST_OPS,
          **{"DNNL_" + abi.c_name(alg): i for alg, i in abi.ELTWISE_ID.items()}}
    if c != py:
        raise ImportError("csrc/dnnl_kernels.h disagrees with dnnl_py/kernel_abi.py: "
                          + ", ".join(f"{k} {c.get(k)} vs {py.get(k)}"
                                      for k in sorted(set(c) | set(py)) if c.get(k) != py.get(k)))


_check_abi()


def cpu_isa():
    """ISA the multi-versioned kernels run with: 'avx512', 'avx2' or 'sse2'."""
    return {3: "avx512", 2: "avx2"}.get(dnnl_cpu_isa(), "sse2")


def max_threads():
    return dnnl_max_threads()


def blas_config():
    """The linked BLAS's own description: 'OpenBLAS <version> <build options> <core>'."""
    return dnnl_blas_config().decode("ascii", "replace").strip()


def blas_threads():
    return dnnl_blas_threads()


cdef int64_t extent(dims, strides) except -1:
    """Elements spanned by a strided box: 1 + the offset of its last element."""
    cdef int64_t last = 0
    for d, s in zip(dims, strides):
        if d == 0:
            return 0
        if s < 0:
            raise ValueError("negative strides are not supported")
        last += (d - 1) * s
    return last + 1


cdef float *checked(name, float[::1] buf, int64_t need) except? NULL:
    if buf is None:
        if need:
            raise ValueError(f"{name}: buffer missing")
        return NULL
    if buf.shape[0] < need:
        raise ValueError(f"{name}: buffer holds {buf.shape[0]} elements, the kernel needs {need}")
    return &buf[0] if buf.shape[0] else NULL


cdef class _PostOps:
    """The kernels' post-op table. post_ops: (kind, alg, alpha, beta, scale, walk)
    tuples; a binary post-op's walk is (dims, dst strides, src_1 strides), outermost
    first (dnnl_post_op_t), None for the others. Kernels without a real dst to address
    src_1 from (eltwise, binary) refuse binary post-ops (allow_binary=False)."""
    cdef dnnl_post_ops_t po
    cdef list need  # (post-op index, elements its src_1 buffer must hold) per binary one

    def __init__(self, post_ops, bint allow_binary=False):
        cdef dnnl_post_op_t *op
        if len(post_ops) > DNNL_MAX_POST_OPS:
            raise ValueError(f"at most {DNNL_MAX_POST_OPS} post-ops are supported")
        self.po.len, self.po.dst, self.need = len(post_ops), NULL, []
        for i, (kind, alg, alpha, beta, scale, walk) in enumerate(post_ops):
            op = &self.po.ops[i]
            op.kind, op.alg, op.alpha, op.beta, op.scale = kind, alg, alpha, beta, scale
            op.src1, op.ndims = NULL, 0
            if kind != DNNL_PO_BINARY:
                continue
            if not allow_binary:
                raise ValueError(f"post-op {i}: this kernel takes no binary post-op")
            if not DNNL_BIN_ADD <= alg <= DNNL_BIN_NE:
                raise ValueError(f"post-op {i}: binary op id {alg} is not one of the kernels'")
            dims, dst_s, src1_s = walk
            nd = len(dims)
            if not 1 <= nd <= DNNL_MAX_DIMS or len(dst_s) != nd or len(src1_s) != nd:
                raise ValueError(f"post-op {i}: a walk of {nd} dims (1 to {DNNL_MAX_DIMS})")
            reach = 1  # the dst offsets peel into coordinates only over nested strides
            for d in reversed(range(nd) if 0 not in dims else ()):  # empty: nothing read
                if dims[d] < 1 or dst_s[d] < reach:
                    raise ValueError(f"post-op {i}: dst strides {list(dst_s)} over "
                                     f"{list(dims)} are not nested")
                reach = dst_s[d] * dims[d]
            op.ndims = nd
            for d in range(nd):
                op.dims[d], op.dst_s[d], op.src1_s[d] = dims[d], dst_s[d], src1_s[d]
            self.need.append((i, extent(dims, src1_s)))

    cdef int bind(self, dnnl_post_ops_t *out, const float *dst, tuple src1) except -1:
        """out = the table with this execution's dst and src_1 buffers (checked)."""
        if len(src1) != len(self.need):
            raise ValueError(f"{len(src1)} binary post-op src_1 buffers, the kernel takes "
                             f"{len(self.need)}")
        out[0] = self.po
        out.dst = dst
        for (i, need), buf in zip(self.need, src1):
            out.ops[i].src1 = checked(f"post-op {i} src_1", buf, need)
        return 0


_BLAS_REFUSED = ("BLAS refused the operands (a leading dimension makes rows overlap, or a "
                 "size does not fit 32 bits); nothing was written")


# Scratch buffers shared by every kernel, as oneDNN's global scratchpad: executions one
# after another (a model's run loop) reuse one buffer, which stays in cache, where a
# buffer per primitive cycled ResNet-50's ~20 MB of scratch through L3; and making a
# primitive touches no memory (zero-filling each conv's scratch was ~18 ms of a warm
# ResNet-50 compile). Concurrent executions take distinct buffers. Nothing relies on
# the contents: every kernel writes the scratch it reads.
cdef list _free_scratch = []
cdef int _MAX_FREE_SCRATCH = 4


cdef class _ScratchPool:
    """A kernel's scratch size, its buffers taken from the shared free list."""
    cdef int64_t size

    def __init__(self, int64_t size):
        self.size = max(size, 1)

    cdef take(self):
        cdef int i
        for i in range(len(_free_scratch)):
            if len(_free_scratch[i]) >= self.size:
                return _free_scratch.pop(i)
        if _free_scratch:  # all too small: the largest goes, a larger one replaces it
            _free_scratch.remove(max(_free_scratch, key=len))
        return pages.zeros(self.size, np.float32)  # huge pages: cpu/pages.py

    cdef give(self, buf):
        if len(_free_scratch) < _MAX_FREE_SCRATCH:
            _free_scratch.append(buf)


cdef class ConvKernel:
    """Forward convolution. problem: dict of the dnnl_conv_t fields (strides as tuples)."""
    cdef dnnl_conv_t p
    cdef _PostOps po
    cdef int method, channels_last, threads, transformed
    cdef int64_t rows_per_chunk, ocw, kc, need_src, need_wei, need_dst
    cdef _ScratchPool scratch

    def __init__(self, int method, dict problem, post_ops, int channels_last=0,
                 int64_t rows_per_chunk=0, int64_t ocw=32, int64_t kc=96, int threads=1,
                 int transformed=0):
        self.p = problem  # Cython checks that every field is present and fits
        self.po = _PostOps(post_ops, allow_binary=True)
        self.method, self.channels_last = method, channels_last
        self.rows_per_chunk = max(rows_per_chunk, 1)
        p = &self.p
        self.need_src = extent((p.mb, p.g * p.ic, p.id, p.ih, p.iw), problem["src_s"])
        self.need_dst = extent((p.mb, p.g * p.oc, p.od, p.oh, p.ow), problem["dst_s"])
        self.transformed = transformed and method == CONV_WINOGRAD  # wei: U (wino_2x3_aaio)
        self.need_wei = (16 * p.ic * p.oc if self.transformed else
                         extent((p.g, p.oc, p.ic, p.kd, p.kh, p.kw), problem["wei_s"]))
        if method == CONV_DIRECT and not dnnl_conv_direct_supported(p):
            raise ValueError("direct convolution: unsupported strides or channel count")
        if method == CONV_DIRECT and not (ocw % 16 == 0 and 16 <= ocw <= 128 and kc >= 1):
            raise ValueError(f"direct convolution: bad blocking ocw={ocw} kc={kc}")
        if method == CONV_WINOGRAD and not (dnnl_conv_wino_supported(p) and threads >= 1):
            raise ValueError("winograd convolution: unsupported problem or thread count")
        self.ocw, self.kc, self.threads = ocw, kc, threads
        size = 0
        if method == CONV_GEMM:
            size = dnnl_conv_gemm_scratch_size(p, channels_last, self.rows_per_chunk,
                                               dnnl_post_ops_have_sum(&self.po.po))
        elif method == CONV_DIRECT:
            size = dnnl_conv_direct_scratch_size(p)
        elif method == CONV_WINOGRAD:
            size = dnnl_conv_wino_scratch_size(p, threads, self.transformed)
        self.scratch = _ScratchPool(size)

    @property
    def scratch_bytes(self):
        return self.scratch.size * 4

    def __call__(self, src, wei, bias, dst, *post_op_src1):
        cdef float *s = checked("src", src, self.need_src)
        cdef float *w = checked("weights", wei, self.need_wei)
        cdef float *b = checked("bias", bias, self.p.g * self.p.oc if bias is not None else 0)
        cdef float *d = checked("dst", dst, self.need_dst)
        cdef dnnl_post_ops_t po
        self.po.bind(&po, d, post_op_src1)
        cdef float[::1] scratch = self.scratch.take()
        cdef int refused = 0
        try:
            with nogil:
                if self.method == CONV_GEMM:
                    refused = dnnl_conv_gemm(&self.p, self.channels_last, self.rows_per_chunk,
                                             s, w, b, d, &po, &scratch[0])
                elif self.method == CONV_DIRECT:
                    dnnl_conv_direct(&self.p, s, w, b, d, &po, self.ocw, self.kc,
                                     &scratch[0])
                elif self.method == CONV_WINOGRAD:
                    dnnl_conv_wino(&self.p, s, w, b, d, &po, self.threads, &scratch[0],
                                   self.transformed)
                elif self.method == CONV_DW:
                    dnnl_conv_dw(&self.p, s, w, b, d, &po)
                else:
                    dnnl_conv_ref(&self.p, s, w, b, d, &po)
        finally:
            self.scratch.give(scratch.base)
        if refused:
            raise ValueError(_BLAS_REFUSED)


def wino_weights(int64_t ic, int64_t oc, wei_s, float[::1] wei, float[::1] u,
                 int threads):
    """u = Winograd F(2x2, 3x3)'s transform of the 3x3 weights wei (oc innermost, (g, o,
    i, d, h, w) strides wei_s): memory format wino_2x3_aaio, 16 ic oc floats."""
    cdef dnnl_conv_t p
    memset(&p, 0, sizeof(p))
    p.g, p.ic, p.oc, p.kd, p.kh, p.kw = 1, ic, oc, 1, 3, 3
    for i in range(6):
        p.wei_s[i] = wei_s[i]
    if ic < 1 or oc < 16 or oc % 16 or p.wei_s[1] != 1 or threads < 1:
        raise ValueError(f"wino_weights: ic {ic}, oc {oc}, oc stride {p.wei_s[1]}: needs "
                         "oc a multiple of 16 and innermost")
    checked("weights", wei, extent((1, oc, ic, 1, 3, 3), wei_s))
    checked("transformed weights", u, 16 * ic * oc)
    with nogil:
        dnnl_conv_wino_weights(&p, &wei[0], &u[0], threads)


cdef class MatmulKernel:
    """Batched matmul. problem: batch dims and per-operand (batch strides, (row, col) strides)."""
    cdef dnnl_matmul_t p
    cdef _PostOps po
    cdef int method, threads
    cdef int64_t rows_per_chunk, need_src, need_wei, need_dst, need_bia
    cdef _ScratchPool scratch

    def __init__(self, int method, batch, int64_t m, int64_t n, int64_t k, src, wei, dst,
                 bia, post_ops, int64_t rows_per_chunk=0, int threads=1):
        if len(batch) > DNNL_MAX_DIMS:
            raise ValueError("too many batch dimensions")
        self.p.nbatch = len(batch)
        self.p.m, self.p.n, self.p.k = m, n, k
        for i, b in enumerate(batch):
            self.p.batch[i] = b
        bia = bia or ((0,) * len(batch), (0, 0))
        for i in range(len(batch)):
            self.p.src_bs[i], self.p.wei_bs[i] = src[0][i], wei[0][i]
            self.p.dst_bs[i], self.p.bia_bs[i] = dst[0][i], bia[0][i]
        for i in range(2):
            self.p.src_s[i], self.p.wei_s[i] = src[1][i], wei[1][i]
            self.p.dst_s[i], self.p.bia_s[i] = dst[1][i], bia[1][i]
        self.po = _PostOps(post_ops, allow_binary=True)
        self.method = method
        self.rows_per_chunk = max(rows_per_chunk, 1) if rows_per_chunk else max(m, 1)
        batch = tuple(batch)
        self.need_src = extent(batch + (m, k), tuple(src[0]) + tuple(src[1]))
        if method == MATMUL_PREPACKED:  # panels, not a strided matrix
            self.need_wei = dnnl_gemm_packed_size(k, n)
        else:
            self.need_wei = extent(batch + (k, n), tuple(wei[0]) + tuple(wei[1]))
        self.need_dst = extent(batch + (m, n), tuple(dst[0]) + tuple(dst[1]))
        self.need_bia = extent(batch + (m, n), tuple(bia[0]) + tuple(bia[1]))
        self.threads = max(threads, 1)
        if method == MATMUL_MICRO_BATCHED and not dnnl_matmul_micro_supported(&self.p):
            raise ValueError("the micro-kernel needs n a multiple of 16 and unit column "
                             "strides in weights and dst")
        packed = method in (MATMUL_PACKED, MATMUL_PREPACKED)
        if packed and not dnnl_matmul_packed_supported(&self.p):
            raise ValueError("the packed GEMM needs one batch, k > 0 and unit column "
                             "strides in dst")
        size = 0
        if method == MATMUL_GEMM:
            size = dnnl_matmul_gemm_scratch_size(&self.p, self.rows_per_chunk,
                                                 dnnl_post_ops_have_sum(&self.po.po))
        elif method in (MATMUL_GEMM_BATCHED, MATMUL_MICRO_BATCHED):
            size = dnnl_matmul_batched_scratch_size(&self.p, self.rows_per_chunk,
                                                    dnnl_post_ops_have_sum(&self.po.po),
                                                    self.threads)
        elif packed:
            size = dnnl_matmul_packed_scratch_size(&self.p, method == MATMUL_PREPACKED,
                                                   dnnl_post_ops_have_sum(&self.po.po),
                                                   self.threads)
        self.scratch = _ScratchPool(size)

    def __call__(self, src, wei, bias, dst, *post_op_src1):
        cdef float *s = checked("src", src, self.need_src)
        cdef float *w = checked("weights", wei, self.need_wei)
        cdef float *b = checked("bias", bias, self.need_bia if bias is not None else 0)
        cdef float *d = checked("dst", dst, self.need_dst)
        cdef dnnl_post_ops_t po
        self.po.bind(&po, d, post_op_src1)
        cdef float[::1] scratch = self.scratch.take()
        cdef int refused = 0
        try:
            with nogil:
                if self.method == MATMUL_GEMM:
                    refused = dnnl_matmul_gemm(&self.p, self.rows_per_chunk, s, w, b, d,
                                               &po, &scratch[0])
                elif self.method in (MATMUL_GEMM_BATCHED, MATMUL_MICRO_BATCHED):
                    refused = dnnl_matmul_gemm_batched(
                        &self.p, self.rows_per_chunk, self.threads,
                        self.method == MATMUL_MICRO_BATCHED, s, w, b, d, &po,
                        &scratch[0])
                elif self.method in (MATMUL_PACKED, MATMUL_PREPACKED):
                    refused = dnnl_matmul_packed(&self.p, self.method == MATMUL_PREPACKED,
                                                 self.threads, s, w, b, d, &po,
                                                 &scratch[0])
                else:
                    dnnl_matmul_ref(&self.p, s, w, b, d, &po)
        finally:
            self.scratch.give(scratch.base)
        if refused:
            raise ValueError(_BLAS_REFUSED)


def copy_strided(dims, float[::1] src, int64_t src_off, src_strides, float[::1] dst,
                 int64_t dst_off, dst_strides):
    """dst[dst_off + x.dst_strides] = src[src_off + x.src_strides] for x in the box dims."""
    cdef int nd = len(dims)
    if nd > 2 * DNNL_MAX_DIMS or len(src_strides) != nd or len(dst_strides) != nd:
        raise ValueError("copy_strided: dims and strides disagree")
    cdef int64_t c_dims[2 * DNNL_MAX_DIMS]
    cdef int64_t c_ss[2 * DNNL_MAX_DIMS]
    cdef int64_t c_ds[2 * DNNL_MAX_DIMS]
    for i in range(nd):
        c_dims[i], c_ss[i], c_ds[i] = dims[i], src_strides[i], dst_strides[i]
    need_src, need_dst = extent(dims, src_strides), extent(dims, dst_strides)
    if need_src == 0:
        return
    if src_off < 0 or dst_off < 0:
        raise ValueError("copy_strided: negative offset")
    checked("src", src, src_off + need_src)
    checked("dst", dst, dst_off + need_dst)
    with nogil:
        dnnl_copy_strided(nd, c_dims, &src[src_off], c_ss, &dst[dst_off], c_ds)


# --- eltwise / binary ---
def _check_binary_abi():
    """The binary op ids against kernel_abi.BINARY_ID, as _check_abi does for eltwise."""
    from .. import kernel_abi as abi
    c = {"DNNL_BIN_ADD": DNNL_BIN_ADD, "DNNL_BIN_SUB": DNNL_BIN_SUB,
         "DNNL_BIN_MUL": DNNL_BIN_MUL, "DNNL_BIN_DIV": DNNL_BIN_DIV,
         "DNNL_BIN_MAX": DNNL_BIN_MAX, "DNNL_BIN_MIN": DNNL_BIN_MIN,
         "DNNL_BIN_GE": DNNL_BIN_GE, "DNNL_BIN_GT": DNNL_BIN_GT, "DNNL_BIN_LE": DNNL_BIN_LE,
         "DNNL_BIN_LT": DNNL_BIN_LT, "DNNL_BIN_EQ": DNNL_BIN_EQ, "DNNL_BIN_NE": DNNL_BIN_NE}
    py = {"DNNL_" + abi.c_name(alg): i for alg, i in abi.BINARY_ID.items()}
    if c != py:
        raise ImportError("csrc/dnnl_kernels.h disagrees with dnnl_py/kernel_abi.py: "
                          + ", ".join(f"{k} {c.get(k)} vs {py.get(k)}"
                                      for k in sorted(set(c) | set(py)) if c.get(k) != py.get(k)))


_check_binary_abi()


cdef fill_walk(dnnl_elementwise_t *p, dims, src0_s, src1_s, dst_s):
    """The walk's dims (outermost first, at least one) and each operand's strides."""
    nd = len(dims)
    if not 1 <= nd <= DNNL_MAX_DIMS:
        raise ValueError(f"{nd} dims after merging (1 to {DNNL_MAX_DIMS})")
    if len(src0_s) != nd or len(src1_s) != nd or len(dst_s) != nd:
        raise ValueError("dims and strides disagree")
    p.ndims = nd
    for i in range(nd):
        p.dims[i], p.src0_s[i], p.src1_s[i], p.dst_s[i] = dims[i], src0_s[i], src1_s[i], dst_s[i]


cdef class EltwiseKernel:
    """dst = post_ops(src) over a strided walk; the eltwise algorithm is post_ops[0]."""
    cdef dnnl_elementwise_t p
    cdef _PostOps po
    cdef int64_t need_src, need_dst

    def __init__(self, dims, src_strides, dst_strides, post_ops):
        fill_walk(&self.p, dims, src_strides, [0] * len(dims), dst_strides)
        self.po = _PostOps(post_ops)
        self.need_src, self.need_dst = extent(dims, src_strides), extent(dims, dst_strides)

    def __call__(self, src, dst):
        cdef float *s = checked("src", src, self.need_src)
        cdef float *d = checked("dst", dst, self.need_dst)
        if self.need_dst == 0:
            return
        with nogil:
            dnnl_eltwise_fwd(&self.p, s, d, &self.po.po)


cdef class BinaryKernel:
    """dst = post_ops(op(src0, src1)) over a strided walk; src1 broadcasts by zero strides."""
    cdef dnnl_elementwise_t p
    cdef _PostOps po
    cdef int op
    cdef int64_t need_src0, need_src1, need_dst

    def __init__(self, int op, dims, src0_strides, src1_strides, dst_strides, post_ops):
        if not DNNL_BIN_ADD <= op <= DNNL_BIN_NE:
            raise ValueError(f"binary op id {op} is not one of the kernels'")
        fill_walk(&self.p, dims, src0_strides, src1_strides, dst_strides)
        self.po = _PostOps(post_ops)
        self.op = op
        self.need_src0 = extent(dims, src0_strides)
        self.need_src1 = extent(dims, src1_strides)
        self.need_dst = extent(dims, dst_strides)

    def __call__(self, src0, src1, dst):
        cdef float *a = checked("src_0", src0, self.need_src0)
        cdef float *b = checked("src_1", src1, self.need_src1)
        cdef float *d = checked("dst", dst, self.need_dst)
        if self.need_dst == 0:
            return
        with nogil:
            dnnl_binary(&self.p, self.op, a, b, d, &self.po.po)


# --- pooling / concat ---
POOL_MAX, POOL_AVG_INCLUDE, POOL_AVG_EXCLUDE = (DNNL_POOL_MAX, DNNL_POOL_AVG_INCLUDE,
                                                DNNL_POOL_AVG_EXCLUDE)


cdef class PoolKernel:
    """Forward pooling. problem: dict of the dnnl_pool_t fields (strides as 5-tuples)."""
    cdef dnnl_pool_t p
    cdef int64_t need_src, need_dst

    def __init__(self, dict problem):
        cdef dnnl_pool_t *p = &self.p
        p.alg = problem["alg"]
        if p.alg not in (DNNL_POOL_MAX, DNNL_POOL_AVG_INCLUDE, DNNL_POOL_AVG_EXCLUDE):
            raise ValueError(f"pooling: unknown algorithm {p.alg}")
        p.mb, p.c = problem["mb"], problem["c"]
        p.id, p.ih, p.iw = problem["id"], problem["ih"], problem["iw"]
        p.od, p.oh, p.ow = problem["od"], problem["oh"], problem["ow"]
        p.kd, p.kh, p.kw = problem["kd"], problem["kh"], problem["kw"]
        p.sd, p.sh, p.sw = problem["sd"], problem["sh"], problem["sw"]
        p.dd, p.dh, p.dw = problem["dd"], problem["dh"], problem["dw"]
        p.pd, p.ph, p.pw = problem["pd"], problem["ph"], problem["pw"]
        if min(p.kd, p.kh, p.kw, p.sd, p.sh, p.sw) < 1 or min(p.dd, p.dh, p.dw) < 0:
            raise ValueError("pooling: kernel and strides must be >= 1, dilation >= 0")
        src_s, dst_s = problem["src_s"], problem["dst_s"]
        if len(src_s) != 5 or len(dst_s) != 5:
            raise ValueError("pooling: strides are (n, c, d, h, w)")
        for i in range(5):
            p.src_s[i], p.dst_s[i] = src_s[i], dst_s[i]
        self.need_src = extent((p.mb, p.c, p.id, p.ih, p.iw), src_s)
        self.need_dst = extent((p.mb, p.c, p.od, p.oh, p.ow), dst_s)

    def __call__(self, src, dst):
        cdef float *s = checked("src", src, self.need_src)
        cdef float *d = checked("dst", dst, self.need_dst)
        if self.need_dst == 0:
            return
        with nogil:
            dnnl_pool_fwd(&self.p, s, d)
# --- softmax / normalization ---
cdef class _Reduce:
    """A dnnl_reduce_t from a dnnl_py.reduction.Split (par: (dim, src, dst, stat, ss) per
    parallel dim; red: (dim, src, dst, ss) per reduced dim, outermost first) and the
    extent each operand's buffer must cover."""
    cdef dnnl_reduce_t p
    cdef public int64_t need_src, need_dst, need_stat, need_ss

    def __init__(self, par, red):
        if len(par) > DNNL_MAX_DIMS or not 1 <= len(red) <= DNNL_MAX_DIMS:
            raise ValueError(f"reduction: {len(par)} parallel and {len(red)} reduced dims")
        self.p.np, self.p.nr = len(par), len(red)
        for i, (dim, s, d, st, ss) in enumerate(par):
            self.p.p_dim[i], self.p.p_src[i], self.p.p_dst[i] = dim, s, d
            self.p.p_stat[i], self.p.p_ss[i] = st, ss
        for i, (dim, s, d, ss) in enumerate(red):
            self.p.r_dim[i], self.p.r_src[i], self.p.r_dst[i], self.p.r_ss[i] = dim, s, d, ss
        dims = [a[0] for a in par] + [a[0] for a in red]
        self.need_src = extent(dims, [a[1] for a in par] + [a[1] for a in red])
        self.need_dst = extent(dims, [a[2] for a in par] + [a[2] for a in red])
        empty = 0 in dims
        self.need_stat = 0 if empty else extent([a[0] for a in par], [a[3] for a in par])
        self.need_ss = 0 if empty else extent(dims, [a[4] for a in par] + [a[3] for a in red])


cdef class SoftmaxKernel:
    """Softmax forward (accurate or log) along the reduced dims of a _Reduce."""
    cdef _Reduce r
    cdef int log_softmax

    def __init__(self, par, red, bint log_softmax):
        self.r, self.log_softmax = _Reduce(par, red), log_softmax

    def __call__(self, src, dst):
        cdef float *s = checked("src", src, self.r.need_src)
        cdef float *d = checked("dst", dst, self.r.need_dst)
        if self.r.need_src == 0:
            return
        with nogil:
            dnnl_softmax_fwd(&self.r.p, self.log_softmax, s, d)


cdef class NormKernel:
    """Layer or batch normalization forward: statistics per parallel point of a _Reduce,
    read (global_stats) or computed, and written when save_stats."""
    cdef _Reduce r
    cdef float eps
    cdef int global_stats, save_stats, relu, use_scale, use_shift

    def __init__(self, par, red, float eps, bint global_stats, bint save_stats, bint relu,
                 bint use_scale, bint use_shift):
        self.r, self.eps = _Reduce(par, red), eps
        self.global_stats, self.save_stats, self.relu = global_stats, save_stats, relu
        self.use_scale, self.use_shift = use_scale, use_shift

    def __call__(self, src, mean, var, scale, shift, dst):
        cdef bint stats = self.global_stats or self.save_stats
        cdef float *s = checked("src", src, self.r.need_src)
        cdef float *m = checked("mean", mean, self.r.need_stat if stats else 0)
        cdef float *v = checked("variance", var, self.r.need_stat if stats else 0)
        cdef float *sc = checked("scale", scale, self.r.need_ss if self.use_scale else 0)
        cdef float *sh = checked("shift", shift, self.r.need_ss if self.use_shift else 0)
        cdef float *d = checked("dst", dst, self.r.need_dst)
        if self.r.need_src == 0:
            return
        if not stats:
            m = v = NULL
        if not self.use_scale:
            sc = NULL
        if not self.use_shift:
            sh = NULL
        with nogil:
            dnnl_norm_fwd(&self.r.p, self.eps, self.global_stats, self.save_stats, self.relu,
                          s, m, v, sc, sh, d)


# --- checksum ---
def crc32c(const unsigned char[::1] data, uint32_t value=0):
    """CRC-32C of data's bytes, continuing from value (zlib.crc32's convention); the GIL
    is released while it runs, so threads check buffers in parallel."""
    cdef size_t n = data.shape[0]
    cdef uint32_t out = value
    if n:
        with nogil:
            out = dnnl_crc32c(value, &data[0], n)
    return out


def blake3(const unsigned char[::1] data):
    """BLAKE3 of data's bytes (32 bytes, the specification's default length); the GIL
    is released while it runs, so threads hash buffers in parallel."""
    cdef unsigned char out[32]
    cdef size_t n = data.shape[0]
    cdef const unsigned char *p = NULL
    if n:
        p = &data[0]
    with nogil:
        dnnl_blake3(p, n, out)
    return out[:32]


cdef class DigestList:
    """The digests (BLAKE3, or CRC-32C as 4 little-endian bytes) of a list of bytes-like
    buffers, computed by every thread that calls work(): each takes the next buffer not
    yet taken, without the GIL until the list is done. result() is the list of digests
    once every work() has returned."""
    cdef list views       # the buffers' memoryviews: alive while pointers to them are
    cdef const unsigned char **data
    cdef size_t *size
    cdef int64_t count, next
    cdef int kind
    cdef bytearray out

    def __cinit__(self, list buffers, bint blake3=True):
        cdef const unsigned char[::1] v
        cdef Py_ssize_t k
        self.count = len(buffers)
        self.kind = DNNL_DIGEST_BLAKE3 if blake3 else DNNL_DIGEST_CRC32C
        self.data = <const unsigned char **>PyMem_Malloc(max(self.count, 1) * sizeof(void *))
        self.size = <size_t *>PyMem_Malloc(max(self.count, 1) * sizeof(size_t))
        if self.data == NULL or self.size == NULL:
            raise MemoryError()
        self.views = []
        for k in range(self.count):
            v = buffers[k]
            self.views.append(v)
            self.size[k] = v.shape[0]
            self.data[k] = &v[0] if v.shape[0] else NULL
        self.out = bytearray(self.count * (32 if blake3 else 4))

    def __dealloc__(self):
        PyMem_Free(self.data)
        PyMem_Free(self.size)

    def work(self):
        cdef unsigned char *out = self.out
        if self.count:
            with nogil:
                dnnl_digest_list(self.kind, self.data, self.size, self.count, &self.next,
                                 out)

    def result(self) -> list:
        cdef int n = 32 if self.kind == DNNL_DIGEST_BLAKE3 else 4
        return [bytes(self.out[k * n:(k + 1) * n]) for k in range(self.count)]


# --- protobuf ---
_PROTO_ERRORS = {DNNL_PROTO_BAD_VARINT: "truncated or malformed varint",
                 DNNL_PROTO_PAST_END: "field {number} runs past the end of its message",
                 DNNL_PROTO_TRUNCATED: "truncated fixed{bits} field",
                 DNNL_PROTO_BAD_WIRE: "wire type {wire} of field {number} is not protobuf"}


def proto_fields(buf):
    """[(field number, wire type, value)] of the protobuf message buf (a bytes-like
    object): ints for varint and fixed fields, a memoryview of buf for length-delimited
    ones (csrc/proto.c). ValueError says what is malformed."""
    view = memoryview(buf).cast("B")
    cdef const unsigned char[::1] data = view
    cdef int64_t at = 0, end = data.shape[0], n, i
    cdef int error = 0
    cdef dnnl_proto_field_t fields[128]
    out = []
    while at < end:
        n = dnnl_proto_fields(&data[0], &at, end, fields, 128, &error)
        for i in range(n):
            if fields[i].wire == 2:
                out.append((fields[i].number, 2,
                            view[fields[i].value:fields[i].value + fields[i].length]))
            else:
                out.append((fields[i].number, fields[i].wire, fields[i].value))
        if error:
            raise ValueError(_PROTO_ERRORS[error].format(
                number=fields[n].number, wire=fields[n].wire,
                bits=64 if fields[n].wire == 1 else 32))
    return out
