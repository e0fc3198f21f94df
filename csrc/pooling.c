/* Pooling, forward: max, average including or excluding the padding, over any plain
 * strides (see dnnl_py/cpu/pooling.py). Each output walks only the taps of its window
 * that land in the source, so the padding is never read. Channels innermost: vectorised
 * over the channels. Otherwise (nchw) a row of output: the outputs near the borders one
 * by one, the interior ones vectorised over ow, tap by tap. */
#include <math.h>

#include "dnnl_kernels.h"
#include "isa.h"

#define DNNL_MAX(a, b) ((a) > (b) ? (a) : (b))

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

/* Output ow of a row: the taps of its window inside the source, in order kd, kh, kw. */
static inline float pool_one(const dnnl_pool_t *p, const float *src, int64_t bd, int64_t bh,
                             int64_t d0, int64_t d1, int64_t h0, int64_t h1, int64_t ow) {
    const int64_t stepd = p->dd + 1, steph = p->dh + 1, stepw = p->dw + 1;
    const int64_t ss_d = p->src_s[2], ss_h = p->src_s[3], ss_w = p->src_s[4];
    const int64_t bw = ow * p->sw - p->pw;
    int64_t w0, w1;
    tap_range(bw, p->kw, stepw, p->iw, &w0, &w1);
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
        return nan ? NAN : m;
    }
    float sum = 0.0f;
    for (int64_t kd = d0; kd < d1; ++kd)
        for (int64_t kh = h0; kh < h1; ++kh) {
            const float *s = src + (bd + kd * stepd) * ss_d + (bh + kh * steph) * ss_h
                             + bw * ss_w;
            for (int64_t kw = w0; kw < w1; ++kw) sum += s[kw * stepw * ss_w];
        }
    const int64_t n = p->alg == DNNL_POOL_AVG_INCLUDE ? p->kd * p->kh * p->kw
                                                      : (d1 - d0) * (h1 - h0) * (w1 - w0);
    return n ? sum / (float)n : 0.0f;
}

/* One tap's row of source values into the accumulators of m outputs, the source `sw`
 * apart: a constant after inlining (1, 2, or 0 for any other stride, read from p), so
 * that the loop vectorises with contiguous or two-way interleaved loads. kind: 0 max
 * with NaN propagation (once acc[i] is NaN no comparison replaces it), 1 plain max (one
 * maxps: a NaN in s is dropped), 2 sum. */
static inline __attribute__((always_inline)) void pool_tap(int kind, int64_t sw_const,
                                                           int64_t sw, const float *restrict s,
                                                           int64_t m, float *restrict acc) {
    const int64_t step = sw_const ? sw_const : sw;
    if (kind == 0)
        for (int64_t i = 0; i < m; ++i) {
            const float v = s[i * step];
            acc[i] = (v > acc[i] || v != v) ? v : acc[i];
        }
    else if (kind == 1)
        for (int64_t i = 0; i < m; ++i) acc[i] = s[i * step] > acc[i] ? s[i * step] : acc[i];
    else
        for (int64_t i = 0; i < m; ++i) acc[i] += s[i * step];
}

static inline __attribute__((always_inline)) void pool_taps(int kind, int64_t sw,
                                                            const float *s, int64_t m,
                                                            float *acc) {
    if (sw == 1) pool_tap(kind, 1, sw, s, m, acc);
    else if (sw == 2) pool_tap(kind, 2, sw, s, m, acc);
    else pool_tap(kind, 0, sw, s, m, acc);
}

static inline int any_nan(const float *s, int64_t n) {
    int r = 0;
    for (int64_t i = 0; i < n; ++i) r |= s[i] != s[i];
    return r;
}

#define OW_BLK 256 /* outputs accumulated at a time (on the stack) */

/* Outputs [lo, hi) of a row whose windows lie inside the source along w (unit w
 * strides): every tap's row is added to all of them at once, vectorised over ow. Max
 * takes one maxps per tap and checks each source row it read for a NaN once (not once
 * per tap): a block with a NaN is done again with the NaN-propagating select. */
