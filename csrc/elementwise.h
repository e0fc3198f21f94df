/* What the eltwise and binary kernels share: the walk over their dims in blocks of one
 * row (the innermost dim, split into BLK pieces), one OpenMP work item each. */
#ifndef DNNL_ELEMENTWISE_H
#define DNNL_ELEMENTWISE_H
#include <stddef.h>
#include "dnnl_kernels.h"

#define ELEMENTWISE_SEG 256   /* values per step: L1-sized segments */
#define ELEMENTWISE_BLK 16384 /* elements per work item at most */

/* Offsets in each operand of row `row` (the index over every dim but the innermost). */
static inline void elementwise_row(const dnnl_elementwise_t *p, int64_t row, int64_t *o0,
                                   int64_t *o1, int64_t *od) {
    int64_t a = 0, b = 0, c = 0;
    for (int d = p->ndims - 2; d >= 0; --d) {
        const int64_t i = row % p->dims[d];
        row /= p->dims[d];
        a += i * p->src0_s[d];
        b += i * p->src1_s[d];
        c += i * p->dst_s[d];
    }
    *o0 = a, *o1 = b, *od = c;
}

static inline int64_t elementwise_rows(const dnnl_elementwise_t *p) {
    int64_t rows = 1;
    for (int d = 0; d < p->ndims - 1; ++d) rows *= p->dims[d];
    return rows;
}
#endif
