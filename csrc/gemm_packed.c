/* A packed single-batch SGEMM for matmul (BLIS / oneDNN brgemm style): the weights in
 * panels of NR columns, k-major inside a panel ([n / NR][k][NR], zero-padded past n), so
 * the micro-kernel reads one contiguous stream of b whatever the weights' strides. A row
 * stride of b that is a multiple of 4 KiB (n = 1024, 3072) otherwise maps a block's rows
 * onto one L1 set. The panels come packed from a reorder (weights created with
 * format_tag.any, as oneDNN's matmul packs them once) or are packed here per call.
 * OpenMP shares out tiles of C (rows x panels); each tile runs the K blocks in turn and
 * its bias and post-ops while it is in L2. AVX-512 only: the 14 x 32 block holds 28
 * accumulators, 2 rows of b and a broadcast in 31 of the 32 zmm. */
#include <stddef.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "dnnl_kernels.h"
#include "isa.h"

#define MAX_OF(a, b) ((a) > (b) ? (a) : (b))
#define VLEN 16
#define NR (2 * VLEN)  /* panel width: two vectors */
#define MR 14          /* most rows per register block */
/* K block: at most KC_MAX, the K blocks near-equal. Each K block reloads the tile's C and
 * copies its a again, so it is long: at KC 128, k = 1024 ran at 0.87x of oneDNN on one
 * thread, at 1024 at 0.97-0.99x. A panel's K block (128 KiB) then lives in L2, not L1; L2
 * feeds the kernel's two vector loads per 28 FMAs fast enough. */
#define KC_MAX 1024
#define MC 56          /* rows per tile: its K block of a (<= 228 KiB) stays in L2 */
#define NC_PANELS 16   /* panels per tile: 512 columns */
typedef float vf __attribute__((vector_size(VLEN * 4), aligned(4)));
#include "fused.h"

int64_t dnnl_gemm_packed_size(int64_t k, int64_t n) {
    return (n + NR - 1) / NR * NR * k;
}

/* Panels [j0 / NR, j1 / NR) of w (k x n, any strides) into `packed`, zeros past n. */
static void pack_panels(int64_t k, int64_t n, const float *w, int64_t ws0, int64_t ws1,
                        int64_t p0, int64_t p1, float *packed) {
    for (int64_t pn = p0; pn < p1; ++pn) {
        float *dst = packed + pn * k * NR;
        const int64_t j0 = pn * NR, cols = DNNL_MIN(NR, n - j0);
        for (int64_t i = 0; i < k; ++i) {
            const float *src = w + i * ws0 + j0 * ws1;
            float *row = dst + i * NR;
            if (ws1 == 1)
                memcpy(row, src, cols * sizeof(float));
            else
                for (int64_t j = 0; j < cols; ++j) row[j] = src[j * ws1];
            for (int64_t j = cols; j < NR; ++j) row[j] = 0.0f;
        }
    }
}

/* out[R, cols] (+)= a[R, kc] . panel[kc, NR]; a's columns sa apart. `first` starts the
 * sums at zero, else at out; `f` (the last K block only) applies the fused post-ops. A
 * partial panel (cols < NR) goes through a stack block so nothing past column `cols` is
 * touched. */
static inline __attribute__((always_inline)) void micro(const int R, const int64_t sa,
        int64_t kc, const float *a, int64_t lda, const float *bp, float *out, int64_t ldo,
        int cols, int first, const fused_t *f) {
    vf acc[MR][2];
    float tmp[MR * NR] __attribute__((aligned(64)));
    float *o = out;
    int64_t ld = ldo;
    if (cols < NR) {
        o = tmp, ld = NR;
        if (!first || (f && f->sum))
            for (int r = 0; r < R; ++r) memcpy(tmp + r * NR, out + r * ldo, cols * sizeof(float));
    }
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
        acc[r][0] = first ? (vf){0} : *(const vf *)(o + r * ld);
        acc[r][1] = first ? (vf){0} : *(const vf *)(o + r * ld + VLEN);
    }
    for (int64_t i = 0; i < kc; ++i) {
        const vf w0 = *(const vf *)(bp + i * NR), w1 = *(const vf *)(bp + i * NR + VLEN);
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r) {
            const float x = a[r * lda + i * sa];
            acc[r][0] += x * w0;
            acc[r][1] += x * w1;
        }
    }
    if (f) {
        if (f->bias) FUSED_BIAS(acc, R, 2, f);
        if (f->sum) {
#pragma GCC unroll 16
            for (int r = 0; r < R; ++r) {
                acc[r][0] += f->scale * *(const vf *)(o + r * ld);
                acc[r][1] += f->scale * *(const vf *)(o + r * ld + VLEN);
            }
        }
        FUSED_ACT(acc, R, 2, f);
    }
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
        *(vf *)(o + r * ld) = acc[r][0];
        *(vf *)(o + r * ld + VLEN) = acc[r][1];
    }
    if (cols < NR)
        for (int r = 0; r < R; ++r) memcpy(out + r * ldo, tmp + r * NR, cols * sizeof(float));
}

