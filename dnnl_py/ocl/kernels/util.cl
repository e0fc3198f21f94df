/* The engine's utility kernels, built once per engine (and kept in its cache blob).
 *
 * copy_strided: dst[dst_off + off_d(i)] = src[src_off + off_s(i)] over a box of up to
 * 12 dims; `plan` holds the box, then the source strides, then the destination strides,
 * 12 slots each, innermost dim first. Reorders run on it. */

__kernel void copy_strided(__global const float *restrict src, __global float *restrict dst,
                           __global const long *restrict plan, const int ndims,
                           const long total, const long src_off, const long dst_off) {
    const long i = get_global_id(0);
    if (i >= total) return;
    long rest = i, s = src_off, d = dst_off;
    for (int j = 0; j < ndims; ++j) {
        const long dim = plan[j], idx = rest % dim;
        rest /= dim;
        s += idx * plan[12 + j];
        d += idx * plan[24 + j];
    }
    dst[d] = src[s];
}
