/* Eltwise post-op math, written so that GCC vectorises loops that call it:
 * no libm calls (they block vectorisation), branch-free selects.
 * NaN propagates through every algorithm, as in oneDNN.
 * Accuracy: exp ~2 ulp (Cephes polynomial), erf abs error < 1.5e-7
 * (Abramowitz-Stegun 7.1.26), tanh ~3 ulp. */
#ifndef DNNL_ELTWISE_H
#define DNNL_ELTWISE_H
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "dnnl_kernels.h"

static inline float exp_f(float x) {
    /* Clamped with comparisons, which keep a NaN (fminf/fmaxf drop it); the NaN is
     * computed as 0, whose exponent converts to int, and given back at the end. */
    float c = x < -87.0f ? -87.0f : x > 88.0f ? 88.0f : x;
    c = x == x ? c : 0.0f;
    float k = floorf(c * 1.44269504088896341f + 0.5f);
    float r = c - k * 0.693359375f + k * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t bits = ((int32_t)k + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return x == x ? p * scale : x;
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
    default: return x;
    }
}
#endif