/* One instance per row count; a's copy has unit column stride. */
#define CASE(R) case R: micro(R, 1, kc, a, lda, bp, out, ldo, cols, first, f); break;
static inline __attribute__((always_inline)) void micro_rows(int r, int64_t kc,
        const float *a, int64_t lda, const float *bp, float *out, int64_t ldo, int cols,
        int first, const fused_t *f) {
    switch (r) {
        CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6) CASE(7) CASE(8) CASE(9) CASE(10)
        CASE(11) CASE(12) CASE(13) CASE(14)
    }
}
#undef CASE

/* The K block length for k: k over as few blocks as KC_MAX allows, near-equal. */
static int64_t k_block(int64_t k) {
    const int64_t blocks = MAX_OF((k + KC_MAX - 1) / KC_MAX, 1);
    return (k + blocks - 1) / blocks;
}

/* Row stride of a's copy for K blocks of kc: a whole number of cache lines plus one, off
 * the 4 KiB stride whose rows would all map to one L1 set. */
static int64_t abuf_ld(int64_t kc) {
    return (kc + VLEN - 1) / VLEN * VLEN + VLEN;
}

/* The offset in src of GEMM row r: batch-major, rows of a batch m apart (one batch: r
 * times the row stride). */
static inline int64_t src_row(const dnnl_matmul_t *p, int64_t r) {
    int64_t off = r % p->m * p->src_s[0];
    r /= p->m;
    for (int d = p->nbatch - 1; d >= 0 && r; --d) {
        off += r % p->batch[d] * p->src_bs[d];
        r /= p->batch[d];
    }
    return off;
}

/* Whether batch strides bs continue rows rs apart through the batches (batch-major), or
 * with `broadcast` are 0 for them all along with rs. */
static int rows_run_on(const dnnl_matmul_t *p, const int64_t *bs, int64_t rs, int broadcast) {
    int64_t run = p->m * rs;
    for (int d = p->nbatch - 1; d >= 0; --d) {
        if (p->batch[d] == 1) continue;
        if (bs[d] != (broadcast ? 0 : run)) return 0;
        run *= p->batch[d];
    }
    return !broadcast || rs == 0;
}

/* The tile rows [r0, r1) x panels [p0, p1) of c = a . packed, K block by K block; its
 * rows cut into near-equal register blocks of at most MR (128 rows: 10 of 12-13, not
 * 9 of 14 and one of 2, whose block would be load-bound). Each K block of the tile's
 * rows of a is first copied into `abuf`, rows abuf_ld() apart, unless they can be read
 * in place: there, a's rows 4 KiB apart (k = 1024) fell on one L1 set and the tile ran
 * at 0.7x OpenBLAS; copied, a transposed or gathered a is read as fast as a plain one. */
