/* The binary operations, one vectorised loop each: what the binary primitive (binary.c)
 * and binary post-ops (epilogue.c) compute. */
#ifndef DNNL_BINARY_OP_H
#define DNNL_BINARY_OP_H
#include "dnnl_kernels.h"

/* max/min give a NaN of either side, as numpy's maximum/minimum; comparisons are
 * false on NaN (ne true). bs is a constant after inlining: 1, or 0 for a src1 that is
 * one value over the segment (a per-channel add), loaded once instead of copied out. */
#define BINARY_LOOP(EXPR) \
    { for (int64_t i = 0; i < m; ++i) { const float x = a[i], y = b[i * bs]; v[i] = (EXPR); } } break;

/* v[i] = op(a[i], b[i * bs]); v may be a. Always inlined: it must be compiled for the ISA
 * of each clone of its caller. */
static inline __attribute__((always_inline)) void binary_segment(int op, int64_t m, const float *a,
                                                                  const float *b, int64_t bs,
                                                                  float *v) {
    switch (op) {
    case DNNL_BIN_ADD: BINARY_LOOP(x + y)
    case DNNL_BIN_SUB: BINARY_LOOP(x - y)
    case DNNL_BIN_MUL: BINARY_LOOP(x * y)
    case DNNL_BIN_DIV: BINARY_LOOP(x / y)
    case DNNL_BIN_MAX: BINARY_LOOP(x > y || x != x ? x : y)
    case DNNL_BIN_MIN: BINARY_LOOP(x < y || x != x ? x : y)
    case DNNL_BIN_GE: BINARY_LOOP(x >= y ? 1.0f : 0.0f)
    case DNNL_BIN_GT: BINARY_LOOP(x > y ? 1.0f : 0.0f)
    case DNNL_BIN_LE: BINARY_LOOP(x <= y ? 1.0f : 0.0f)
    case DNNL_BIN_LT: BINARY_LOOP(x < y ? 1.0f : 0.0f)
    case DNNL_BIN_EQ: BINARY_LOOP(x == y ? 1.0f : 0.0f)
    case DNNL_BIN_NE: BINARY_LOOP(x != y ? 1.0f : 0.0f)
    }
}
#undef BINARY_LOOP
#endif
