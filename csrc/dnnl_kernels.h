/* Plain C kernels of dnnl_py's CPU engine. Python validates problems and sizes;
 * these functions trust their arguments and never touch Python objects. */
#ifndef DNNL_KERNELS_H
#define DNNL_KERNELS_H
#include <stddef.h>
#include <stdint.h>

#define DNNL_MAX_POST_OPS 8
/* src + dst bytes beyond which the direct convolution streams: its 1x1s prefetch the
 * next block's lines (conv_direct.c), and the packed 1x1 defers to it for short
 * reductions (dnnl_py/cpu/convolution.py) */
#define DNNL_CONV_STREAM_BYTES (16 << 20)
#define DNNL_MAX_DIMS 12

enum { DNNL_PO_ELTWISE = 0, DNNL_PO_SUM = 1, DNNL_PO_BINARY = 2 };
enum {
    DNNL_ELT_RELU = 0, DNNL_ELT_GELU_TANH, DNNL_ELT_GELU_ERF, DNNL_ELT_TANH,
    DNNL_ELT_LOGISTIC, DNNL_ELT_SWISH, DNNL_ELT_LINEAR, DNNL_ELT_CLIP
};

/* A binary post-op (alg: DNNL_BIN_*) reads src1 at the element that matches each dst
 * element: the epilogue knows a dst element by its address, so `ndims` dims (dst's
 * non-unit dims, merged, outermost first; dst strides nested) turn its offset from the
 * post-ops' `dst` into coordinates, and src1_s (0: broadcast) into src1's offset. */
typedef struct {
    int kind, alg;
    float alpha, beta, scale;
    const float *src1; /* binary: set per execution */
    int ndims;
    int64_t dims[DNNL_MAX_DIMS], dst_s[DNNL_MAX_DIMS], src1_s[DNNL_MAX_DIMS];
} dnnl_post_op_t;
typedef struct {
    int len;
    const float *dst; /* binary: the dst the offsets are taken from, set per execution */
    dnnl_post_op_t ops[DNNL_MAX_POST_OPS];
} dnnl_post_ops_t;

/* The BLAS linked in (OpenBLAS's configuration string: version, core, threading) and
 * the threads it runs one call with: 1, dnnl_sgemm_rm splits a GEMM over OpenMP's. */
const char *dnnl_blas_config(void);
int dnnl_blas_threads(void);

/* ISA the multi-versioned kernels run with: 3 avx512, 2 avx2, 0 baseline. */
int dnnl_cpu_isa(void);
int dnnl_max_threads(void);

/* dst[r, c] = post_ops(acc[r, c] + bias[r*bias_rs + c*bias_cs], dst[r, c]);
 * acc may alias dst (then a sum post-op cannot be present). bias may be NULL. dst must
 * be the real destination (inside po->dst's) when the post-ops hold a binary one. */
void dnnl_epilogue(int64_t rows, int64_t cols, const float *acc, int64_t ld_acc,
                   float *dst, int64_t ld_dst, const float *bias, int64_t bias_rs,
                   int64_t bias_cs, const dnnl_post_ops_t *po);
/* One row of dnnl_epilogue, for callers already inside a parallel region. */
void dnnl_epilogue_row(int64_t cols, const float *acc, float *dst, const float *bias,
                       int64_t bias_cs, const dnnl_post_ops_t *po);
/* The post-ops of one value v whose destination element is *dst (read for a sum). */
float dnnl_post_ops_scalar(float v, const float *dst, const dnnl_post_ops_t *po);
int dnnl_post_ops_have_sum(const dnnl_post_ops_t *po);

/* Row-major C[m, n] = op(A)[m, k] . op(B)[k, n] + beta * C. Returns 0, or -1 without
 * touching memory when a leading dimension makes rows overlap or a size does not fit
 * BLAS's 32-bit integers. */
int dnnl_sgemm_rm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                  const float *a, int64_t lda, const float *b, int64_t ldb,
                  float beta, float *c, int64_t ldc);
/* Whether dnnl_sgemm_rm refuses these sizes and leading dimensions. A refusal only
 * grows with m (and n): the largest tile of a problem answers for all of them. */
int dnnl_sgemm_rm_refuses(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                          int64_t lda, int64_t ldb, int64_t ldc);

/* Convolution, forward. 1D/2D problems are 3D ones with unit depth/height.
 * Strides are in elements: src/dst (n, c, d, h, w), weights (g, o, i, d, h, w);
 * the channel stride of src/dst steps over all groups' channels. */
