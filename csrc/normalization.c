/* Layer and batch normalization forward over any strided layout (dnnl_reduce_t: layer
 * normalization has one parallel point per row of the last dim, batch normalization one
 * per channel). Statistics take two passes, mean then the mean squared deviation (no
 * E[x^2] - E[x]^2 cancellation), both accumulated in double: a float sum over a
 * batch-norm channel of N*H*W values (10^5 and more) would lose digits the float64
 * reference keeps. The output pass is float. */
#include <math.h>
#include "dnnl_kernels.h"
#include "reduce.h"

void dnnl_norm_fwd(const dnnl_reduce_t *p, float eps, int global_stats, int save_stats,
                   int relu, const float *src, float *mean, float *var, const float *scale,
                   const float *shift, float *dst) {
    const int64_t points = dnnl_reduce_points(p), runs = dnnl_reduce_runs(p);
    const int64_t n = p->r_dim[p->nr - 1], ss = p->r_src[p->nr - 1];
    const int64_t ds = p->r_dst[p->nr - 1], sss = p->r_ss[p->nr - 1];
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
            for (int64_t j = 0; j < runs; ++j) {
                const float *s = src + dnnl_reduce_run(p, o, j).src;
                for (int64_t k = 0; k < n; ++k) sum += s[k * ss];
            }
            const double dm = sum / count;
            double sq = 0.0;
            for (int64_t j = 0; j < runs; ++j) {
                const float *s = src + dnnl_reduce_run(p, o, j).src;
                for (int64_t k = 0; k < n; ++k) {
                    const double d = s[k * ss] - dm;
                    sq += d * d;
                }
            }
            m = (float)dm;
            v = (float)(sq / count);
            if (save_stats) {
                mean[o.stat] = m;
                var[o.stat] = v;
            }
        }
        const float inv = 1.0f / sqrtf(v + eps);
        for (int64_t j = 0; j < runs; ++j) {
            const dnnl_reduce_off_t r = dnnl_reduce_run(p, o, j);
            const float *s = src + r.src;
            float *d = dst + r.dst;
            for (int64_t k = 0; k < n; ++k) {
                const int64_t c = r.ss + k * sss;
                float y = (s[k * ss] - m) * inv;
                if (scale) y *= scale[c];
                if (shift) y += shift[c];
                if (relu) y = y > 0.0f ? y : 0.0f;
                d[k * ds] = y;
            }
        }
    }
}