DNNL_MULTIVERSION
static void tile(const dnnl_matmul_t *p, const float *a, const float *packed, int64_t r0,
                 int64_t r1, int64_t p0, int64_t p1, float *out, int64_t ldo, float *abuf,
                 const fused_t *fused) {
    const int64_t k = p->k, n = p->n, sa = p->src_s[1];
    const int64_t rows = r1 - r0, blocks = (rows + MR - 1) / MR, kb = k_block(k);
    /* a's rows are read in place when they are evenly spaced and not 4 KiB apart (see
     * above): the copy cost 2-4% of ResNet-50's 1x1s, most with 64-512 inputs */
    const int64_t lda = p->src_s[0];
    const int in_place = sa == 1 && rows_run_on(p, p->src_bs, lda, 0)
                         && (lda * (int64_t)sizeof(float)) % 4096 != 0;
    const int64_t ldp = in_place ? lda : abuf_ld(kb);
    for (int64_t k0 = 0; k0 < k; k0 += kb) {
        const int64_t kc = DNNL_MIN(kb, k - k0);
        const float *ab = in_place ? a + r0 * lda + k0 : abuf;
        for (int64_t r = 0; r < rows && !in_place; ++r) {
            const float *src = a + src_row(p, r0 + r) + k0 * sa;
            if (sa == 1)
                memcpy(abuf + r * ldp, src, kc * sizeof(float));
            else
                for (int64_t i = 0; i < kc; ++i) abuf[r * ldp + i] = src[i * sa];
        }
        for (int64_t pn = p0; pn < p1; ++pn) {
            const float *bp = packed + pn * k * NR + k0 * NR;
            const int cols = (int)DNNL_MIN(NR, n - pn * NR);
            float bias[NR] __attribute__((aligned(64)));
            fused_t here;
            const fused_t *f = NULL;
            if (fused && k0 + kc == k) {
                here = *fused, f = &here;
                if (fused->bias) {
                    for (int j = 0; j < NR; ++j)
                        bias[j] = j < cols ? fused->bias[(pn * NR + j) * p->bia_s[1]] : 0.0f;
                    here.bias = bias;
                }
            }
            for (int64_t b = 0; b < blocks; ++b) {
                const int64_t lo = rows * b / blocks, hi = rows * (b + 1) / blocks;
                micro_rows((int)(hi - lo), kc, ab + lo * ldp, ldp, bp,
                           out + (lo * ldo) + (pn - p0) * NR, ldo, cols, k0 == 0, f);
            }
        }
    }
}

/* Tiles over rows and panels, enough of them to share out evenly over the threads: a
 * few more, smaller row tiles first (among `threads` consecutive counts one fits), more
 * panel tiles only when m is too short for that. Each panel tile copies its rows of a
 * again, a row tile only rereads the weights (256^3 on 2 threads: 6 x 1 tiles of 43
 * rows, not 5 x 2 of 52 rows and 4 panels). */
static void tiling(int64_t m, int64_t n, int threads, int64_t *row_tiles,
                   int64_t *panel_tiles) {
    const int64_t panels = (n + NR - 1) / NR;
    int64_t rt = (m + MC - 1) / MC, pt = (panels + NC_PANELS - 1) / NC_PANELS;
    for (int64_t more = rt; more < rt + threads && more <= m; ++more)
        if ((more * pt) % threads == 0) {
            rt = more;
            break;
        }
    while ((rt * pt) % threads && pt < panels) ++pt;
    *row_tiles = MAX_OF(rt, 1), *panel_tiles = MAX_OF(pt, 1);
}

static int64_t tile_cols(int64_t n, int64_t panel_tiles) {
    const int64_t panels = (n + NR - 1) / NR;
    return (panels + panel_tiles - 1) / panel_tiles * NR;
}

/* The GEMM's rows: every batch's. */
static int64_t gemm_rows(const dnnl_matmul_t *p) {
    int64_t m = p->m;
    for (int d = 0; d < p->nbatch; ++d) m *= p->batch[d];
    return m;
}

int64_t dnnl_matmul_packed_scratch_size(const dnnl_matmul_t *p, int prepacked, int has_sum,
                                        int threads) {
    int64_t rt, pt;
    const int64_t m = gemm_rows(p);
    tiling(m, p->n, threads, &rt, &pt);
    const int64_t acc = has_sum ? (m + rt - 1) / rt * tile_cols(p->n, pt) : 0;
    const int64_t abuf = (m + rt - 1) / rt * abuf_ld(k_block(p->k));
    return (prepacked ? 0 : dnnl_gemm_packed_size(p->k, p->n)) + threads * (acc + abuf);
}

/* The batches are one GEMM of batch * m rows: the weights shared by all of them, dst's
 * rows (and a bias's that varies by row) running on from batch to batch. src's rows
 * may lie anywhere (a strided 1x1 convolution's pixels). */
