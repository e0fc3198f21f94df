/* The eltwise primitive: the algorithm is post-op 0 (post_ops.cl), the user's post-ops
 * follow. src may be dst (in place): each work-item reads its element before writing it. */

__kernel void eltwise_fwd(__global const float *src, __global float *dst) {
    const ulong i = get_global_id(0);
    if (i >= WALK_TOTAL) return;
    long s, unused, d;
    walk(i, &s, &unused, &d);
    dst[d] = post_ops_float(src[s], WITH_SUM ? dst[d] : 0.0f, 0);
}