DNNL_MULTIVERSION
static void pool_interior(const dnnl_pool_t *p, const float *src, float *dst, int64_t bd,
                          int64_t bh, int64_t d0, int64_t d1, int64_t h0, int64_t h1,
                          int64_t lo, int64_t hi) {
    const int64_t stepd = p->dd + 1, steph = p->dh + 1, stepw = p->dw + 1, sw = p->sw;
    const int is_max = p->alg == DNNL_POOL_MAX;
    const int64_t n = p->alg == DNNL_POOL_AVG_INCLUDE ? p->kd * p->kh * p->kw
                                                      : (d1 - d0) * (h1 - h0) * p->kw;
    float acc[OW_BLK];
    for (int64_t o0 = lo; o0 < hi; o0 += OW_BLK) {
        const int64_t m = DNNL_MIN(OW_BLK, hi - o0), span = (m - 1) * sw + (p->kw - 1) * stepw + 1;
        int nan = 0;
        for (int pass = 0; pass < 1 + nan; ++pass) {
            const int kind = !is_max ? 2 : pass ? 0 : 1;
            for (int64_t i = 0; i < m; ++i) acc[i] = is_max ? -INFINITY : 0.0f;
            for (int64_t kd = d0; kd < d1; ++kd)
                for (int64_t kh = h0; kh < h1; ++kh) {
                    const float *row = src + (bd + kd * stepd) * p->src_s[2]
                                       + (bh + kh * steph) * p->src_s[3] + o0 * sw - p->pw;
                    if (kind == 1) nan |= any_nan(row, span);
                    for (int64_t kw = 0; kw < p->kw; ++kw) {
                        if (kind == 0) pool_taps(0, sw, row + kw * stepw, m, acc);
                        else if (kind == 1) pool_taps(1, sw, row + kw * stepw, m, acc);
                        else pool_taps(2, sw, row + kw * stepw, m, acc);
                    }
                }
        }
        float *d = dst + o0;
        if (is_max)
            for (int64_t i = 0; i < m; ++i) d[i] = acc[i];
        else
            for (int64_t i = 0; i < m; ++i) d[i] = n ? acc[i] / (float)n : 0.0f;
    }
}

DNNL_MULTIVERSION
static void pool_row(const dnnl_pool_t *p, const float *src, float *dst, int64_t od,
                     int64_t oh) {
    const int64_t stepd = p->dd + 1, steph = p->dh + 1, stepw = p->dw + 1;
    const int64_t bd = od * p->sd - p->pd, bh = oh * p->sh - p->ph;
    int64_t d0, d1, h0, h1;
    tap_range(bd, p->kd, stepd, p->id, &d0, &d1);
    tap_range(bh, p->kh, steph, p->ih, &h0, &h1);
    /* the outputs [lo, hi) whose every w tap is inside the source */
    int64_t lo = p->ow, hi = p->ow;
    if (p->src_s[4] == 1 && p->dst_s[4] == 1) {
        const int64_t last = (p->kw - 1) * stepw; /* the last tap's offset */
        lo = DNNL_MIN((p->pw + p->sw - 1) / p->sw, p->ow);
        hi = p->iw - 1 - last + p->pw < 0 ? 0 : (p->iw - 1 - last + p->pw) / p->sw + 1;
        hi = DNNL_MIN(DNNL_MAX(hi, lo), p->ow);
    }
    for (int64_t ow = 0; ow < lo; ++ow)
        dst[ow * p->dst_s[4]] = pool_one(p, src, bd, bh, d0, d1, h0, h1, ow);
    if (hi > lo) pool_interior(p, src, dst, bd, bh, d0, d1, h0, h1, lo, hi);
    for (int64_t ow = hi; ow < p->ow; ++ow)
        dst[ow * p->dst_s[4]] = pool_one(p, src, bd, bh, d0, d1, h0, h1, ow);
}

/* Channels-last (src and dst channel strides 1): each output pixel's channels in blocks
 * of CB, accumulated in registers across the window's taps (a block of CB is a constant
 * trip count the compiler turns into whole vectors), vectorised over the channels. kind
 * as pool_tap's. */
#define CB 16

