/* The binary primitive: dst = BIN_OP(src0, src1) (post_ops.cl's BINARY), src1 broadcast
 * by zero strides, then the post-ops. */

__kernel void binary(__global const float *src0, __global const float *src1,
                     __global float *dst) {
    const ulong i = get_global_id(0);
    if (i >= WALK_TOTAL) return;
    long a, b, d;
    walk(i, &a, &b, &d);
    float v = BINARY(BIN_OP, src0[a], src1[b]);
#if PO_COUNT > 0
    v = post_ops_float(v, WITH_SUM ? dst[d] : 0.0f, 0);
#endif
    dst[d] = v;
}
