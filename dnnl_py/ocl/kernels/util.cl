/* The engine's utility kernels, built once per engine (and kept in its cache blob).
 *
 * copy_strided: dst[dst_off + off_d(i)] = src[src_off + off_s(i)] over a box of up to
 * 12 dims; `plan` holds the box, then the source strides, then the destination strides,
 * 12 slots each, innermost dim first. A work-item copies a run of up to RUN elements of
 * the innermost dim: the index arithmetic (two 64-bit divisions per dim) then costs once
 * a run, not once an element. Reorders and the GEMM's weight packing run on it. */

#define RUN 16  /* elements of the innermost dim per work-item */

__kernel void copy_strided(__global const float *restrict src, __global float *restrict dst,
                           __global const long *restrict plan, const int ndims,
                           const long total, const long src_off, const long dst_off) {
    const long i = get_global_id(0);  /* over (outer dims, runs of the innermost one) */
    if (i >= total) return;
    const long inner = plan[0], runs = (inner + RUN - 1) / RUN, first = i % runs * RUN;
    long rest = i / runs, s = src_off + first * plan[12], d = dst_off + first * plan[24];
    for (int j = 1; j < ndims; ++j) {
        const long dim = plan[j], idx = rest % dim;
        rest /= dim;
        s += idx * plan[12 + j];
        d += idx * plan[24 + j];
    }
    const int n = (int)min(inner - first, (long)RUN);
    for (int e = 0; e < n; ++e) dst[d + e * plan[24]] = src[s + e * plan[12]];
}
