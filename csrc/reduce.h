/* Walking a dnnl_reduce_t (dnnl_kernels.h): the offsets of a parallel point, and of the
 * start of each run along the innermost reduced dim. Divisions per point and per run,
 * not per element: the innermost run is a plain strided loop the compiler vectorises. */
#ifndef DNNL_REDUCE_H
#define DNNL_REDUCE_H
#include "dnnl_kernels.h"

typedef struct { int64_t src, dst, stat, ss; } dnnl_reduce_off_t;

static inline int64_t dnnl_reduce_points(const dnnl_reduce_t *p) {
    int64_t n = 1;
    for (int k = 0; k < p->np; ++k) n *= p->p_dim[k];
    return n;
}

/* Runs along the innermost reduced dim (the product of the other reduced dims). */
static inline int64_t dnnl_reduce_runs(const dnnl_reduce_t *p) {
    int64_t n = 1;
    for (int k = 0; k < p->nr - 1; ++k) n *= p->r_dim[k];
    return n;
}

static inline dnnl_reduce_off_t dnnl_reduce_point(const dnnl_reduce_t *p, int64_t i) {
    dnnl_reduce_off_t o = {0, 0, 0, 0};
    for (int k = p->np - 1; k >= 0; --k) {
        const int64_t x = i % p->p_dim[k];
        i /= p->p_dim[k];
        o.src += x * p->p_src[k];
        o.dst += x * p->p_dst[k];
        o.stat += x * p->p_stat[k];
        o.ss += x * p->p_ss[k];
    }
    return o;
}

/* Whether to walk lanes: the innermost parallel dim is contiguous in src and dst while
 * the innermost reduced dim is not (softmax over a channel axis, batch normalization in
 * nhwc), and scale/shift do not vary along the reduction. Then a block of adjacent points
 * is carried along the reduction together, each step one contiguous vector, where a walk
 * point by point would load one float per cache line. */
static inline int dnnl_reduce_lanes(const dnnl_reduce_t *p) {
    if (p->np == 0 || p->p_src[p->np - 1] != 1 || p->p_dst[p->np - 1] != 1
        || p->p_dim[p->np - 1] < 2 || p->r_src[p->nr - 1] == 1)
        return 0;
    for (int k = 0; k < p->nr; ++k)
        if (p->r_ss[k] != 0) return 0;
    return 1;
}

/* Offsets of run j, added to a point's (stat unused). */
static inline dnnl_reduce_off_t dnnl_reduce_run(const dnnl_reduce_t *p, dnnl_reduce_off_t o,
                                                int64_t j) {
    for (int k = p->nr - 2; k >= 0; --k) {
        const int64_t x = j % p->r_dim[k];
        j /= p->r_dim[k];
        o.src += x * p->r_src[k];
        o.dst += x * p->r_dst[k];
        o.ss += x * p->r_ss[k];
    }
    return o;
}
#endif
