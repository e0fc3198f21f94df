/* Layer and batch normalization forward over any strided layout (dnnl_reduce_t: layer
 * normalization has one parallel point per row of the last dim, batch normalization one
 * per channel).
 *
 * Statistics: one pass over the data, the sums of d and d^2 with d = x - x0 and x0 the
 * point's first (finite) element, in double, in LANES independent partial sums that the
 * compiler vectorises; mean = x0 + S1/n, var = S2/n - (S1/n)^2. Shifting by a sample
 * keeps the subtraction's cancellation at (mean - x0)^2 / var, and double carries 2^29
 * times float's resolution: the variance is accurate to float unless the first element
 * lies ~10^4 standard deviations from the mean. A float sum over a batch-norm channel of
 * N*H*W values (10^5 and more) would lose digits the float64 reference keeps.
 *
 * Output: (x - mean) * a + shift, a = scale / sqrt(var + eps) per point (per element for
 * layer normalization's scale), in float, one loop per case so that each vectorises.
 *
 * Two walks (reduce.h): rows, one parallel point at a time along its run; and lanes, when
 * the innermost parallel dim is contiguous and the reduction is not (batch normalization
 * in nhwc): a block of adjacent points is carried along together, so every load is a
 * contiguous vector. With known statistics (use_global_stats) the output is elementwise
 * and the work items are (point or block, run) pairs, enough for every thread. */
#include <math.h>
#include <stddef.h>
#include "dnnl_kernels.h"
#include "isa.h"
#include "reduce.h"

#define LANES 16
#define BLOCK 1024 /* lanes of one known-statistics work item: 3 float tables on the stack */

typedef struct { double s1, s2; } sums_t;

DNNL_MULTIVERSION
static sums_t run_sums(const float *s, int64_t n, int64_t ss, float x0, sums_t t) {
    double a1[LANES] = {0}, a2[LANES] = {0};
    int64_t k = 0;
    if (ss == 1)
        for (; k + LANES <= n; k += LANES)
            for (int l = 0; l < LANES; ++l) {
                const double d = s[k + l] - x0;
                a1[l] += d;
                a2[l] += d * d;
            }
    for (; k < n; ++k) {
        const double d = s[k * ss] - x0;
        t.s1 += d;
        t.s2 += d * d;
    }
    for (int l = 0; l < LANES; ++l) t.s1 += a1[l], t.s2 += a2[l];
    return t;
}

static inline float first_finite(float x) { return isfinite(x) ? x : 0.0f; }

/* Mean and biased variance from shifted sums; the variance clamped at 0 (rounding). A
 * NaN or inf in the data makes both NaN or inf, as the two-pass formula did. */
static inline void moments(sums_t t, double count, float x0, float *m, float *v) {
    const double mu = t.s1 / count, var = t.s2 / count - mu * mu;
    *m = (float)(x0 + mu);
    *v = (float)(var < 0.0 ? 0.0 : var);
}

/* d = (s - m) * a [+ h] [relu], a and h one value for the run. */
DNNL_MULTIVERSION
static void run_out_point(const float *s, int64_t n, int64_t ss, float *d, int64_t ds, float m,
                          float a, float h, int relu) {
    if (ss == 1 && ds == 1) {
        if (relu)
            for (int64_t k = 0; k < n; ++k) {
                const float y = (s[k] - m) * a + h;
                d[k] = y > 0.0f ? y : 0.0f;
            }
        else
            for (int64_t k = 0; k < n; ++k) d[k] = (s[k] - m) * a + h;
        return;
    }
    for (int64_t k = 0; k < n; ++k) {
        const float y = (s[k * ss] - m) * a + h;
        d[k * ds] = relu && !(y > 0.0f) ? 0.0f : y;
    }
}

