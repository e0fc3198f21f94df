/* Batched matmul with broadcast: BLAS per batch and row chunk, or the reference. */
#include <stddef.h>
#include "dnnl_kernels.h"


/* Offset of batch index b (flattened over p->batch) along the given batch strides. */
static int64_t batch_offset(const dnnl_matmul_t *p, int64_t b, const int64_t *strides) {
    int64_t off = 0;
    for (int d = p->nbatch - 1; d >= 0; --d) {
        off += (b % p->batch[d]) * strides[d];
        b /= p->batch[d];
    }
    return off;
}

static int64_t batch_count(const dnnl_matmul_t *p) {
    int64_t nb = 1;
    for (int d = 0; d < p->nbatch; ++d) nb *= p->batch[d];
    return nb;
}

int64_t dnnl_matmul_gemm_scratch_size(const dnnl_matmul_t *p, int64_t rows_per_chunk,
                                      int has_sum) {
    return has_sum ? DNNL_MIN(rows_per_chunk, p->m) * p->n : 0;
}

/* BLAS takes an operand whose rows or columns are contiguous (Python checks it). */
int dnnl_matmul_gemm(const dnnl_matmul_t *p, int64_t rows_per_chunk, const float *src,
                     const float *wei, const float *bias, float *dst,
                     const dnnl_post_ops_t *po, float *scratch) {
    const int trans_a = p->src_s[1] != 1, trans_b = p->wei_s[1] != 1;
    const int64_t lda = trans_a ? p->src_s[1] : p->src_s[0];
    const int64_t ldb = trans_b ? p->wei_s[1] : p->wei_s[0];
    const int has_sum = dnnl_post_ops_have_sum(po);
    const int64_t nb = batch_count(p);
    for (int64_t b = 0; b < nb; ++b) {
        const float *a = src + batch_offset(p, b, p->src_bs);
        const float *w = wei + batch_offset(p, b, p->wei_bs);
        float *c = dst + batch_offset(p, b, p->dst_bs);
        const float *bia = bias ? bias + batch_offset(p, b, p->bia_bs) : NULL;
        for (int64_t r0 = 0; r0 < p->m; r0 += rows_per_chunk) {
            const int64_t nr = DNNL_MIN(rows_per_chunk, p->m - r0);
            float *c_t = c + r0 * p->dst_s[0];
            float *out = has_sum ? scratch : c_t;
            const int64_t ldo = has_sum ? p->n : p->dst_s[0];
            if (dnnl_sgemm_rm(trans_a, trans_b, nr, p->n, p->k, a + r0 * p->src_s[0], lda, w,
                              ldb, 0.0f, out, ldo))
                return -1;
            dnnl_epilogue(nr, p->n, out, ldo, c_t, p->dst_s[0],
                          bia ? bia + r0 * p->bia_s[0] : NULL, p->bia_s[0], p->bia_s[1], po);
        }
    }
    return 0;
}

void dnnl_matmul_ref(const dnnl_matmul_t *p, const float *src, const float *wei,
                     const float *bias, float *dst, const dnnl_post_ops_t *po) {
    const int64_t nb = batch_count(p);
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t b = 0; b < nb; ++b)
        for (int64_t m = 0; m < p->m; ++m) {
            const float *a = src + batch_offset(p, b, p->src_bs) + m * p->src_s[0];
            const float *w = wei + batch_offset(p, b, p->wei_bs);
            float *c = dst + batch_offset(p, b, p->dst_bs) + m * p->dst_s[0];
            const float *bia = bias ? bias + batch_offset(p, b, p->bia_bs) + m * p->bia_s[0] : NULL;
            for (int64_t n = 0; n < p->n; ++n) {
                float acc = bia ? bia[n * p->bia_s[1]] : 0.0f;
                for (int64_t k = 0; k < p->k; ++k)
                    acc += a[k * p->src_s[1]] * w[k * p->wei_s[0] + n * p->wei_s[1]];
                c[n * p->dst_s[1]] = dnnl_post_ops_scalar(acc, c + n * p->dst_s[1], po);
            }
        }
}
