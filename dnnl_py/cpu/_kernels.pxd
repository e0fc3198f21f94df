# Declarations of the C kernels in csrc/ (see csrc/dnnl_kernels.h for their contracts).
from libc.stdint cimport int64_t, uint32_t, uint64_t

cdef extern from "dnnl_kernels.h" nogil:
    enum: DNNL_MAX_POST_OPS
    enum: DNNL_CONV_STREAM_BYTES
    enum: DNNL_WINO_TILE_BLOCK
    enum: DNNL_MAX_DIMS
    enum: DNNL_PO_ELTWISE, DNNL_PO_SUM, DNNL_PO_BINARY
    enum: DNNL_ELT_RELU, DNNL_ELT_GELU_TANH, DNNL_ELT_GELU_ERF, DNNL_ELT_TANH
    enum: DNNL_ELT_LOGISTIC, DNNL_ELT_SWISH, DNNL_ELT_LINEAR, DNNL_ELT_CLIP
    ctypedef struct dnnl_post_op_t:
        int kind, alg
        float alpha, beta, scale
        const float *src1
        int ndims
        int64_t dims[DNNL_MAX_DIMS]
        int64_t dst_s[DNNL_MAX_DIMS]
        int64_t src1_s[DNNL_MAX_DIMS]
    ctypedef struct dnnl_post_ops_t:
        int len
        const float *dst
        dnnl_post_op_t ops[DNNL_MAX_POST_OPS]
    const char *dnnl_blas_config()
    int dnnl_blas_threads()
    int dnnl_cpu_isa()
    int dnnl_max_threads()
    int dnnl_post_ops_have_sum(const dnnl_post_ops_t *po)

    ctypedef struct dnnl_conv_t:
        int64_t mb, g, ic, oc
        int64_t id, ih, iw, od, oh, ow, kd, kh, kw
        int64_t sd, sh, sw, dd, dh, dw
        int64_t pd, ph, pw
        int64_t src_s[5]
        int64_t wei_s[6]
        int64_t dst_s[5]
    int64_t dnnl_conv_gemm_scratch_size(const dnnl_conv_t *p, int channels_last,
                                        int64_t rows_per_chunk, int has_sum)
    int dnnl_conv_gemm(const dnnl_conv_t *p, int channels_last, int64_t rows_per_chunk,
                       const float *src, const float *wei, const float *bias, float *dst,
                       const dnnl_post_ops_t *po, float *scratch)
    int dnnl_conv_direct_supported(const dnnl_conv_t *p)
    int64_t dnnl_conv_direct_scratch_size(const dnnl_conv_t *p)
    void dnnl_conv_direct(const dnnl_conv_t *p, const float *src, const float *wei,
                          const float *bias, float *dst, const dnnl_post_ops_t *po,
                          int64_t ocw, int64_t kc,
                          float *scratch)
    int dnnl_conv_wino_supported(const dnnl_conv_t *p)
    int64_t dnnl_conv_wino_scratch_size(const dnnl_conv_t *p, int threads, int transformed)
    void dnnl_conv_wino(const dnnl_conv_t *p, const float *src, const float *wei,
                        const float *bias, float *dst, const dnnl_post_ops_t *po,
                        int threads, float *scratch, int transformed)
    void dnnl_conv_wino_weights(const dnnl_conv_t *p, const float *wei, float *u,
                                int threads)
    void dnnl_conv_dw(const dnnl_conv_t *p, const float *src, const float *wei,
                      const float *bias, float *dst, const dnnl_post_ops_t *po)
    void dnnl_conv_ref(const dnnl_conv_t *p, const float *src, const float *wei,
                       const float *bias, float *dst, const dnnl_post_ops_t *po)

    ctypedef struct dnnl_matmul_t:
        int nbatch
        int64_t batch[DNNL_MAX_DIMS]
        int64_t m, n, k
        int64_t src_bs[DNNL_MAX_DIMS]
        int64_t wei_bs[DNNL_MAX_DIMS]
        int64_t dst_bs[DNNL_MAX_DIMS]
        int64_t bia_bs[DNNL_MAX_DIMS]
        int64_t src_s[2]
        int64_t wei_s[2]
        int64_t dst_s[2]
        int64_t bia_s[2]
    int64_t dnnl_matmul_gemm_scratch_size(const dnnl_matmul_t *p, int64_t rows_per_chunk,
                                          int has_sum)
    int dnnl_matmul_gemm(const dnnl_matmul_t *p, int64_t rows_per_chunk, const float *src,
                         const float *wei, const float *bias, float *dst,
                         const dnnl_post_ops_t *po, float *scratch)
    int64_t dnnl_matmul_batched_scratch_size(const dnnl_matmul_t *p, int64_t rows_per_chunk,
                                             int has_sum, int threads)
    int dnnl_matmul_micro_supported(const dnnl_matmul_t *p)
    int dnnl_matmul_gemm_batched(const dnnl_matmul_t *p, int64_t rows_per_chunk, int threads,
                                 int micro, const float *src, const float *wei, const float *bias,
                                 float *dst, const dnnl_post_ops_t *po, float *scratch)
    void dnnl_matmul_ref(const dnnl_matmul_t *p, const float *src, const float *wei,
                         const float *bias, float *dst, const dnnl_post_ops_t *po)
    int64_t dnnl_gemm_packed_size(int64_t k, int64_t n)
    int dnnl_matmul_packed_supported(const dnnl_matmul_t *p)
    int64_t dnnl_matmul_packed_scratch_size(const dnnl_matmul_t *p, int prepacked, int has_sum,
                                            int threads)
    int dnnl_matmul_packed(const dnnl_matmul_t *p, int prepacked, int threads, const float *src,
                           const float *wei, const float *bias, float *dst,
                           const dnnl_post_ops_t *po, float *scratch)

    void dnnl_copy_strided(int ndims, const int64_t *dims, const float *src,
                           const int64_t *src_s, float *dst, const int64_t *dst_s)
    void dnnl_epilogue(int64_t rows, int64_t cols, const float *acc, int64_t ld_acc,
                       float *dst, int64_t ld_dst, const float *bias, int64_t bias_rs,
                       int64_t bias_cs, const dnnl_post_ops_t *po)

    # --- eltwise / binary ---
    enum: DNNL_ELT_EXP, DNNL_ELT_LOG, DNNL_ELT_SQRT, DNNL_ELT_SQUARE, DNNL_ELT_ABS
    enum: DNNL_ELT_POW, DNNL_ELT_SOFT_RELU, DNNL_ELT_HARDSWISH, DNNL_ELT_HARDSIGMOID
    enum: DNNL_ELT_ELU, DNNL_ELT_ROUND
    enum: DNNL_BIN_ADD, DNNL_BIN_SUB, DNNL_BIN_MUL, DNNL_BIN_DIV, DNNL_BIN_MAX, DNNL_BIN_MIN
    enum: DNNL_BIN_GE, DNNL_BIN_GT, DNNL_BIN_LE, DNNL_BIN_LT, DNNL_BIN_EQ, DNNL_BIN_NE
    ctypedef struct dnnl_elementwise_t:
        int ndims
        int64_t dims[DNNL_MAX_DIMS]
        int64_t src0_s[DNNL_MAX_DIMS]
        int64_t src1_s[DNNL_MAX_DIMS]
        int64_t dst_s[DNNL_MAX_DIMS]
    void dnnl_eltwise_fwd(const dnnl_elementwise_t *p, const float *src, float *dst,
                          const dnnl_post_ops_t *po)
    void dnnl_binary(const dnnl_elementwise_t *p, int op, const float *src0, const float *src1,
                     float *dst, const dnnl_post_ops_t *po)

