/* Batched matmul with broadcast: BLAS per batch and row chunk (one batch after another,
 * or all tiles in one parallel loop), or the reference. */
#include <stddef.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "dnnl_kernels.h"
#include "isa.h"


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

static int gemm_refuses(const dnnl_matmul_t *p, int64_t nr, int has_sum) {
    const int trans_a = p->src_s[1] != 1, trans_b = p->wei_s[1] != 1;
    return dnnl_sgemm_rm_refuses(trans_a, trans_b, nr, p->n, p->k,
                                 trans_a ? p->src_s[1] : p->src_s[0],
                                 trans_b ? p->wei_s[1] : p->wei_s[0],
                                 has_sum ? p->n : p->dst_s[0]);
}

#define VLEN 16
typedef float vf __attribute__((vector_size(VLEN * 4), aligned(4)));
#include "micro_gemm.h"

/* micro_gemm for the batched path, one clone per ISA. */
DNNL_MULTIVERSION
static void batched_micro_gemm(int64_t m, int64_t n, int64_t k, const float *a,
                               int64_t lda, int64_t sa, const float *b, int64_t ldb,
                               float *c, int64_t ldc) {
    micro_gemm(m, n, k, a, lda, sa, b, ldb, c, ldc);
}

/* Rows [r0, r0 + nr) of batch b: one BLAS call, then bias and post-ops while the tile is
 * in cache. With a sum post-op the GEMM writes `acc` (nr x n floats) first. BLAS takes
 * an operand whose rows or columns are contiguous (Python checks it). */
static int gemm_tile(const dnnl_matmul_t *p, int64_t b, int64_t r0, int64_t nr, int micro,
                     const float *src, const float *wei, const float *bias, float *dst,
                     const dnnl_post_ops_t *po, float *acc) {
    const int trans_a = p->src_s[1] != 1, trans_b = p->wei_s[1] != 1;
    const int64_t lda = trans_a ? p->src_s[1] : p->src_s[0];
    const int64_t ldb = trans_b ? p->wei_s[1] : p->wei_s[0];
    const float *a = src + batch_offset(p, b, p->src_bs) + r0 * p->src_s[0];
    const float *w = wei + batch_offset(p, b, p->wei_bs);
    float *c = dst + batch_offset(p, b, p->dst_bs) + r0 * p->dst_s[0];
    const float *bia = bias ? bias + batch_offset(p, b, p->bia_bs) + r0 * p->bia_s[0] : NULL;
    float *out = acc ? acc : c;
    const int64_t ldo = acc ? p->n : p->dst_s[0];
    if (micro)
        batched_micro_gemm(nr, p->n, p->k, a, p->src_s[0], p->src_s[1], w, p->wei_s[0], out,
                           ldo);
    else if (dnnl_sgemm_rm(trans_a, trans_b, nr, p->n, p->k, a, lda, w, ldb, 0.0f, out, ldo))
        return -1;
    dnnl_epilogue(nr, p->n, out, ldo, c, p->dst_s[0], bia, p->bia_s[0], p->bia_s[1], po);
    return 0;
}

int dnnl_matmul_gemm(const dnnl_matmul_t *p, int64_t rows_per_chunk, const float *src,
                     const float *wei, const float *bias, float *dst,
                     const dnnl_post_ops_t *po, float *scratch) {
    float *acc = dnnl_post_ops_have_sum(po) ? scratch : NULL;
    const int64_t nb = batch_count(p);
    for (int64_t b = 0; b < nb; ++b)
        for (int64_t r0 = 0; r0 < p->m; r0 += rows_per_chunk)
            if (gemm_tile(p, b, r0, DNNL_MIN(rows_per_chunk, p->m - r0), 0, src, wei, bias,
                          dst, po, acc))
                return -1;
    return 0;
}

int dnnl_matmul_micro_supported(const dnnl_matmul_t *p) {
    return p->n % VLEN == 0 && p->wei_s[1] == 1 && p->dst_s[1] == 1;
}

int64_t dnnl_matmul_batched_scratch_size(const dnnl_matmul_t *p, int64_t rows_per_chunk,
                                         int has_sum, int threads) {
    return threads * dnnl_matmul_gemm_scratch_size(p, rows_per_chunk, has_sum);
}

/* One parallel loop over (batch, row chunk) tiles, a single-threaded GEMM each (inside
 * the region dnnl_sgemm_rm does not split), instead of a team started and joined per
 * batch. A refusal is decided before any tile writes dst. */
int dnnl_matmul_gemm_batched(const dnnl_matmul_t *p, int64_t rows_per_chunk, int threads,
                             int micro, const float *src, const float *wei, const float *bias,
                             float *dst, const dnnl_post_ops_t *po, float *scratch) {
    const int has_sum = dnnl_post_ops_have_sum(po);
    if (micro ? !dnnl_matmul_micro_supported(p)
              : gemm_refuses(p, DNNL_MIN(rows_per_chunk, p->m), has_sum))
        return -1;
    const int64_t chunks = (p->m + rows_per_chunk - 1) / rows_per_chunk;
    const int64_t tiles = batch_count(p) * chunks, acc_size = rows_per_chunk * p->n;
    if (tiles == 0) return 0;
    threads = (int)DNNL_MIN(threads, tiles);
#pragma omp parallel num_threads(threads) if (threads > 1)
    {
        int t = 0;
#ifdef _OPENMP
        t = omp_get_thread_num();
#endif
        float *acc = has_sum ? scratch + t * acc_size : NULL;
#pragma omp for schedule(static)
        for (int64_t i = 0; i < tiles; ++i) {
            const int64_t r0 = i % chunks * rows_per_chunk;
            gemm_tile(p, i / chunks, r0, DNNL_MIN(rows_per_chunk, p->m - r0), micro, src, wei,
                      bias, dst, po, acc);
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
