/* The binary primitive: dst = BIN_OP(src0, src1), src1 broadcast by zero strides, then
 * the post-ops. max/min give a NaN of either side; comparisons give 1.0f or 0.0f. */

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

__kernel void binary(__global const float *src0, __global const float *src1,
                     __global float *dst) {
    const ulong i = get_global_id(0);
    if (i >= WALK_TOTAL) return;
    long a, b, d;
    walk(i, &a, &b, &d);
    float v = BINARY(BIN_OP, src0[a], src1[b]);
#if PO_COUNT > 0
    v = post_ops_float(v, WITH_SUM ? dst[d] : 0.0f);
#endif
    dst[d] = v;
}