# --- pooling / concat ---
cdef extern from "dnnl_kernels.h" nogil:
    enum: DNNL_POOL_MAX, DNNL_POOL_AVG_INCLUDE, DNNL_POOL_AVG_EXCLUDE
    ctypedef struct dnnl_pool_t:
        int alg
        int64_t mb, c, id, ih, iw, od, oh, ow, kd, kh, kw
        int64_t sd, sh, sw, dd, dh, dw, pd, ph, pw
        int64_t src_s[5]
        int64_t dst_s[5]
    void dnnl_pool_fwd(const dnnl_pool_t *p, const float *src, float *dst)
    # --- softmax / normalization ---
    ctypedef struct dnnl_reduce_t:
        int np, nr
        int64_t p_dim[DNNL_MAX_DIMS]
        int64_t p_src[DNNL_MAX_DIMS]
        int64_t p_dst[DNNL_MAX_DIMS]
        int64_t p_stat[DNNL_MAX_DIMS]
        int64_t p_ss[DNNL_MAX_DIMS]
        int64_t r_dim[DNNL_MAX_DIMS]
        int64_t r_src[DNNL_MAX_DIMS]
        int64_t r_dst[DNNL_MAX_DIMS]
        int64_t r_ss[DNNL_MAX_DIMS]
    void dnnl_softmax_fwd(const dnnl_reduce_t *p, int log_softmax, const float *src,
                          float *dst)
    void dnnl_norm_fwd(const dnnl_reduce_t *p, float eps, int global_stats, int save_stats,
                       int relu, const float *src, float *mean, float *var,
                       const float *scale, const float *shift, float *dst)
    uint32_t dnnl_crc32c(uint32_t crc, const unsigned char *data, size_t n)
    void dnnl_blake3(const unsigned char *data, size_t n, unsigned char *out)
    enum:
        DNNL_DIGEST_CRC32C
        DNNL_DIGEST_BLAKE3
    void dnnl_digest_list(int kind, const unsigned char *const *data, const size_t *size,
                          int64_t count, int64_t *next, unsigned char *out)
    ctypedef struct dnnl_proto_field_t:
        uint64_t number, value
        int64_t length
        int wire
    enum:
        DNNL_PROTO_BAD_VARINT
        DNNL_PROTO_PAST_END
        DNNL_PROTO_TRUNCATED
        DNNL_PROTO_BAD_WIRE
    int64_t dnnl_proto_fields(const unsigned char *buf, int64_t *at, int64_t end,
                              dnnl_proto_field_t *out, int64_t cap, int *error)