/* Layer normalization's output: scale/shift vary along the run (stride cs). */
DNNL_MULTIVERSION
static void run_out_ss(const float *s, int64_t n, int64_t ss, float *d, int64_t ds, float m,
                       float inv, const float *scale, const float *shift, int64_t cs, int relu) {
    if (ss == 1 && ds == 1 && cs == 1 && !relu) {
        if (scale && shift)
            for (int64_t k = 0; k < n; ++k) d[k] = (s[k] - m) * (inv * scale[k]) + shift[k];
        else if (scale)
            for (int64_t k = 0; k < n; ++k) d[k] = (s[k] - m) * (inv * scale[k]);
        else if (shift)
            for (int64_t k = 0; k < n; ++k) d[k] = (s[k] - m) * inv + shift[k];
        else
            for (int64_t k = 0; k < n; ++k) d[k] = (s[k] - m) * inv;
        return;
    }
    for (int64_t k = 0; k < n; ++k) {
        float y = (s[k * ss] - m) * inv;
        if (scale) y *= scale[k * cs];
        if (shift) y += shift[k * cs];
        if (relu) y = y > 0.0f ? y : 0.0f;
        d[k * ds] = y;
    }
}

/* One row of a block of w adjacent points: d[l] = (s[l] - m[l]) * a[l] + h[l] [relu]. */
DNNL_MULTIVERSION
static void lanes_out(const float *s, float *d, int64_t w, const float *m, const float *a,
                      const float *h, int relu) {
    if (relu)
        for (int64_t l = 0; l < w; ++l) {
            const float y = (s[l] - m[l]) * a[l] + h[l];
            d[l] = y > 0.0f ? y : 0.0f;
        }
    else
        for (int64_t l = 0; l < w; ++l) d[l] = (s[l] - m[l]) * a[l] + h[l];
}

/* One row of a block of LANES adjacent points added to their shifted sums. */
DNNL_MULTIVERSION
static void lanes_sums(const float *s, int64_t w, const float *x0, double *s1, double *s2) {
    for (int64_t l = 0; l < w; ++l) {
        const double d = s[l] - x0[l];
        s1[l] += d;
        s2[l] += d * d;
    }
}

typedef struct {
    const dnnl_reduce_t *p;
    float eps;
    int relu;
    const float *scale, *shift;
} norm_ctx_t;

/* The output coefficients of w points (lane l at stat stride st, scale stride cs):
 * a = scale / sqrt(var + eps), h = shift. */
static inline void coefficients(const norm_ctx_t *c, dnnl_reduce_off_t o, int64_t w,
                                int64_t st, int64_t cs, const float *mean, const float *var,
                                float *m, float *a, float *h) {
    for (int64_t l = 0; l < w; ++l) {
        m[l] = mean[o.stat + l * st];
        a[l] = 1.0f / sqrtf(var[o.stat + l * st] + c->eps);
        if (c->scale) a[l] *= c->scale[o.ss + l * cs];
        h[l] = c->shift ? c->shift[o.ss + l * cs] : 0.0f;
    }
}

/* The lane walk: the innermost parallel dim (P points, contiguous in src and dst) in
 * blocks; scale/shift vary only with the point (checked by the caller). */
static void norm_lanes(const norm_ctx_t *c, int global_stats, int save_stats, const float *src,
                       float *mean, float *var, float *dst) {
    const dnnl_reduce_t *p = c->p;
    const int64_t P = p->p_dim[p->np - 1], outer = dnnl_reduce_points(p) / P;
    const int64_t st = p->p_stat[p->np - 1], cs = p->p_ss[p->np - 1];
    const int64_t runs = dnnl_reduce_runs(p), n = p->r_dim[p->nr - 1];
    const int64_t ss = p->r_src[p->nr - 1], ds = p->r_dst[p->nr - 1];
    if (global_stats) {
        const int64_t nblk = (P + BLOCK - 1) / BLOCK;
#pragma omp parallel for schedule(static)
        for (int64_t it = 0; it < outer * nblk * runs; ++it) {
            const int64_t j = it % runs, b = (it / runs) % nblk, q = it / runs / nblk;
            const int64_t w = DNNL_MIN(BLOCK, P - b * BLOCK);
            const dnnl_reduce_off_t o = dnnl_reduce_point(p, q * P + b * BLOCK);
            float m[BLOCK], a[BLOCK], h[BLOCK];
            coefficients(c, o, w, st, cs, mean, var, m, a, h);
            const dnnl_reduce_off_t r = dnnl_reduce_run(p, o, j);
            for (int64_t k = 0; k < n; ++k)
                lanes_out(src + r.src + k * ss, dst + r.dst + k * ds, w, m, a, h, c->relu);
        }
        return;
    }
    const int64_t nblk = (P + LANES - 1) / LANES;
    const double count = (double)runs * (double)n;
#pragma omp parallel for schedule(static)
    for (int64_t it = 0; it < outer * nblk; ++it) {
        const int64_t b = it % nblk, q = it / nblk, w = DNNL_MIN(LANES, P - b * LANES);
        const dnnl_reduce_off_t o = dnnl_reduce_point(p, q * P + b * LANES);
        float x0[LANES], m[LANES], v[LANES], a[LANES], h[LANES];
        double s1[LANES] = {0}, s2[LANES] = {0};
        for (int64_t l = 0; l < w; ++l) x0[l] = first_finite(src[o.src + l]);
        for (int64_t j = 0; j < runs; ++j) {
            const dnnl_reduce_off_t r = dnnl_reduce_run(p, o, j);
            for (int64_t k = 0; k < n; ++k) lanes_sums(src + r.src + k * ss, w, x0, s1, s2);
        }
        for (int64_t l = 0; l < w; ++l) {
            moments((sums_t){s1[l], s2[l]}, count, x0[l], &m[l], &v[l]);
            if (save_stats) mean[o.stat + l * st] = m[l], var[o.stat + l * st] = v[l];
        }
        const dnnl_reduce_off_t z = {0, 0, 0, o.ss};
        coefficients(c, z, w, 1, cs, m, v, m, a, h);
        for (int64_t j = 0; j < runs; ++j) {
            const dnnl_reduce_off_t r = dnnl_reduce_run(p, o, j);
            for (int64_t k = 0; k < n; ++k)
                lanes_out(src + r.src + k * ss, dst + r.dst + k * ds, w, m, a, h, c->relu);
        }
    }
}

