/* Post-ops fused into a kernel's store, specialised by -D macros (dnnl_py/ocl/gemm.py):
 * PO_COUNT of them, slot n described by POn_KIND (PO_SUM, PO_BINARY or eltwise), POn_ALG
 * (ELT_*, BIN_*), POn_ALPHA, POn_BETA, POn_SCALE. post_ops_T(x, old, bin) applies them to
 * a value x of type T whose destination held `old` (for sum), bin[n] being binary post-op
 * n's src1 value (binary_values); a kernel prepends this file to its own source.
 * NaN goes through every algorithm, as in oneDNN: clip compares (fmin/fmax drop NaN).
 * gelu_tanh as x * logistic(2u), the same function as 0.5x(1 + tanh(u)): no 1 + tanh(u)
 * cancelling for negative x, and gelu(-inf) = -inf * 0 = NaN as oneDNN's formula gives. */

/* dst = BINARY(op, x, y): the binary primitive's op (binary.cl) and binary post-ops'.
 * max/min give a NaN of either side; comparisons give 1.0f or 0.0f (scalars only). */
#define BINARY(op, x, y) ( \
      (op) == BIN_ADD ? (x) + (y) \
    : (op) == BIN_SUB ? (x) - (y) \
    : (op) == BIN_MUL ? (x) * (y) \
    : (op) == BIN_DIV ? (x) / (y) \
    : (op) == BIN_MAX ? ((x) > (y) || isnan(x) ? (x) : (y)) \
    : (op) == BIN_MIN ? ((x) < (y) || isnan(x) ? (x) : (y)) \
    : (op) == BIN_GE ? ((x) >= (y) ? 1.0f : 0.0f) \
    : (op) == BIN_GT ? ((x) > (y) ? 1.0f : 0.0f) \
    : (op) == BIN_LE ? ((x) <= (y) ? 1.0f : 0.0f) \
    : (op) == BIN_LT ? ((x) < (y) ? 1.0f : 0.0f) \
    : (op) == BIN_EQ ? ((x) == (y) ? 1.0f : 0.0f) \
    : ((x) != (y) ? 1.0f : 0.0f))

/* The conv/matmul kernels' binary post-op sources: one argument per post-op slot, NULL
 * for the slots that are not binary. */
#define PO_PARAMS __global const float *po0, __global const float *po1, \
                  __global const float *po2, __global const float *po3
#define PO_PASS po0, po1, po2, po3

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
#if WITH_BINARY  /* BINARY's comparisons are scalar: then only post_ops_float exists */
#define BINARY_OP(n, x, bin) (PO##n##_KIND) == PO_BINARY ? BINARY(PO##n##_ALG, (x), (bin)[n]) :
#else
#define BINARY_OP(n, x, bin)
#endif
#define POST_OP(n, T, x, old, bin) ((PO##n##_KIND) == PO_SUM ? (x) + (PO##n##_SCALE) * (old) \
    : BINARY_OP(n, x, bin) ELTWISE(PO##n##_ALG, (x), (T)(PO##n##_ALPHA), (T)(PO##n##_BETA)))

/* Only scalar and 8-wide types: no built-in may take a 16-wide vector (see igemm.cl). */
#if PO_COUNT == 1
#define APPLY_POST_OPS(T, x, old, b) x = POST_OP(0, T, x, old, b);
#elif PO_COUNT == 2
#define APPLY_POST_OPS(T, x, old, b) x = POST_OP(0, T, x, old, b); x = POST_OP(1, T, x, old, b);
#elif PO_COUNT == 3
#define APPLY_POST_OPS(T, x, old, b) x = POST_OP(0, T, x, old, b); x = POST_OP(1, T, x, old, b); \
                                     x = POST_OP(2, T, x, old, b);
#else
#define APPLY_POST_OPS(T, x, old, b) x = POST_OP(0, T, x, old, b); x = POST_OP(1, T, x, old, b); \
                                     x = POST_OP(2, T, x, old, b); x = POST_OP(3, T, x, old, b);
#endif
#define DEFINE_POST_OPS(T) \
    static T post_ops_##T(T x, T old, const T *bin) { APPLY_POST_OPS(T, x, old, bin) return x; }
DEFINE_POST_OPS(float)
#if !WITH_BINARY
DEFINE_POST_OPS(float8)
#endif
#endif

#if WITH_BINARY
/* Binary post-op sources, addressed as the conv/matmul kernels address dst (problem.cl
 * comes first): src1 of post-op n at BATCH_OFF(b, POn) + n * POn_N + od * POn_D + oh *
 * POn_H + ow * POn_W + col * POn_C, a stride 0 where src1 broadcasts.
 * binary_rows: each binary post-op's offset of output row (n, od, oh, ow) in batch b. */
#define PO_ROW(k) BATCH_OFF(b, PO##k) + n * (long)PO##k##_N + od * (long)PO##k##_D \
                  + oh * (long)PO##k##_H + ow * (long)PO##k##_W
static void binary_rows(long *row, long b, int n, int od, int oh, int ow) {
#if PO_COUNT > 0 && PO0_KIND == PO_BINARY
    row[0] = PO_ROW(0);
#endif
#if PO_COUNT > 1 && PO1_KIND == PO_BINARY
    row[1] = PO_ROW(1);
#endif
#if PO_COUNT > 2 && PO2_KIND == PO_BINARY
    row[2] = PO_ROW(2);
#endif
#if PO_COUNT > 3 && PO3_KIND == PO_BINARY
    row[3] = PO_ROW(3);
#endif
}

/* bin[k] = binary post-op k's src1 value at column col of the rows binary_rows gave. */
static void binary_values(float *bin, PO_PARAMS, const long *row, int col) {
#if PO_COUNT > 0 && PO0_KIND == PO_BINARY
    bin[0] = po0[row[0] + col * (long)PO0_C];
#endif
#if PO_COUNT > 1 && PO1_KIND == PO_BINARY
    bin[1] = po1[row[1] + col * (long)PO1_C];
#endif
#if PO_COUNT > 2 && PO2_KIND == PO_BINARY
    bin[2] = po2[row[2] + col * (long)PO2_C];
#endif
#if PO_COUNT > 3 && PO3_KIND == PO_BINARY
    bin[3] = po3[row[3] + col * (long)PO3_C];
#endif
}
#endif
