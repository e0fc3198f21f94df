/* The eltwise primitive: the algorithm is the first of the post-ops, so the epilogue's
 * vectorised loops (epilogue.c) compute it; strided operands go through a segment copy. */
#include "elementwise.h"
#include "isa.h"

DNNL_MULTIVERSION
static void eltwise_run(int64_t n, const float *src, int64_t ss, float *dst, int64_t ds,
                        const dnnl_post_ops_t *po) {
    if (ss == 1 && ds == 1) { /* src == dst is fine: a segment is read before it is written */
        dnnl_epilogue_row(n, src, dst, NULL, 0, po);
        return;
    }
    float a[ELEMENTWISE_SEG], old[ELEMENTWISE_SEG];
    for (int64_t c0 = 0; c0 < n; c0 += ELEMENTWISE_SEG) {
        const int64_t m = DNNL_MIN(ELEMENTWISE_SEG, n - c0);
        const float *s = src + c0 * ss;
        float *d = dst + c0 * ds;
        for (int64_t i = 0; i < m; ++i) a[i] = s[i * ss];
        for (int64_t i = 0; i < m; ++i) old[i] = d[i * ds];
        dnnl_epilogue_row(m, a, old, NULL, 0, po);
        for (int64_t i = 0; i < m; ++i) d[i * ds] = old[i];
    }
}

void dnnl_eltwise_fwd(const dnnl_elementwise_t *p, const float *src, float *dst,
                      const dnnl_post_ops_t *po) {
    const int nd = p->ndims;
    const int64_t inner = p->dims[nd - 1], rows = elementwise_rows(p);
    const int64_t nblk = (inner + ELEMENTWISE_BLK - 1) / ELEMENTWISE_BLK;
    const int64_t ss = p->src0_s[nd - 1], ds = p->dst_s[nd - 1];
#pragma omp parallel for schedule(static) if (rows * inner > 32768)
    for (int64_t it = 0; it < rows * nblk; ++it) {
        const int64_t row = it / nblk, c0 = (it % nblk) * ELEMENTWISE_BLK;
        int64_t o0, o1, od;
        elementwise_row(p, row, &o0, &o1, &od);
        eltwise_run(DNNL_MIN(ELEMENTWISE_BLK, inner - c0), src + o0 + c0 * ss, ss,
                    dst + od + c0 * ds, ds, po);
    }
}
