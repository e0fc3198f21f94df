/* Eltwise post-op math, written so that GCC vectorises loops that call it:
 * no libm calls (they block vectorisation), branch-free selects.
 * NaN propagates through every algorithm, as in oneDNN.
 * Accuracy: exp ~2 ulp (Cephes polynomial), erf abs error < 1.5e-7
 * (Abramowitz-Stegun 7.1.26), tanh ~3 ulp, log ~2 ulp (Cephes), expm1/log1p a few ulp
 * (Kahan's compensation). pow is libm's powf (not vectorised). */
#ifndef DNNL_ELTWISE_H
#define DNNL_ELTWISE_H
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "dnnl_kernels.h"

/* 2^k * p(r), x = k ln2 + r, |r| <= ln2 / 2: the Cephes polynomial. k is rounded by
 * adding 1.5 * 2^23 (the sum's low mantissa bits are then k + 2^22, read as an integer),
 * which replaces a floor and a float-to-int conversion. */
static inline float exp_poly_f(float c, int32_t *k_out) {
    const float magic = 12582912.0f; /* 1.5 * 2^23 */
    const float t = c * 1.44269504088896341f + magic;
    const float k = t - magic;
    int32_t tb, mb;
    memcpy(&tb, &t, sizeof tb);
    memcpy(&mb, &magic, sizeof mb);
    *k_out = (int32_t)((uint32_t)tb - (uint32_t)mb);
    float r = c - k * 0.693359375f + k * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    return p * r * r + r + 1.0f;
}