static inline __attribute__((always_inline)) void cl_block(
    int kind, int64_t m, const dnnl_pool_t *p, const float *restrict src, float *restrict dst,
    int64_t bd, int64_t bh, int64_t bw, int64_t d0, int64_t d1, int64_t h0, int64_t h1,
    int64_t w0, int64_t w1, int64_t n) {
    const int64_t stepd = p->dd + 1, steph = p->dh + 1, stepw = p->dw + 1;
    float acc[CB];
    for (int64_t i = 0; i < m; ++i) acc[i] = kind == 2 ? 0.0f : -INFINITY;
    for (int64_t kd = d0; kd < d1; ++kd)
        for (int64_t kh = h0; kh < h1; ++kh) {
            const float *row = src + (bd + kd * stepd) * p->src_s[2]
                               + (bh + kh * steph) * p->src_s[3] + bw * p->src_s[4];
            for (int64_t kw = w0; kw < w1; ++kw) {
                const float *restrict s = row + kw * stepw * p->src_s[4];
                /* loop-vectorised: unrolled into CB scalar selects, the max became branches */
#pragma omp simd
                for (int64_t i = 0; i < m; ++i) {
                    const float v = s[i];
                    if (kind == 0) acc[i] = (v > acc[i] || v != v) ? v : acc[i];
                    else if (kind == 1) acc[i] = v > acc[i] ? v : acc[i];
                    else acc[i] += v;
                }
            }
        }
    if (kind == 2)
        for (int64_t i = 0; i < m; ++i) dst[i] = n ? acc[i] / (float)n : 0.0f;
    else
        for (int64_t i = 0; i < m; ++i) dst[i] = acc[i];
}

static inline __attribute__((always_inline)) void cl_row(int kind, const dnnl_pool_t *p,
                                                         const float *src, float *dst,
                                                         int64_t bd, int64_t bh, int64_t d0,
                                                         int64_t d1, int64_t h0, int64_t h1) {
    const int64_t stepw = p->dw + 1, c = p->c;
    for (int64_t ow = 0; ow < p->ow; ++ow) {
        const int64_t bw = ow * p->sw - p->pw;
        int64_t w0, w1;
        tap_range(bw, p->kw, stepw, p->iw, &w0, &w1);
        const int64_t n = p->alg == DNNL_POOL_AVG_INCLUDE ? p->kd * p->kh * p->kw
                                                          : (d1 - d0) * (h1 - h0) * (w1 - w0);
        float *d = dst + ow * p->dst_s[4];
        int64_t c0 = 0;
        for (; c0 + CB <= c; c0 += CB)
            cl_block(kind, CB, p, src + c0, d + c0, bd, bh, bw, d0, d1, h0, h1, w0, w1, n);
        if (c0 < c)
            cl_block(kind, c - c0, p, src + c0, d + c0, bd, bh, bw, d0, d1, h0, h1, w0, w1, n);
    }
}

/* A row of output pixels. Max checks the source rows its windows read for a NaN once
 * (contiguous spans, in cache for the taps that follow) and takes the NaN-propagating
 * select only for a row that holds one; otherwise one maxps per tap. */
DNNL_MULTIVERSION
static void pool_row_cl(const dnnl_pool_t *p, const float *src, float *dst, int64_t od,
                        int64_t oh) {
    const int64_t stepd = p->dd + 1, steph = p->dh + 1;
    const int64_t bd = od * p->sd - p->pd, bh = oh * p->sh - p->ph;
    int64_t d0, d1, h0, h1;
    tap_range(bd, p->kd, stepd, p->id, &d0, &d1);
    tap_range(bh, p->kh, steph, p->ih, &h0, &h1);
    if (p->alg != DNNL_POOL_MAX) {
        cl_row(2, p, src, dst, bd, bh, d0, d1, h0, h1);
        return;
    }
    const int64_t span = (p->iw - 1) * p->src_s[4] + p->c; /* a source row's extent */
    int nan = 0;
    for (int64_t kd = d0; kd < d1 && !nan; ++kd)
        for (int64_t kh = h0; kh < h1 && !nan; ++kh)
            nan = any_nan(src + (bd + kd * stepd) * p->src_s[2] + (bh + kh * steph) * p->src_s[3],
                          span);
    if (nan) cl_row(0, p, src, dst, bd, bh, d0, d1, h0, h1);
    else cl_row(1, p, src, dst, bd, bh, d0, d1, h0, h1);
}

void dnnl_pool_fwd(const dnnl_pool_t *p, const float *src, float *dst) {
    const int64_t planes = p->mb * p->c, rows = p->od * p->oh;
    if (planes == 0 || rows == 0 || p->ow == 0) return;
    if (p->c > 1 && p->src_s[1] == 1 && p->dst_s[1] == 1) {
#pragma omp parallel for collapse(2) schedule(static)
        for (int64_t n = 0; n < p->mb; ++n)
            for (int64_t r = 0; r < rows; ++r) {
                const int64_t od = r / p->oh, oh = r % p->oh;
                pool_row_cl(p, src + n * p->src_s[0],
                            dst + n * p->dst_s[0] + od * p->dst_s[2] + oh * p->dst_s[3], od, oh);
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