typedef struct {
    int64_t mb, g, ic, oc; /* ic, oc per group */
    int64_t id, ih, iw, od, oh, ow, kd, kh, kw;
    int64_t sd, sh, sw, dd, dh, dw; /* dilation as oneDNN: 0 is dense */
    int64_t pd, ph, pw;
    int64_t src_s[5], wei_s[6], dst_s[5];
} dnnl_conv_t;

#define DNNL_MIN(a, b) ((a) < (b) ? (a) : (b))

/* Output pixel `pix` of an image (flattened d, h, w) -> its (od, oh, ow). */
static inline void dnnl_conv_pixel_coords(const dnnl_conv_t *p, int64_t pix, int64_t *od,
                                          int64_t *oh, int64_t *ow) {
    *ow = pix % p->ow;
    *oh = (pix / p->ow) % p->oh;
    *od = pix / (p->ow * p->oh);
}

/* im2col + BLAS. channels_last selects the arrangement (see conv_gemm.c);
 * rows_per_chunk bounds the output pixels computed per step; scratch holds
 * dnnl_conv_gemm_scratch_size() floats. */
int64_t dnnl_conv_gemm_scratch_size(const dnnl_conv_t *p, int channels_last,
                                    int64_t rows_per_chunk, int has_sum);
/* Returns 0, or -1 (dnnl_sgemm_rm's refusal) before the first GEMM writes dst. */
int dnnl_conv_gemm(const dnnl_conv_t *p, int channels_last, int64_t rows_per_chunk,
                   const float *src, const float *wei, const float *bias, float *dst,
                   const dnnl_post_ops_t *po, float *scratch);
/* Direct, register-blocked (conv_direct.c): channels-last src/dst, weights with oc
 * innermost, oc a multiple of 16; _supported() tells whether strides allow it.
 * Blocking: ocw output channels per work item (16 <= ocw <= 128, a multiple of 16)
 * and kc >= 1 steps per pass. scratch holds dnnl_conv_direct_scratch_size() floats
 * (a zero-padded or channel-blocked src copy and the row path's tables). */
int dnnl_conv_direct_supported(const dnnl_conv_t *p);
int64_t dnnl_conv_direct_scratch_size(const dnnl_conv_t *p);
void dnnl_conv_direct(const dnnl_conv_t *p, const float *src, const float *wei,
                      const float *bias, float *dst, const dnnl_post_ops_t *po,
                      int64_t ocw, int64_t kc, float *scratch);
/* Winograd F(2x2, 3x3) (conv_winograd.c): the direct kernel's layouts, one group, 3x3,
 * stride 1, no dilation, ic and oc multiples of 16 (_supported()). Runs on at most
 * `threads` threads, each taking blocks of DNNL_WINO_TILE_BLOCK tiles (2x2 output
 * pixels) of an image; scratch holds dnnl_conv_wino_scratch_size(p, threads,
 * transformed) floats. transformed: wei is already U[4][4][ic][oc], 16 ic oc floats
 * (dnnl_conv_wino_weights: memory format wino_2x3_aaio); else the 3x3 weights with oc
 * innermost (p->wei_s), transformed into the scratch on every call. */
#define DNNL_WINO_TILE_BLOCK 28
int dnnl_conv_wino_supported(const dnnl_conv_t *p);
int64_t dnnl_conv_wino_scratch_size(const dnnl_conv_t *p, int threads, int transformed);
void dnnl_conv_wino(const dnnl_conv_t *p, const float *src, const float *wei,
                    const float *bias, float *dst, const dnnl_post_ops_t *po, int threads,
                    float *scratch, int transformed);
/* u (16 ic oc floats) = the transform of wei (3x3, oc innermost: p->wei_s), as the
 * convolution makes it on a call without `transformed`. */
void dnnl_conv_wino_weights(const dnnl_conv_t *p, const float *wei, float *u, int threads);
/* Depthwise (ic = oc = 1 per group), channels-last src/dst, channel-contiguous weights. */
void dnnl_conv_dw(const dnnl_conv_t *p, const float *src, const float *wei,
                  const float *bias, float *dst, const dnnl_post_ops_t *po);
/* Any strides: the reference. */
void dnnl_conv_ref(const dnnl_conv_t *p, const float *src, const float *wei,
                   const float *bias, float *dst, const dnnl_post_ops_t *po);

/* Matmul dst[b..., m, n] = src[b..., m, k] . wei[b..., k, n] + bias, with batch
 * broadcast through zero strides. dst rows are contiguous (dst_s[col] == 1). */
typedef struct {
    int nbatch;                 /* number of batch dims */
    int64_t batch[DNNL_MAX_DIMS];
    int64_t m, n, k;
    int64_t src_bs[DNNL_MAX_DIMS], wei_bs[DNNL_MAX_DIMS], dst_bs[DNNL_MAX_DIMS],
            bia_bs[DNNL_MAX_DIMS];
    int64_t src_s[2], wei_s[2], dst_s[2], bia_s[2]; /* (row, col) */
} dnnl_matmul_t;