static inline float pow2i_f(int32_t k) { /* 2^k for -126 <= k <= 127 (unsigned: a NaN's
                                            garbage k shifts without overflow) */
    const uint32_t bits = (uint32_t)(k + 127) << 23;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static inline float exp_f(float x) {
    /* Clamped with comparisons, which keep a NaN (fminf/fmaxf drop it): a NaN's
     * polynomial is NaN, and NaN times its garbage 2^k (integer arithmetic, no undefined
     * conversion) is NaN, with no select. */
    const float c = x < -87.0f ? -87.0f : x > 88.0f ? 88.0f : x;
    int32_t k;
    const float p = exp_poly_f(c, &k);
    return p * pow2i_f(k);
}

/* Exactly 0 where exp(-x) overflows, as oneDNN: swish(-inf) = -inf * 0 is then NaN. */
static inline float logistic_f(float x) {
    return -x > 88.72283935546875f ? 0.0f : 1.0f / (1.0f + exp_f(-x));
}

static inline float tanh_f(float x) {
    float a = fabsf(x);
    float s = x * x; /* odd polynomial near 0 avoids 1 - 2/(e^2x + 1) cancelling */
    float small = ((((-5.70498872745e-3f * s + 2.06390887954e-2f) * s
                     - 5.37397155531e-2f) * s + 1.33314422036e-1f) * s
                   - 3.33332819422e-1f) * s * x + x;
    float big = 1.0f - 2.0f / (exp_f(2.0f * a) + 1.0f);
    big = copysignf(big, x);
    return a < 0.625f ? small : big;
}

static inline float erf_f(float x) {
    float a = fabsf(x);
    float t = 1.0f / (1.0f + 0.3275911f * a);
    float y = ((((1.061405429f * t - 1.453152027f) * t + 1.421413741f) * t
                - 0.284496736f) * t + 0.254829592f) * t;
    return copysignf(1.0f - y * exp_f(-a * a), x);
}

/* e^x over the whole float range: x clamped to [-104, 89] (beyond, e^x is 0 or inf in
 * float anyway) and 2^k applied as two powers of two, 2^(k/2) * 2^(k - k/2), each a
 * normal float: the product overflows to inf and underflows through the subnormals with
 * one rounding, and equals exp_f in exp_f's range. */
static inline float exp_full_f(float x) {
    const float c = x < -104.0f ? -104.0f : x > 89.0f ? 89.0f : x;
    int32_t k;
    const float p = exp_poly_f(c, &k);
    const int32_t h = k >> 1; /* a NaN stays NaN, as in exp_f */
    return p * pow2i_f(h) * pow2i_f(k - h);
}

/* Natural log, Cephes logf: x = m * 2^e with m in [sqrt(1/2), sqrt(2)), a polynomial in
 * m - 1. Subnormals are scaled first; log(0) = -inf, log(<0) = NaN, log(inf) = inf. */
static inline float log_f(float x) {
    const int sub = x < 1.17549435e-38f;
    float xs = sub ? x * 8388608.0f : x;
    int32_t bits;
    memcpy(&bits, &xs, sizeof bits);
    int32_t e = ((bits >> 23) & 0xff) - 126 - (sub ? 23 : 0);
    bits = (bits & 0x007fffff) | 0x3f000000; /* mantissa in [0.5, 1) */
    float m;
    memcpy(&m, &bits, sizeof m);
    const int low = m < 0.707106781186547524f;
    e = low ? e - 1 : e;
    m = low ? m + m - 1.0f : m - 1.0f;
    float z = m * m;
    float y = 7.0376836292e-2f;
    y = y * m - 1.1514610310e-1f;
    y = y * m + 1.1676998740e-1f;
    y = y * m - 1.2420140846e-1f;
    y = y * m + 1.4249322787e-1f;
    y = y * m - 1.6668057665e-1f;
    y = y * m + 2.0000714765e-1f;
    y = y * m - 2.4999993993e-1f;
    y = y * m + 3.3333331174e-1f;
    y = y * m * z;
    const float fe = (float)e;
    y += -2.12194440e-4f * fe;
    y += -0.5f * z;
    float r = m + y + 0.693359375f * fe;
    r = x == 0.0f ? -INFINITY : r;
    r = x < 0.0f ? NAN : r;
    r = x == INFINITY ? INFINITY : r;
    return x == x ? r : x;
}

/* log(1 + t) without losing t to the rounding of 1 + t (Goldberg's compensation). */
static inline float log1p_f(float t) {
    float u = 1.0f + t, d = u - 1.0f;
    return d == 0.0f ? t : u == INFINITY ? u : log_f(u) * (t / d);
}

/* e^x - 1 without cancelling near 0 (Kahan's compensation); -1 below -20. */
static inline float expm1_f(float x) {
    float u = exp_full_f(x), d = u - 1.0f;
    float r = d == 0.0f ? x : u == INFINITY ? u : d * (x / log_f(u));
    return x < -20.0f ? -1.0f : r;
}

/* Round half to even in the default rounding mode, as oneDNN's nearbyintf: adding and
 * taking away 2^23 leaves no fraction bits; beyond 2^23 (and inf, NaN) x is already whole. */
static inline float round_f(float x) {
    float a = fabsf(x);
    float r = copysignf((a + 8388608.0f) - 8388608.0f, x);
    return a < 8388608.0f ? r : x;
}

static inline float hardsigmoid_f(float x, float alpha, float beta) {
    float v = alpha * x + beta; /* comparisons keep a NaN */
    return v <= 0.0f ? 0.0f : v >= 1.0f ? 1.0f : v;
}

/* oneDNN's soft_relu: log(1 + e^(alpha x)) / alpha, the argument itself beyond exp's range. */
static inline float soft_relu_f(float x, float alpha) {
    float in = alpha * x;
    float v = in < 88.72283172607421875f ? log1p_f(exp_full_f(in)) : in;
    return v / alpha;
}

static inline float eltwise_f(int alg, float x, float alpha, float beta) {
    switch (alg) {
    case DNNL_ELT_RELU: return x > 0.0f ? x : alpha * x;
    case DNNL_ELT_GELU_TANH:
        return 0.5f * x * (1.0f + tanh_f(0.79788456080286536f * (x + 0.044715f * x * x * x)));
    case DNNL_ELT_GELU_ERF: return 0.5f * x * (1.0f + erf_f(x * 0.70710678118654752f));
    case DNNL_ELT_TANH: return tanh_f(x);
    case DNNL_ELT_LOGISTIC: return logistic_f(x);
    case DNNL_ELT_SWISH: return x * logistic_f(alpha * x);
    case DNNL_ELT_LINEAR: return alpha * x + beta;
    case DNNL_ELT_CLIP: { /* comparisons keep a NaN; fminf/fmaxf would clip it */
        float y = x < alpha ? alpha : x;
        return y > beta ? beta : y;
    }
    case DNNL_ELT_EXP: return exp_full_f(x);
    case DNNL_ELT_LOG: return log_f(x);
    case DNNL_ELT_SQRT: return sqrtf(x);
    case DNNL_ELT_SQUARE: return x * x;
    case DNNL_ELT_ABS: return fabsf(x);
    case DNNL_ELT_POW: return alpha * powf(x, beta);
    case DNNL_ELT_SOFT_RELU: return soft_relu_f(x, alpha);
    case DNNL_ELT_HARDSWISH: return x * hardsigmoid_f(x, alpha, beta);
    case DNNL_ELT_HARDSIGMOID: return hardsigmoid_f(x, alpha, beta);
    case DNNL_ELT_ELU: return x > 0.0f ? x : alpha * expm1_f(x);
    case DNNL_ELT_ROUND: return round_f(x);
    default: return x;
    }
}
#endif
