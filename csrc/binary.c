/* The binary primitive: dst = op(src0, src1) with src1 broadcast through zero strides,
 * then the post-ops (the epilogue's loops). One vectorised loop per op. */
#include "binary_op.h"
#include "elementwise.h"
#include "isa.h"

DNNL_MULTIVERSION
static void binary_run(int op, int64_t n, const float *src0, int64_t s0, const float *src1,
                       int64_t s1, float *dst, int64_t ds, const dnnl_post_ops_t *po) {
    float a[ELEMENTWISE_SEG], b[ELEMENTWISE_SEG], v[ELEMENTWISE_SEG], old[ELEMENTWISE_SEG];
    for (int64_t c0 = 0; c0 < n; c0 += ELEMENTWISE_SEG) {
        const int64_t m = DNNL_MIN(ELEMENTWISE_SEG, n - c0);
        const float *pa = src0 + c0 * s0, *pb = src1 + c0 * s1;
        float *d = dst + c0 * ds;
        if (s0 != 1) {
            for (int64_t i = 0; i < m; ++i) a[i] = pa[i * s0];
            pa = a;
        }
        if (s1 != 1 && s1 != 0) {
            for (int64_t i = 0; i < m; ++i) b[i] = pb[i * s1];
            pb = b;
        }
        /* straight into dst when nothing follows (src0 == dst reads first) */
        float *out = ds == 1 && po->len == 0 ? d : v;
        if (s1 == 0)
            binary_segment(op, m, pa, pb, 0, out);
        else
            binary_segment(op, m, pa, pb, 1, out);
        if (ds == 1 && po->len != 0) {
            dnnl_epilogue_row(m, v, d, NULL, 0, po);
        } else if (ds != 1) {
            for (int64_t i = 0; i < m; ++i) old[i] = d[i * ds];
            dnnl_epilogue_row(m, v, old, NULL, 0, po);
            for (int64_t i = 0; i < m; ++i) d[i * ds] = old[i];
        }
    }
}

void dnnl_binary(const dnnl_elementwise_t *p, int op, const float *src0, const float *src1,
                 float *dst, const dnnl_post_ops_t *po) {
    const int nd = p->ndims;
    const int64_t inner = p->dims[nd - 1], rows = elementwise_rows(p);
    const int64_t nblk = (inner + ELEMENTWISE_BLK - 1) / ELEMENTWISE_BLK;
    const int64_t s0 = p->src0_s[nd - 1], s1 = p->src1_s[nd - 1], ds = p->dst_s[nd - 1];
#pragma omp parallel for schedule(static) if (rows * inner > 32768)
    for (int64_t it = 0; it < rows * nblk; ++it) {
        const int64_t row = it / nblk, c0 = (it % nblk) * ELEMENTWISE_BLK;
        int64_t o0, o1, od;
        elementwise_row(p, row, &o0, &o1, &od);
        binary_run(op, DNNL_MIN(ELEMENTWISE_BLK, inner - c0), src0 + o0 + c0 * s0, s0,
                   src1 + o1 + c0 * s1, s1, dst + od + c0 * ds, ds, po);
    }
}