int64_t dnnl_matmul_gemm_scratch_size(const dnnl_matmul_t *p, int64_t rows_per_chunk, int has_sum);
/* Returns 0, or -1 (dnnl_sgemm_rm's refusal) before the first GEMM writes dst. */
int dnnl_matmul_gemm(const dnnl_matmul_t *p, int64_t rows_per_chunk, const float *src,
                     const float *wei, const float *bias, float *dst,
                     const dnnl_post_ops_t *po, float *scratch);
/* Many small batches: all (batch, row chunk) tiles in one parallel loop, a
 * single-threaded GEMM each (BLAS, or with `micro` the register-blocked kernel of
 * matmul.c, which needs dnnl_matmul_micro_supported()), on at most `threads` threads;
 * scratch holds dnnl_matmul_batched_scratch_size() floats (a tile per thread with a sum
 * post-op). Returns 0, or -1 before writing dst (BLAS's refusal, or unsupported). */
int dnnl_matmul_micro_supported(const dnnl_matmul_t *p);
int64_t dnnl_matmul_batched_scratch_size(const dnnl_matmul_t *p, int64_t rows_per_chunk,
                                         int has_sum, int threads);
int dnnl_matmul_gemm_batched(const dnnl_matmul_t *p, int64_t rows_per_chunk, int threads,
                             int micro, const float *src, const float *wei, const float *bias,
                             float *dst, const dnnl_post_ops_t *po, float *scratch);
void dnnl_matmul_ref(const dnnl_matmul_t *p, const float *src, const float *wei,
                     const float *bias, float *dst, const dnnl_post_ops_t *po);
/* One batch (all batch dims 1), dst rows contiguous, k > 0 (gemm_packed.c): the weights
 * packed in panels [ceil(n / 32)][k][32] (`prepacked`, dnnl_gemm_packed_size() floats)
 * or strided and packed per call into scratch, dnnl_matmul_packed_scratch_size() floats.
 * Returns 0, or -1 before writing dst when unsupported. */
int64_t dnnl_gemm_packed_size(int64_t k, int64_t n);
int dnnl_matmul_packed_supported(const dnnl_matmul_t *p);
int64_t dnnl_matmul_packed_scratch_size(const dnnl_matmul_t *p, int prepacked, int has_sum,
                                        int threads);
int dnnl_matmul_packed(const dnnl_matmul_t *p, int prepacked, int threads, const float *src,
                       const float *wei, const float *bias, float *dst,
                       const dnnl_post_ops_t *po, float *scratch);

/* dst[x] = src[x] over an ndims box, element strides on both sides. */
void dnnl_copy_strided(int ndims, const int64_t *dims, const float *src,
                       const int64_t *src_s, float *dst, const int64_t *dst_s);

/* --- eltwise / binary --- */
/* Eltwise ids past DNNL_ELT_CLIP (dnnl_py/kernel_abi.py's ELTWISE_ID): the post-ops take
 * them as well as the eltwise primitive. */
enum {
    DNNL_ELT_EXP = 8, DNNL_ELT_LOG, DNNL_ELT_SQRT, DNNL_ELT_SQUARE, DNNL_ELT_ABS,
    DNNL_ELT_POW, DNNL_ELT_SOFT_RELU, DNNL_ELT_HARDSWISH, DNNL_ELT_HARDSIGMOID,
    DNNL_ELT_ELU, DNNL_ELT_ROUND
};
/* Binary ops (kernel_abi.py's BINARY_ID); comparisons give 1.0f or 0.0f. */
enum {
    DNNL_BIN_ADD = 0, DNNL_BIN_SUB, DNNL_BIN_MUL, DNNL_BIN_DIV, DNNL_BIN_MAX, DNNL_BIN_MIN,
    DNNL_BIN_GE, DNNL_BIN_GT, DNNL_BIN_LE, DNNL_BIN_LT, DNNL_BIN_EQ, DNNL_BIN_NE
};

/* An elementwise walk over ndims dims (merged and ordered by Python, innermost last),
 * element strides per operand; a stride of 0 broadcasts (sources only). */
typedef struct {
    int ndims;
    int64_t dims[DNNL_MAX_DIMS];
    int64_t src0_s[DNNL_MAX_DIMS], src1_s[DNNL_MAX_DIMS], dst_s[DNNL_MAX_DIMS];
} dnnl_elementwise_t;

/* dst[x] = post_ops(src[x], dst[x]); the eltwise algorithm is the first post-op (only
 * src0_s and dst_s are read). src may be dst (in place, same strides). */
