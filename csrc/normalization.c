/* Layer and batch normalization forward over any strided layout (dnnl_reduce_t: layer
 * normalization has one parallel point per row of the last dim, batch normalization one
 * per channel). Statistics take two passes, mean then the mean squared deviation from it
 * (no E[x^2] - E[x]^2 cancellation), both accumulated in double, in LANES independent
 * partial sums that the compiler vectorises: a float sum over a batch-norm channel of
 * N*H*W values (10^5 and more) would lose digits the float64 reference keeps. The
 * deviation x - mean is taken in float from the float mean: its error is that of the
 * mean's rounding, (mean - float mean)^2, far below float resolution of the variance
 * unless |mean| / stddev exceeds ~2^12. The output pass is float. */
#include <math.h>
#include <stddef.h>
#include "dnnl_kernels.h"
#include "isa.h"
#include "reduce.h"

#define LANES 16

DNNL_MULTIVERSION
static double run_sum(const float *s, int64_t n, int64_t ss) {
    double acc[LANES] = {0}, sum = 0.0;
    int64_t k = 0;
    if (ss == 1)
        for (; k + LANES <= n; k += LANES)
            for (int l = 0; l < LANES; ++l) acc[l] += s[k + l];
    for (; k < n; ++k) sum += s[k * ss];
    for (int l = 0; l < LANES; ++l) sum += acc[l];
    return sum;
}

DNNL_MULTIVERSION
static double run_sq_dev(const float *s, int64_t n, int64_t ss, float m) {
    double acc[LANES] = {0}, sum = 0.0;
    int64_t k = 0;
    if (ss == 1)
        for (; k + LANES <= n; k += LANES)
            for (int l = 0; l < LANES; ++l) {
                const double d = s[k + l] - m;
                acc[l] += d * d;
            }
    for (; k < n; ++k) {
        const double d = s[k * ss] - m;
        sum += d * d;
    }
    for (int l = 0; l < LANES; ++l) sum += acc[l];
    return sum;
}

/* d = (s - m) * inv [* scale] [+ shift] [relu]; scale/shift along the run with stride
 * cs (0: one value for the run). */
DNNL_MULTIVERSION
static void run_out(const float *s, int64_t n, int64_t ss, float *d, int64_t ds, float m,
                    float inv, const float *scale, const float *shift, int64_t cs, int relu) {
    for (int64_t k = 0; k < n; ++k) {
        float y = (s[k * ss] - m) * inv;
        if (scale) y *= scale[k * cs];
        if (shift) y += shift[k * cs];
        if (relu) y = y > 0.0f ? y : 0.0f;
        d[k * ds] = y;
    }
}

void dnnl_norm_fwd(const dnnl_reduce_t *p, float eps, int global_stats, int save_stats,
                   int relu, const float *src, float *mean, float *var, const float *scale,
                   const float *shift, float *dst) {
    const int64_t points = dnnl_reduce_points(p), runs = dnnl_reduce_runs(p);
    const int64_t n = p->r_dim[p->nr - 1], ss = p->r_src[p->nr - 1];
    const int64_t ds = p->r_dst[p->nr - 1], cs = p->r_ss[p->nr - 1];
    const double count = (double)runs * (double)n;
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t i = 0; i < points; ++i) {
        const dnnl_reduce_off_t o = dnnl_reduce_point(p, i);
        float m, v;
        if (global_stats) {
            m = mean[o.stat];
            v = var[o.stat];
        } else {
            double sum = 0.0;
            for (int64_t j = 0; j < runs; ++j)
                sum += run_sum(src + dnnl_reduce_run(p, o, j).src, n, ss);
            m = (float)(sum / count);
            double sq = 0.0;
            for (int64_t j = 0; j < runs; ++j)
                sq += run_sq_dev(src + dnnl_reduce_run(p, o, j).src, n, ss, m);
            v = (float)(sq / count);
            if (save_stats) {
                mean[o.stat] = m;
                var[o.stat] = v;
            }
        }
        const float inv = 1.0f / sqrtf(v + eps);
        for (int64_t j = 0; j < runs; ++j) {
            const dnnl_reduce_off_t r = dnnl_reduce_run(p, o, j);
            run_out(src + r.src, n, ss, dst + r.dst, ds, m, inv, scale ? scale + r.ss : NULL,
                    shift ? shift + r.ss : NULL, cs, relu);
        }
    }
}
