/* Pooling, forward: max, average including or excluding the padding, over any plain
 * strides (see dnnl_py/cpu/pooling.py). Scalar loops: each output element walks only
 * the taps of its window that land in the source, so the padding is never read. */
#include <math.h>

#include "dnnl_kernels.h"
#include "isa.h"

/* Taps [*lo, *hi) of a window of k taps, `step` apart, starting at `base`, that land
 * in [0, size). */
static inline void tap_range(int64_t base, int64_t k, int64_t step, int64_t size,
                             int64_t *lo, int64_t *hi) {
    int64_t a = base < 0 ? (-base + step - 1) / step : 0;
    int64_t b = size - base <= 0 ? 0 : (size - base + step - 1) / step;
    *lo = a;
    *hi = DNNL_MIN(b, k);
    if (*hi < *lo) *hi = *lo;
}

DNNL_MULTIVERSION
static void pool_row(const dnnl_pool_t *p, const float *src, float *dst, int64_t od,
                     int64_t oh) {
    const int64_t stepd = p->dd + 1, steph = p->dh + 1, stepw = p->dw + 1;
    const int64_t bd = od * p->sd - p->pd, bh = oh * p->sh - p->ph;
    int64_t d0, d1, h0, h1;
    tap_range(bd, p->kd, stepd, p->id, &d0, &d1);
    tap_range(bh, p->kh, steph, p->ih, &h0, &h1);
    const int64_t ss_d = p->src_s[2], ss_h = p->src_s[3], ss_w = p->src_s[4];
    for (int64_t ow = 0; ow < p->ow; ++ow) {
        const int64_t bw = ow * p->sw - p->pw;
        int64_t w0, w1;
        tap_range(bw, p->kw, stepw, p->iw, &w0, &w1);
        float out;
        if (p->alg == DNNL_POOL_MAX) {
            float m = -INFINITY;
            int nan = 0;  /* apart from the max, which then compiles to maxss, no branch */
            for (int64_t kd = d0; kd < d1; ++kd)
                for (int64_t kh = h0; kh < h1; ++kh) {
                    const float *s = src + (bd + kd * stepd) * ss_d + (bh + kh * steph) * ss_h
                                     + bw * ss_w;
                    for (int64_t kw = w0; kw < w1; ++kw) {
                        const float v = s[kw * stepw * ss_w];
                        m = v > m ? v : m;
                        nan |= v != v;
                    }
                }
            out = nan ? NAN : m;
        } else {
            float sum = 0.0f;
            for (int64_t kd = d0; kd < d1; ++kd)
                for (int64_t kh = h0; kh < h1; ++kh) {
                    const float *s = src + (bd + kd * stepd) * ss_d + (bh + kh * steph) * ss_h
                                     + bw * ss_w;
                    for (int64_t kw = w0; kw < w1; ++kw) sum += s[kw * stepw * ss_w];
                }
            const int64_t n = p->alg == DNNL_POOL_AVG_INCLUDE ? p->kd * p->kh * p->kw
                                                              : (d1 - d0) * (h1 - h0) * (w1 - w0);
            out = n ? sum / (float)n : 0.0f;
        }
        dst[ow * p->dst_s[4]] = out;
    }
}

/* Channels-last (src and dst channel strides 1): one output pixel's channels at a time,
 * accumulated in dst, vectorised over the channels. */
DNNL_MULTIVERSION
static void pool_pixel_cl(const dnnl_pool_t *p, const float *src, float *restrict dst,
                          int64_t od, int64_t oh, int64_t ow) {
    const int64_t stepd = p->dd + 1, steph = p->dh + 1, stepw = p->dw + 1, c = p->c;
    const int64_t bd = od * p->sd - p->pd, bh = oh * p->sh - p->ph, bw = ow * p->sw - p->pw;
    int64_t d0, d1, h0, h1, w0, w1;
    tap_range(bd, p->kd, stepd, p->id, &d0, &d1);
    tap_range(bh, p->kh, steph, p->ih, &h0, &h1);
    tap_range(bw, p->kw, stepw, p->iw, &w0, &w1);
    const int is_max = p->alg == DNNL_POOL_MAX;
    const float init = is_max ? -INFINITY : 0.0f;
    for (int64_t i = 0; i < c; ++i) dst[i] = init;
    for (int64_t kd = d0; kd < d1; ++kd)
        for (int64_t kh = h0; kh < h1; ++kh)
            for (int64_t kw = w0; kw < w1; ++kw) {
                const float *restrict s = src + (bd + kd * stepd) * p->src_s[2]
                                          + (bh + kh * steph) * p->src_s[3]
                                          + (bw + kw * stepw) * p->src_s[4];
                if (is_max) {
                    /* NaN wins: once dst[i] is NaN no comparison replaces it */
                    for (int64_t i = 0; i < c; ++i)
                        dst[i] = (s[i] > dst[i] || s[i] != s[i]) ? s[i] : dst[i];
                } else {
                    for (int64_t i = 0; i < c; ++i) dst[i] += s[i];
                }
            }
    if (!is_max) {
        const int64_t n = p->alg == DNNL_POOL_AVG_INCLUDE ? p->kd * p->kh * p->kw
                                                          : (d1 - d0) * (h1 - h0) * (w1 - w0);
        for (int64_t i = 0; i < c; ++i) dst[i] = n ? dst[i] / (float)n : 0.0f;
    }
}

void dnnl_pool_fwd(const dnnl_pool_t *p, const float *src, float *dst) {
    const int64_t planes = p->mb * p->c, rows = p->od * p->oh;
    if (planes == 0 || rows == 0 || p->ow == 0) return;
    if (p->c > 1 && p->src_s[1] == 1 && p->dst_s[1] == 1) {
#pragma omp parallel for collapse(2) schedule(static)
        for (int64_t n = 0; n < p->mb; ++n)
            for (int64_t r = 0; r < rows; ++r) {
                const int64_t od = r / p->oh, oh = r % p->oh;
                for (int64_t ow = 0; ow < p->ow; ++ow)
                    pool_pixel_cl(p, src + n * p->src_s[0],
                                  dst + n * p->dst_s[0] + od * p->dst_s[2] + oh * p->dst_s[3]
                                      + ow * p->dst_s[4],
                                  od, oh, ow);
            }
        return;
    }
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t nc = 0; nc < planes; ++nc)
        for (int64_t r = 0; r < rows; ++r) {
            const int64_t n = nc / p->c, c = nc % p->c, od = r / p->oh, oh = r % p->oh;
            pool_row(p, src + n * p->src_s[0] + c * p->src_s[1],
                     dst + n * p->dst_s[0] + c * p->dst_s[1] + od * p->dst_s[2]
                         + oh * p->dst_s[3],
                     od, oh);
        }
}