void dnnl_eltwise_fwd(const dnnl_elementwise_t *p, const float *src, float *dst,
                      const dnnl_post_ops_t *po);
/* dst[x] = post_ops(op(src0[x], src1[x]), dst[x]); src0 may be dst (same strides). */
void dnnl_binary(const dnnl_elementwise_t *p, int op, const float *src0, const float *src1,
                 float *dst, const dnnl_post_ops_t *po);

/* --- pooling / concat --- */
/* Pooling, forward. 1D/2D problems are 3D ones with unit depth/height. Strides are in
 * elements, (n, c, d, h, w); dilation as oneDNN (0 is dense). Every window holds at
 * least one source element (Python checks it). Max propagates NaN. */
enum { DNNL_POOL_MAX = 0, DNNL_POOL_AVG_INCLUDE = 1, DNNL_POOL_AVG_EXCLUDE = 2 };
typedef struct {
    int alg;
    int64_t mb, c, id, ih, iw, od, oh, ow, kd, kh, kw;
    int64_t sd, sh, sw, dd, dh, dw, pd, ph, pw;
    int64_t src_s[5], dst_s[5];
} dnnl_pool_t;
void dnnl_pool_fwd(const dnnl_pool_t *p, const float *src, float *dst);
/* --- softmax / normalization --- */
/* A problem split into parallel points and the reduction at each point (softmax and
 * layer normalization: every row along the reduced axis; batch normalization: every
 * channel over the other dims). Dims are outermost first; element strides per operand:
 * stat_ for mean/variance (parallel dims only), ss_ for scale/shift (0 where they do
 * not vary). Python drops unit parallel dims and checks every extent. */
typedef struct {
    int np, nr;
    int64_t p_dim[DNNL_MAX_DIMS], p_src[DNNL_MAX_DIMS], p_dst[DNNL_MAX_DIMS],
            p_stat[DNNL_MAX_DIMS], p_ss[DNNL_MAX_DIMS];
    int64_t r_dim[DNNL_MAX_DIMS], r_src[DNNL_MAX_DIMS], r_dst[DNNL_MAX_DIMS],
            r_ss[DNNL_MAX_DIMS];
} dnnl_reduce_t;

/* softmax_accurate (log_softmax 0) or softmax_log along the reduction, max subtracted;
 * a NaN anywhere in a row makes the whole row NaN. src may alias dst. */
void dnnl_softmax_fwd(const dnnl_reduce_t *p, int log_softmax, const float *src, float *dst);
/* dst = (src - mean) / sqrt(var + eps) * scale + shift [then max(., 0) when relu].
 * global_stats: mean/var are read; otherwise computed (and written when save_stats).
 * scale/shift may be NULL (1 and 0). src may alias dst. */
void dnnl_norm_fwd(const dnnl_reduce_t *p, float eps, int global_stats, int save_stats,
                   int relu, const float *src, float *mean, float *var, const float *scale,
                   const float *shift, float *dst);

/* --- checksum --- */
/* CRC-32C (Castagnoli) of n bytes, continuing from crc (0 to start): zlib.crc32's
 * convention, with the Castagnoli polynomial. */
uint32_t dnnl_crc32c(uint32_t crc, const unsigned char *data, size_t n);
/* BLAKE3 of n bytes (the plain hash, 32 bytes into out) */
void dnnl_blake3(const unsigned char *data, size_t n, unsigned char out[32]);
/* The digests of a list of buffers, by every thread that calls it (checksum.c) */
enum { DNNL_DIGEST_CRC32C = 0, DNNL_DIGEST_BLAKE3 = 1 };
void dnnl_digest_list(int kind, const unsigned char *const *data, const size_t *size,
                      int64_t count, int64_t *next, unsigned char *out);

/* --- protobuf (proto.c) --- */
/* One field of a message: number, wire type (0 varint, 1 fixed64, 2 length-delimited, 5
 * fixed32), value (the bits; for wire type 2 the offset of its bytes) and length. */
typedef struct {
    uint64_t number, value;
    int64_t length;
    int wire;
} dnnl_proto_field_t;
enum { DNNL_PROTO_BAD_VARINT = -1, DNNL_PROTO_PAST_END = -2, DNNL_PROTO_TRUNCATED = -3,
       DNNL_PROTO_BAD_WIRE = -4 };
/* Up to cap fields of the message buf[*at, end) into out, *at past them: how many.
 * *error is 0, or a DNNL_PROTO_ code where a field is malformed: then out[returned]
 * holds what was read of it (its number and wire type once its tag was read). */
int64_t dnnl_proto_fields(const unsigned char *buf, int64_t *at, int64_t end,
                          dnnl_proto_field_t *out, int64_t cap, int *error);

#endif