/* The run's output given the point's statistics. */
static inline void point_out(const norm_ctx_t *c, dnnl_reduce_off_t r, int64_t n, int64_t ss,
                             int64_t ds, int64_t cs, float m, float v, const float *src,
                             float *dst) {
    const float inv = 1.0f / sqrtf(v + c->eps);
    if (cs == 0) { /* scale/shift constant along the run: fold them */
        const float a = c->scale ? inv * c->scale[r.ss] : inv;
        run_out_point(src + r.src, n, ss, dst + r.dst, ds, m, a, c->shift ? c->shift[r.ss] : 0.0f,
                      c->relu);
    } else {
        run_out_ss(src + r.src, n, ss, dst + r.dst, ds, m, inv, c->scale ? c->scale + r.ss : NULL,
                   c->shift ? c->shift + r.ss : NULL, cs, c->relu);
    }
}

void dnnl_norm_fwd(const dnnl_reduce_t *p, float eps, int global_stats, int save_stats,
                   int relu, const float *src, float *mean, float *var, const float *scale,
                   const float *shift, float *dst) {
    const norm_ctx_t c = {p, eps, relu, scale, shift};
    if (dnnl_reduce_lanes(p)) {
        norm_lanes(&c, global_stats, save_stats, src, mean, var, dst);
        return;
    }
    const int64_t points = dnnl_reduce_points(p), runs = dnnl_reduce_runs(p);
    const int64_t n = p->r_dim[p->nr - 1], ss = p->r_src[p->nr - 1];
    const int64_t ds = p->r_dst[p->nr - 1], cs = p->r_ss[p->nr - 1];
    if (global_stats) {
#pragma omp parallel for schedule(static)
        for (int64_t it = 0; it < points * runs; ++it) {
            const dnnl_reduce_off_t o = dnnl_reduce_point(p, it / runs);
            point_out(&c, dnnl_reduce_run(p, o, it % runs), n, ss, ds, cs, mean[o.stat],
                      var[o.stat], src, dst);
        }
        return;
    }
    const double count = (double)runs * (double)n;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < points; ++i) {
        const dnnl_reduce_off_t o = dnnl_reduce_point(p, i);
        const float x0 = first_finite(src[o.src]);
        sums_t t = {0.0, 0.0};
        for (int64_t j = 0; j < runs; ++j)
            t = run_sums(src + dnnl_reduce_run(p, o, j).src, n, ss, x0, t);
        float m, v;
        moments(t, count, x0, &m, &v);
        if (save_stats) {
            mean[o.stat] = m;
            var[o.stat] = v;
        }
        for (int64_t j = 0; j < runs; ++j)
            point_out(&c, dnnl_reduce_run(p, o, j), n, ss, ds, cs, m, v, src, dst);
    }
}
