/* Post-ops fused into a kernel's store, specialised by -D macros (dnnl_py/ocl/gemm.py):
 * PO_COUNT of them, slot n described by POn_KIND (PO_SUM or eltwise), POn_ALG (ELT_*),
 * POn_ALPHA, POn_BETA, POn_SCALE. post_ops_T(x, old) applies them to a value x of type T
 * whose destination held `old` (for sum); a kernel prepends this file to its own source.
 * NaN goes through every algorithm, as in oneDNN: clip compares (fmin/fmax drop NaN).
 * gelu_tanh as x * logistic(2u), the same function as 0.5x(1 + tanh(u)): no 1 + tanh(u)
 * cancelling for negative x, and gelu(-inf) = -inf * 0 = NaN as oneDNN's formula gives. */

#if PO_COUNT > 0
#define HARDSIGMOID(x, alpha, beta) ( \
    (alpha) * (x) + (beta) <= 0.0f ? 0.0f : (alpha) * (x) + (beta) >= 1.0f ? 1.0f \
    : (alpha) * (x) + (beta))
/* alpha and beta come cast to x's type T: pow has no (vector, scalar) overload. */
#define ELTWISE(alg, x, alpha, beta) ( \
      (alg) == ELT_RELU ? ((x) > 0.0f ? (x) : (alpha) * (x)) \
    : (alg) == ELT_GELU_TANH ? (x) / (1.0f + exp(-1.5957691216f * ((x) + 0.044715f * (x) * (x) * (x)))) \
    : (alg) == ELT_GELU_ERF ? 0.5f * (x) * (1.0f + erf((x) * 0.70710678f)) \
    : (alg) == ELT_TANH ? tanh(x) \
    : (alg) == ELT_LOGISTIC ? 1.0f / (1.0f + exp(-(x))) \
    : (alg) == ELT_SWISH ? (x) / (1.0f + exp(-(alpha) * (x))) \
    : (alg) == ELT_LINEAR ? (alpha) * (x) + (beta) \
    : (alg) == ELT_CLIP ? ((x) < (alpha) ? (alpha) : (x) > (beta) ? (beta) : (x)) \
    : (alg) == ELT_EXP ? exp(x) \
    : (alg) == ELT_LOG ? log(x) \
    : (alg) == ELT_SQRT ? sqrt(x) \
    : (alg) == ELT_SQUARE ? (x) * (x) \
    : (alg) == ELT_ABS ? fabs(x) \
    : (alg) == ELT_POW ? (alpha) * pow((x), (beta)) \
    : (alg) == ELT_SOFT_RELU ? ((alpha) * (x) < 88.72283172607421875f \
                                ? log1p(exp((alpha) * (x))) : (alpha) * (x)) / (alpha) \
    : (alg) == ELT_HARDSWISH ? (x) * HARDSIGMOID((x), (alpha), (beta)) \
    : (alg) == ELT_HARDSIGMOID ? HARDSIGMOID((x), (alpha), (beta)) \
    : (alg) == ELT_ELU ? ((x) > 0.0f ? (x) : (alpha) * expm1(x)) \
    : (alg) == ELT_ROUND ? rint(x) \
    : (x))
#define POST_OP(n, T, x, old) ((PO##n##_KIND) == PO_SUM ? (x) + (PO##n##_SCALE) * (old) \
                               : ELTWISE(PO##n##_ALG, (x), (T)(PO##n##_ALPHA), (T)(PO##n##_BETA)))

/* Only scalar and 8-wide types: no built-in may take a 16-wide vector (see igemm.cl). */
#if PO_COUNT == 1
#define APPLY_POST_OPS(T, x, old) x = POST_OP(0, T, x, old);
#elif PO_COUNT == 2
#define APPLY_POST_OPS(T, x, old) x = POST_OP(0, T, x, old); x = POST_OP(1, T, x, old);
#elif PO_COUNT == 3
#define APPLY_POST_OPS(T, x, old) x = POST_OP(0, T, x, old); x = POST_OP(1, T, x, old); \
                                  x = POST_OP(2, T, x, old);
#else
#define APPLY_POST_OPS(T, x, old) x = POST_OP(0, T, x, old); x = POST_OP(1, T, x, old); \
                                  x = POST_OP(2, T, x, old); x = POST_OP(3, T, x, old);
#endif
#define DEFINE_POST_OPS(T) static T post_ops_##T(T x, T old) { APPLY_POST_OPS(T, x, old) return x; }
DEFINE_POST_OPS(float)
DEFINE_POST_OPS(float8)
#endif
