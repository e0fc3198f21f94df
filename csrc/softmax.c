/* Softmax forward along one axis of any strided layout (dnnl_reduce_t: one parallel point
 * per row). Passes over a row: its maximum; exp(x - max), summed (and, for
 * softmax_accurate, stored in dst); the output. Subtracting the maximum keeps exp() in
 * range for any finite input. exp is eltwise.h's polynomial (~2 ulp, vectorisable; 0
 * below the float range, where the polynomial clamps). The sum is accumulated in double,
 * in LANES independent partial sums that the compiler vectorises: a float sum of n terms
 * in [0, 1] loses ~n * 2^-24 relative in the worst case, the double one nothing visible
 * after rounding to float. */
#include <math.h>
#include <stddef.h>
#include "dnnl_kernels.h"
#include "eltwise.h"
#include "isa.h"
#include "reduce.h"

#define LANES 16

static inline float softmax_exp(float x) {
    return x < -87.0f ? 0.0f : exp_f(x);  /* a NaN compares false: exp_f keeps it */
}

/* The maximum of mx and s[0..n) (unit stride); a NaN never wins a comparison, but
 * exp(NaN - max) later makes the sum and so the whole row NaN. */
DNNL_MULTIVERSION
static float run_max(const float *s, int64_t n, int64_t ss, float mx) {
    if (ss != 1) {
        for (int64_t k = 0; k < n; ++k) mx = s[k * ss] > mx ? s[k * ss] : mx;
        return mx;
    }
    float m[LANES];
    for (int l = 0; l < LANES; ++l) m[l] = mx;
    int64_t k = 0;
    for (; k + LANES <= n; k += LANES)
        for (int l = 0; l < LANES; ++l) m[l] = s[k + l] > m[l] ? s[k + l] : m[l];
    for (; k < n; ++k) mx = s[k] > mx ? s[k] : mx;
    for (int l = 0; l < LANES; ++l) mx = m[l] > mx ? m[l] : mx;
    return mx;
}

/* sum of exp(s[k] - mx), each also stored to d[k * ds] when d is not NULL (d may be s). */
DNNL_MULTIVERSION
static double run_exp_sum(const float *s, int64_t n, int64_t ss, float mx, float *d,
                          int64_t ds) {
    double acc[LANES] = {0};
    int64_t k = 0;
    if (ss == 1 && (d == NULL || ds == 1)) {
        if (d)
            for (; k + LANES <= n; k += LANES)
                for (int l = 0; l < LANES; ++l) {
                    const float e = softmax_exp(s[k + l] - mx);
                    d[k + l] = e;
                    acc[l] += e;
                }
        else
            for (; k + LANES <= n; k += LANES)
                for (int l = 0; l < LANES; ++l) acc[l] += softmax_exp(s[k + l] - mx);
    }
    double sum = 0.0;
    for (; k < n; ++k) {
        const float e = softmax_exp(s[k * ss] - mx);
        if (d) d[k * ds] = e;
        sum += e;
    }
    for (int l = 0; l < LANES; ++l) sum += acc[l];
    return sum;
}

DNNL_MULTIVERSION
static void run_scale(float *d, int64_t n, int64_t ds, float inv) {
    for (int64_t k = 0; k < n; ++k) d[k * ds] *= inv;
}

/* (x - max) - log(sum), not x - (max + log(sum)): near FLT_MAX the latter rounds the
 * log away. */
DNNL_MULTIVERSION
static void run_log(const float *s, int64_t n, int64_t ss, float mx, float lse, float *d,
                    int64_t ds) {
    for (int64_t k = 0; k < n; ++k) d[k * ds] = (s[k * ss] - mx) - lse;
}

void dnnl_softmax_fwd(const dnnl_reduce_t *p, int log_softmax, const float *src, float *dst) {
    const int64_t points = dnnl_reduce_points(p), runs = dnnl_reduce_runs(p);
    const int64_t n = p->r_dim[p->nr - 1], ss = p->r_src[p->nr - 1], ds = p->r_dst[p->nr - 1];
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < points; ++i) {
        const dnnl_reduce_off_t o = dnnl_reduce_point(p, i);
        float mx = -INFINITY;
        for (int64_t j = 0; j < runs; ++j)
            mx = run_max(src + dnnl_reduce_run(p, o, j).src, n, ss, mx);
        double sum = 0.0;
        for (int64_t j = 0; j < runs; ++j) {
            const dnnl_reduce_off_t r = dnnl_reduce_run(p, o, j);
            sum += run_exp_sum(src + r.src, n, ss, mx, log_softmax ? NULL : dst + r.dst, ds);
        }
        if (log_softmax) {
            const float lse = (float)log(sum);
            for (int64_t j = 0; j < runs; ++j) {
                const dnnl_reduce_off_t r = dnnl_reduce_run(p, o, j);
                run_log(src + r.src, n, ss, mx, lse, dst + r.dst, ds);
            }
        } else {
            const float inv = (float)(1.0 / sum);
            for (int64_t j = 0; j < runs; ++j)
                run_scale(dst + dnnl_reduce_run(p, o, j).dst, n, ds, inv);
        }
    }
}
