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

/* sum of exp(s[k] - mx), each also stored to d[k * ds] when d is not NULL (d may be s).
 * Unit strides: a float sum over FLUSH elements, which `omp simd` lets the compiler split
 * into one partial sum per vector lane (4 to 16), then added to the double: a lane sums
 * at most FLUSH / 4 = 64 terms in [0, 1] (relative error below 64 * 2^-24 = 4e-6 at
 * worst, ~3e-7 typically), and float vectors are twice as wide as double ones. */
#define FLUSH 256

DNNL_MULTIVERSION
static double run_exp_sum(const float *s, int64_t n, int64_t ss, float mx, float *d,
                          int64_t ds) {
    double sum = 0.0;
    int64_t k = 0;
    if (ss == 1 && (d == NULL || ds == 1)) {
        for (; k < n; k += FLUSH) {
            const int64_t m = DNNL_MIN(FLUSH, n - k);
            const float *x = s + k;
            float acc = 0.0f;
            if (d) {
                float *y = d + k;
#pragma omp simd reduction(+ : acc)
                for (int64_t i = 0; i < m; ++i) {
                    const float e = softmax_exp(x[i] - mx);
                    y[i] = e;
                    acc += e;
                }
            } else {
#pragma omp simd reduction(+ : acc)
                for (int64_t i = 0; i < m; ++i) acc += softmax_exp(x[i] - mx);
            }
            sum += acc;
        }
        return sum;
    }
    for (; k < n; ++k) {
        const float e = softmax_exp(s[k * ss] - mx);
        if (d) d[k * ds] = e;
        sum += e;
    }
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

/* The lane walk (reduce.h): W adjacent points, contiguous, carried along the reduction
 * together; the same three passes, each step over a row of W contiguous floats. W * n
 * floats per pass (256 KB for 1000 classes) stay in L2 for the next pass. */
#define W 64

DNNL_MULTIVERSION
static void lanes_max(const float *s, int64_t w, float *mx) {
    for (int64_t l = 0; l < w; ++l) mx[l] = s[l] > mx[l] ? s[l] : mx[l];
}

DNNL_MULTIVERSION
static void lanes_exp_sum(const float *s, int64_t w, const float *mx, float *d, double *sum) {
    if (d)
        for (int64_t l = 0; l < w; ++l) {
            const float e = softmax_exp(s[l] - mx[l]);
            d[l] = e;
            sum[l] += e;
        }
    else
        for (int64_t l = 0; l < w; ++l) sum[l] += softmax_exp(s[l] - mx[l]);
}

DNNL_MULTIVERSION
static void lanes_out(const float *s, int64_t w, const float *mx, const float *f, float *d,
                      int log_softmax) {
    if (log_softmax)
        for (int64_t l = 0; l < w; ++l) d[l] = (s[l] - mx[l]) - f[l];
    else
        for (int64_t l = 0; l < w; ++l) d[l] *= f[l];
}

static void softmax_lanes(const dnnl_reduce_t *p, int log_softmax, const float *src,
                          float *dst) {
    const int64_t P = p->p_dim[p->np - 1], outer = dnnl_reduce_points(p) / P;
    const int64_t runs = dnnl_reduce_runs(p), n = p->r_dim[p->nr - 1];
    const int64_t ss = p->r_src[p->nr - 1], ds = p->r_dst[p->nr - 1], nblk = (P + W - 1) / W;
#pragma omp parallel for schedule(static)
    for (int64_t it = 0; it < outer * nblk; ++it) {
        const int64_t b = it % nblk, w = DNNL_MIN(W, P - b * W);
        const dnnl_reduce_off_t o = dnnl_reduce_point(p, it / nblk * P + b * W);
        float mx[W], f[W];
        double sum[W];
        for (int64_t l = 0; l < w; ++l) mx[l] = -INFINITY, sum[l] = 0.0;
        for (int64_t j = 0; j < runs; ++j) {
            const dnnl_reduce_off_t r = dnnl_reduce_run(p, o, j);
            for (int64_t k = 0; k < n; ++k) lanes_max(src + r.src + k * ss, w, mx);
        }
        for (int64_t j = 0; j < runs; ++j) {
            const dnnl_reduce_off_t r = dnnl_reduce_run(p, o, j);
            for (int64_t k = 0; k < n; ++k)
                lanes_exp_sum(src + r.src + k * ss, w, mx, log_softmax ? NULL : dst + r.dst + k * ds,
                              sum);
        }
        for (int64_t l = 0; l < w; ++l)
            f[l] = log_softmax ? (float)log(sum[l]) : (float)(1.0 / sum[l]);
        for (int64_t j = 0; j < runs; ++j) {
            const dnnl_reduce_off_t r = dnnl_reduce_run(p, o, j);
            for (int64_t k = 0; k < n; ++k)
                lanes_out(src + r.src + k * ss, w, mx, f, dst + r.dst + k * ds, log_softmax);
        }
    }
}

void dnnl_softmax_fwd(const dnnl_reduce_t *p, int log_softmax, const float *src, float *dst) {
    if (dnnl_reduce_lanes(p)) {
        softmax_lanes(p, log_softmax, src, dst);
        return;
    }
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
