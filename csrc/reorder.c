/* Strided copy: the reorder kernel. Blocked layouts reach it as plain strided views
 * over split dimensions (see dnnl_py/cpu/reorder.py). */
#include "dnnl_kernels.h"
#include "isa.h"

DNNL_MULTIVERSION
static void copy_inner(int ndims, const int64_t *dims, const float *src, const int64_t *ss,
                       float *dst, const int64_t *ds) {
    if (ndims == 1) {
        const int64_t n = dims[0], a = ss[0], b = ds[0];
        if (a == 1 && b == 1) for (int64_t i = 0; i < n; ++i) dst[i] = src[i];
        else for (int64_t i = 0; i < n; ++i) dst[i * b] = src[i * a];
        return;
    }
    for (int64_t i = 0; i < dims[0]; ++i)
        copy_inner(ndims - 1, dims + 1, src + i * ss[0], ss + 1, dst + i * ds[0], ds + 1);
}

void dnnl_copy_strided(int ndims, const int64_t *dims, const float *src,
                       const int64_t *src_s, float *dst, const int64_t *dst_s) {
    for (int d = 0; d < ndims; ++d)
        if (dims[d] == 0) return;
    if (ndims == 0) { dst[0] = src[0]; return; }
    if (ndims == 1) { copy_inner(1, dims, src, src_s, dst, dst_s); return; }
#pragma omp parallel for schedule(static) if (dims[0] > 1)
    for (int64_t i = 0; i < dims[0]; ++i)
        copy_inner(ndims - 1, dims + 1, src + i * src_s[0], src_s + 1, dst + i * dst_s[0],
                   dst_s + 1);
}