int dnnl_matmul_packed_supported(const dnnl_matmul_t *p) {
    for (int d = 0; d < p->nbatch; ++d)
        if (p->batch[d] != 1 && p->wei_bs[d] != 0) return 0;
    const int bias_ok = rows_run_on(p, p->bia_bs, p->bia_s[0], 1) ||
                        rows_run_on(p, p->bia_bs, p->bia_s[0], 0);
    return p->dst_s[1] == 1 && p->k > 0 && rows_run_on(p, p->dst_bs, p->dst_s[0], 0) &&
           bias_ok;
}


/* Whether the bias and post-ops are the register blocks' (fused_t), filling f: a sum
 * only in one K block (over several, the partial sums lie in dst). */
static int fusable(const dnnl_matmul_t *p, const float *bias, const dnnl_post_ops_t *po,
                   fused_t *f) {
    if (bias && !rows_run_on(p, p->bia_bs, p->bia_s[0], 1)) return 0;
    return fused_from(bias, po, k_block(p->k) >= p->k, f);
}

int dnnl_matmul_packed(const dnnl_matmul_t *p, int prepacked, int threads, const float *src,
                       const float *wei, const float *bias, float *dst,
                       const dnnl_post_ops_t *po, float *scratch) {
    if (!dnnl_matmul_packed_supported(p)) return -1;
    const int64_t m = gemm_rows(p), n = p->n, k = p->k;
    if (m == 0 || n == 0) return 0;
    fused_t fused;
    const int in_registers = fusable(p, bias, po, &fused);
    const int has_sum = !in_registers && dnnl_post_ops_have_sum(po);
    int64_t rt, pt;
    threads = MAX_OF(threads, 1);
    tiling(m, n, threads, &rt, &pt);
    const int64_t panels = (n + NR - 1) / NR, tcols = tile_cols(n, pt);
    const int64_t trows = (m + rt - 1) / rt, tiles = rt * pt, ldp = abuf_ld(k_block(k));
    float *packed = prepacked ? (float *)wei : scratch;
    float *accs = scratch + (prepacked ? 0 : dnnl_gemm_packed_size(k, n));
    int team = (int)DNNL_MIN(threads, MAX_OF(tiles, prepacked ? 1 : panels));
#ifdef _OPENMP
    if (omp_in_parallel()) team = 1;
#endif
#pragma omp parallel num_threads(team) if (team > 1)
    {
        int t = 0;
#ifdef _OPENMP
        t = omp_get_thread_num();
#endif
        if (!prepacked) {
#pragma omp for schedule(static)
            for (int64_t pn = 0; pn < panels; ++pn)
                pack_panels(k, n, wei, p->wei_s[0], p->wei_s[1], pn, pn + 1, packed);
        }
        const int64_t acc_size = has_sum ? trows * tcols : 0, abuf_size = trows * ldp;
        float *acc = accs + t * (acc_size + abuf_size), *abuf = acc + acc_size;
#pragma omp for schedule(static)
        for (int64_t i = 0; i < tiles; ++i) {
            const int64_t r0 = i / pt * trows, r1 = DNNL_MIN(m, r0 + trows);
            const int64_t c0 = i % pt * tcols, c1 = DNNL_MIN(n, c0 + tcols);
            if (r0 >= r1 || c0 >= c1) continue;
            float *c = dst + r0 * p->dst_s[0] + c0;
            float *out = has_sum ? acc : c;
            const int64_t ldo = has_sum ? tcols : p->dst_s[0];
            tile(p, src, packed, r0, r1, c0 / NR, (c1 + NR - 1) / NR, out, ldo, abuf,
                 in_registers ? &fused : NULL);
            if (in_registers) continue;
            /* a partial panel wrote only its valid columns; rows of `out` past c1 - c0
             * (the sum's scratch) are never read */
            dnnl_epilogue(r1 - r0, c1 - c0, out, ldo, c, p->dst_s[0],
                          bias ? bias + r0 * p->bia_s[0] + c0 * p->bia_s[1] : NULL,
                          p->bia_s[0], p->bia_s[1], po);
        }
    }
    return 0;
}
